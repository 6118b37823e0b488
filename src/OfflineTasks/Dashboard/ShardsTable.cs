using System.Globalization;
using System.Text;
using System.Text.Json;
using Hangfire;
using Hangfire.Storage;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The body of the Shards page: for each shard its mode and reason, for how long, what still holds it, each master's
/// signals against their marks with the sample's age, and its parked jobs. Rendered from this process's copy of the
/// shard states (no read of the shard table) and two set counts per shard; every text from outside is HTML-encoded.
/// </summary>
internal static class ShardsTable
{
    /// <param name="binding">The gate of this process.</param>
    /// <param name="storage">Hangfire's storage (the parked sets).</param>
    /// <param name="url">Makes a dashboard-relative path absolute (<c>UrlHelper.To</c>).</param>
    /// <param name="only">Only this shard (its own page); null for all.</param>
    public static string Render(GateBinding binding, JobStorage storage, Func<string, string> url, string? only = null)
    {
        var now = binding.Time.GetUtcNow();
        var settings = binding.Gate.Settings;
        var view = binding.Gate.Snapshot;
        var names = settings.Shards.Keys.Union(view.States.Keys).Where(n => only is null || n == only).Order(StringComparer.Ordinal).ToList();
        var html = new StringBuilder();
        if (names.Count == 0)
        {
            html.Append(only is null
                ? "<div class=\"alert alert-info\">No shard is configured (OfflineTasks:Gate:Shards).</div>"
                : $"<div class=\"alert alert-warning\">Shard {E(only)} is neither configured nor known to the prober.</div>");
            return html.ToString();
        }

        using var connection = storage.GetConnection();
        html.Append("<table class=\"table table-condensed offlinetasks-shards\"><thead><tr><th>Shard</th><th>Mode</th><th>Since</th><th>Why</th><th>Masters</th><th>Parked</th></tr></thead><tbody>");
        foreach (var name in names)
        {
            view.States.TryGetValue(name, out var state);
            settings.Shards.TryGetValue(name, out var shard);
            var decision = binding.Gate.Check(name);
            html.Append("<tr data-shard=\"").Append(E(name)).Append("\"><td><strong><a href=\"").Append(E(url(ShardPage.PathFor(name)))).Append("\">")
                .Append(E(name)).Append("</a></strong></td>");
            html.Append("<td>").Append(Mode(state, decision)).Append("</td>");
            html.Append("<td>").Append(state is null ? "" : Age(now - state.ChangedAt)).Append("</td>");
            html.Append("<td class=\"offlinetasks-reason\">").Append(E(decision.IsOpen ? state?.Reason ?? "" : decision.Reason ?? ""));
            if (state?.Holding is { Length: > 0 } holding && !decision.IsOpen)
            {
                html.Append("<br><small class=\"text-muted\">held by: ").Append(E(holding)).Append("</small>");
            }

            html.Append("</td><td>").Append(Masters(state, shard, now)).Append("</td>");
            html.Append("<td class=\"offlinetasks-parked\"><a href=\"").Append(E(url(ParkedJobsPage.PathFor(name)))).Append("\">")
                .Append(Parked(connection, name).ToString(CultureInfo.InvariantCulture)).Append("</a></td></tr>");
        }

        html.Append("</tbody></table>");
        html.Append("<p class=\"text-muted\"><small>As of ").Append(E(now.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)))
            .Append(" UTC; refreshed every 2 s.</small></p>");
        return html.ToString();
    }

    private static string Mode(ShardState? state, ShardDecision decision)
    {
        var forced = state?.ReasonKind == ShardSwitch.Kind;
        var (text, style) = decision.IsOpen
            ? (forced ? "forced open" : "open", "success")
            : decision.Mode == ShardMode.LightOnly ? ("light-only", "warning") : (forced ? "forced closed" : "closed", "danger");
        return $"<span class=\"label label-{style} offlinetasks-mode\">{text}</span>";
    }

    private static string Masters(ShardState? state, ShardSettings? shard, DateTimeOffset now)
    {
        if (state is null || string.IsNullOrEmpty(state.Signals) || state.Signals == "{}")
        {
            return "<span class=\"text-muted\">not probed yet</span>";
        }

        var html = new StringBuilder("<table class=\"table table-condensed\" style=\"margin:0\">");
        using var doc = JsonDocument.Parse(state.Signals);
        foreach (var master in doc.RootElement.EnumerateObject())
        {
            var m = master.Value;
            html.Append("<tr data-master=\"").Append(E(master.Name)).Append("\"><td class=\"text-nowrap\">").Append(E(master.Name)).Append("</td><td>");
            if (m.TryGetProperty("reachable", out var reachable) && reachable.ValueKind == JsonValueKind.False)
            {
                html.Append("<span class=\"text-danger\">unreachable</span> ").Append(E(m.TryGetProperty("error", out var error) ? error.GetString() ?? "" : ""));
            }
            else
            {
                var marks = shard?.Thresholds;
                html.Append(Signal("threads running", m, "threads_running", marks?.ThreadsRunning, "0"));
                html.Append(Signal("connections", m, "connections_ratio", marks?.ConnectionsRatio, "0.00"));
                html.Append(Signal("lag s", m, "lag_seconds", marks?.ReplicationLagSeconds, "0"));
                var replicating = m.TryGetProperty("io_running", out var io) && io.ValueKind == JsonValueKind.True
                    && m.TryGetProperty("sql_running", out var sql) && sql.ValueKind == JsonValueKind.True;
                html.Append(replicating ? "replicating" : "<span class=\"text-danger\">replication stopped</span>");
            }

            var age = m.TryGetProperty("sampled_at", out var at) && at.TryGetDateTimeOffset(out var sampled) ? Age(now - sampled) : "?";
            html.Append("</td><td class=\"text-muted\">sample ").Append(age).Append(" old</td></tr>");
        }

        return html.Append("</table>").ToString();
    }

    private static string Signal(string label, JsonElement master, string property, Mark? mark, string format)
    {
        if (!master.TryGetProperty(property, out var value) || value.ValueKind != JsonValueKind.Number)
        {
            return $"{label} – · ";
        }

        var v = value.GetDouble();
        var style = mark is { } k ? v >= k.High ? "text-danger" : v >= k.Low ? "text-warning" : "" : "";
        var marks = mark is { } mk ? string.Create(CultureInfo.InvariantCulture, $" <small class=\"text-muted\">(high {mk.High.ToString(format, CultureInfo.InvariantCulture)}, low {mk.Low.ToString(format, CultureInfo.InvariantCulture)})</small>") : "";
        return $"{label} <span class=\"{style}\">{v.ToString(format, CultureInfo.InvariantCulture)}</span>{marks} · ";
    }

    /// <summary>How many jobs of <paramref name="shard"/> are parked (both sets).</summary>
    public static long Parked(IStorageConnection connection, string shard) =>
        connection is JobStorageConnection c ? c.GetSetCount(ParkedState.SetKey(shard, false)) + c.GetSetCount(ParkedState.SetKey(shard, true)) : 0;


}
