using System.Globalization;
using System.Text;
using System.Text.Json;
using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using OfflineTasks.Alerts;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The fleet's operations stream (<c>/offlinetasks/events</c>): closures, reopenings, releases, switches, alerts,
/// deadline breaches and configuration reloads, newest first, the same lines that went to the log and to chat;
/// <c>?before=</c> pages back. <see cref="JsonPath"/> serves the same events as JSON.
/// </summary>
internal sealed class EventsPage : RazorPage
{
    public const string Path = "/offlinetasks/events";

    /// <summary>The stream as JSON lines' array: each event's stable shape plus its id.</summary>
    public const string JsonPath = "/offlinetasks/events.json";

    private const int PageSize = 100;

    public override void Execute()
    {
        Layout = new LayoutPage("Events");
        WriteLiteral("<div class=\"row\"><div class=\"col-md-12\"><h1 class=\"page-header\">Events</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral(ShardsPage.NoGate);
        }
        else
        {
            var before = long.TryParse(Query("before"), NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? b : (long?)null;
            var events = binding.Store.GetEventsAsync(null, PageSize, before).GetAwaiter().GetResult();
            WriteLiteral(EventList.Render(events, binding.Time.GetUtcNow(), Url.To, withShard: true));
            if (events.Count == PageSize)
            {
                WriteLiteral($"<p><a class=\"btn btn-default\" href=\"{E(Url.To(Path))}?before={events[^1].Id.ToString(CultureInfo.InvariantCulture)}\">Older</a></p>");
            }

            WriteLiteral($"<p class=\"text-muted\"><small>The same events as JSON: <a href=\"{E(Url.To(JsonPath))}\">{E(JsonPath)}</a>.</small></p>");
        }

        WriteLiteral("</div></div>");
    }
}

/// <summary>Renders events of the operations stream as a table.</summary>
internal static class EventList
{
    public static string Render(IReadOnlyList<OperationsEvent> events, DateTimeOffset now, Func<string, string> url, bool withShard)
    {
        if (events.Count == 0)
        {
            return "<div class=\"alert alert-info\">No events yet.</div>";
        }

        var html = new StringBuilder("<table class=\"table table-condensed offlinetasks-events\"><thead><tr><th>When</th><th>Kind</th>");
        if (withShard)
        {
            html.Append("<th>Shard</th>");
        }

        html.Append("<th>What</th></tr></thead><tbody>");
        foreach (var e in events)
        {
            html.Append("<tr data-kind=\"").Append(E(e.Kind)).Append("\"><td class=\"text-nowrap\">").Append(When(e.At, now)).Append("</td><td><span class=\"label label-")
                .Append(Style(e)).Append("\">").Append(E(e.Kind)).Append("</span></td>");
            if (withShard)
            {
                html.Append("<td>");
                if (e.Shard is { } shard)
                {
                    html.Append("<a href=\"").Append(E(url(ShardPage.PathFor(shard)))).Append("\">").Append(E(shard)).Append("</a>");
                }

                html.Append("</td>");
            }

            html.Append("<td class=\"offlinetasks-event-text\">").Append(E(e.Text)).Append("</td></tr>");
        }

        return html.Append("</tbody></table>").ToString();
    }

    private static string Style(OperationsEvent e) => (e.Kind, State(e)) switch
    {
        ("shard", "closed") or ("alert", "firing") or ("deadline", _) => "danger",
        ("shard", "light_only") or ("switch", _) => "warning",
        ("shard", _) or ("release", _) or ("alert", "resolved") => "success",
        _ => "default",
    };

    private static string? State(OperationsEvent e)
    {
        using var doc = JsonDocument.Parse(e.Json);
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String
            ? state.GetString()
            : null;
    }
}

/// <summary>Serves the operations stream as JSON (<c>?shard=</c>, <c>?before=</c>, <c>?limit=</c> up to 1,000).</summary>
internal sealed class EventsJsonDispatcher : IDashboardDispatcher
{
    public async Task Dispatch(DashboardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (GateBinding.For(context.Storage) is not { } binding)
        {
            context.Response.StatusCode = 503;
            return;
        }

        var shard = context.Request.GetQuery("shard");
        var before = long.TryParse(context.Request.GetQuery("before"), NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? b : (long?)null;
        var limit = int.TryParse(context.Request.GetQuery("limit"), NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 1000) : 100;
        var events = await binding.Store.GetEventsAsync(string.IsNullOrEmpty(shard) ? null : shard, limit, before).ConfigureAwait(false);
        var json = new StringBuilder("[");
        foreach (var e in events)
        {
            if (json.Length > 1)
            {
                json.Append(',');
            }

            // The stored body is an object; the id goes in front of its fields.
            json.Append("{\"id\":").Append(e.Id.ToString(CultureInfo.InvariantCulture)).Append(e.Json.Length > 2 ? "," + e.Json[1..] : "}");
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json.Append(']').ToString()).ConfigureAwait(false);
    }
}
