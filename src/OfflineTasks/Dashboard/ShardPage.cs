using System.Globalization;
using System.Text;
using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// One shard's page (<c>/offlinetasks/shard/{name}</c>): its state (refreshed every 2 s), a chart of its last hour,
/// the operator switch (force closed, force open, clear; <see cref="SwitchCommand"/>), the switches' audit log, and
/// its events from the operations stream.
/// </summary>
internal sealed class ShardPage : RazorPage
{
    public const string PathTemplate = "/offlinetasks/shard/(?<shard>[^/]+)";

    private static readonly TimeSpan ChartSpan = TimeSpan.FromHours(1);

    public static string PathFor(string shard) => "/offlinetasks/shard/" + Uri.EscapeDataString(shard);

    public override void Execute()
    {
        var shard = Uri.UnescapeDataString(RequestPath[(RequestPath.LastIndexOf('/') + 1)..]);
        Layout = new LayoutPage("Shard " + shard);
        WriteLiteral("<div class=\"row\"><div class=\"col-md-12\">");
        WriteLiteral($"<ol class=\"breadcrumb\"><li><a href=\"{E(Url.To(ShardsPage.Path))}\">Shards</a></li><li class=\"active\">{E(shard)}</li></ol>");
        WriteLiteral($"<h1 class=\"page-header\">Shard {E(shard)}</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral(ShardsPage.NoGate + "</div></div>");
            return;
        }

        if (Query("error") is { Length: > 0 } error)
        {
            WriteLiteral($"<div class=\"alert alert-danger offlinetasks-error\">Nothing changed: {E(error)}</div>");
        }
        else if (Query("done") is { Length: > 0 } done)
        {
            WriteLiteral($"<div class=\"alert alert-success offlinetasks-done\">{E(done)}</div>");
        }

        var now = binding.Time.GetUtcNow();
        WriteLiteral(ShardsPage.LiveTable(Url.To(ShardsPage.TablePath) + "?shard=" + Uri.EscapeDataString(shard), ShardsTable.Render(binding, Storage, Url.To, shard)));

        WriteLiteral("<h3>Recent past</h3>");
        var history = binding.Store.GetShardHistoryAsync(shard, now - ChartSpan, CancellationToken.None).GetAwaiter().GetResult();
        var from = history.Count > 0 && history[0].At > now - ChartSpan ? history[0].At : now - ChartSpan; // the last hour, or since history began
        WriteLiteral(ShardChart.Render(history, binding.Gate.Settings.Shards.GetValueOrDefault(shard)?.Thresholds, from, now));

        WriteLiteral("<h3>Switch</h3>");
        var current = binding.Store.GetSwitchesAsync().GetAwaiter().GetResult().FirstOrDefault(s => s.Shard == shard);
        WriteLiteral(SwitchForms(shard, current, now));

        WriteLiteral("<h3>Switch audit</h3>");
        WriteLiteral(Audit(binding.Store.GetSwitchAuditAsync(shard, 20).GetAwaiter().GetResult(), now));

        WriteLiteral("<h3>Events</h3>");
        var events = binding.Store.GetEventsAsync(shard, 50).GetAwaiter().GetResult();
        WriteLiteral(EventList.Render(events, now, Url.To, withShard: false));
        WriteLiteral($"<p><a href=\"{E(Url.To(EventsJsonPath(shard)))}\">These events as JSON</a></p>");
        WriteLiteral("</div></div>");
    }

    private static string EventsJsonPath(string shard) => EventsPage.JsonPath + "?shard=" + Uri.EscapeDataString(shard);

    private string SwitchForms(string shard, ShardSwitch? current, DateTimeOffset now)
    {
        var html = new StringBuilder();
        if (current is not null)
        {
            html.Append("<div class=\"alert alert-warning offlinetasks-switch\">Forced ").Append(current.Mode == ShardMode.Open ? "open" : "closed")
                .Append(" by ").Append(E(current.Actor)).Append(' ').Append(When(current.SetAt, now))
                .Append(current.Until is { } until ? $", until {E(Utc(until))} (in {Age(until - now)})" : ", until cleared")
                .Append(": ").Append(E(current.Reason)).Append("</div>");
        }
        else
        {
            html.Append("<p class=\"text-muted\">No switch: the gate decides from the masters' signals.</p>");
        }

        if (IsReadOnly)
        {
            return html.Append("<p class=\"text-muted\">This dashboard is read-only.</p>").ToString();
        }

        var action = E(Url.To(SwitchCommand.PathFor(shard)));
        var token = $"<input type=\"hidden\" name=\"__RequestVerificationToken\" value=\"{E(Context.AntiforgeryToken)}\">";
        html.Append("<form method=\"post\" class=\"form-inline offlinetasks-switch-form\" action=\"").Append(action).Append("\">").Append(token)
            .Append("<div class=\"form-group\"><label for=\"offlinetasks-reason\">Reason</label> <input id=\"offlinetasks-reason\" name=\"reason\" class=\"form-control\" size=\"48\" maxlength=\"")
            .Append(ShardSwitch.MaxReason.ToString(CultureInfo.InvariantCulture)).Append("\" required placeholder=\"why (required)\"></div> ")
            .Append("<div class=\"form-group\"><label for=\"offlinetasks-minutes\">for</label> <input id=\"offlinetasks-minutes\" name=\"minutes\" class=\"form-control\" type=\"number\" min=\"1\" max=\"")
            .Append(SwitchCommand.MaxMinutes.ToString(CultureInfo.InvariantCulture)).Append("\" step=\"1\" placeholder=\"minutes\" style=\"width:7em\"> <small class=\"text-muted\">(empty: until cleared)</small></div> ")
            .Append("<button type=\"submit\" name=\"action\" value=\"force_closed\" class=\"btn btn-danger\">Force closed</button> ")
            .Append("<button type=\"submit\" name=\"action\" value=\"force_open\" class=\"btn btn-warning\">Force open</button></form>");
        if (current is not null)
        {
            html.Append("<form method=\"post\" class=\"form-inline offlinetasks-clear-form\" style=\"margin-top:8px\" action=\"").Append(action).Append("\">").Append(token)
                .Append("<input type=\"hidden\" name=\"action\" value=\"clear\"><input name=\"reason\" class=\"form-control\" size=\"48\" placeholder=\"why (optional)\"> ")
                .Append("<button type=\"submit\" class=\"btn btn-default\">Clear the switch</button></form>");
        }

        return html.ToString();
    }

    private static string Audit(IReadOnlyList<SwitchChange> changes, DateTimeOffset now)
    {
        if (changes.Count == 0)
        {
            return "<p class=\"text-muted\">No switch was ever set on this shard.</p>";
        }

        var html = new StringBuilder("<table class=\"table table-condensed offlinetasks-audit\"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Why</th><th>Until</th></tr></thead><tbody>");
        foreach (var c in changes)
        {
            html.Append("<tr><td class=\"text-nowrap\">").Append(When(c.At, now)).Append("</td><td>").Append(E(c.Actor)).Append("</td><td>").Append(E(c.Action.Replace('_', ' ')))
                .Append("</td><td>").Append(E(c.Reason)).Append("</td><td>").Append(c.Until is { } u ? E(Utc(u)) : "").Append("</td></tr>");
        }

        return html.Append("</tbody></table>").ToString();
    }
}
