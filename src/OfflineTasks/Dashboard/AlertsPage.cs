using System.Globalization;
using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using OfflineTasks.Alerts;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The built-in alerts (<c>/offlinetasks/alerts</c>): each rule, its value at the last sample against its high- and
/// low-water marks, its state (ok, pending, firing, resolving) and since when, and when it last fired and resolved.
/// </summary>
internal sealed class AlertsPage : RazorPage
{
    public const string Path = "/offlinetasks/alerts";

    public override void Execute()
    {
        Layout = new LayoutPage("Alerts");
        WriteLiteral("<div class=\"row\"><div class=\"col-md-12\"><h1 class=\"page-header\">Alerts</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral(ShardsPage.NoGate + "</div></div>");
            return;
        }

        var rules = binding.Metrics.AlertRuleSource?.Invoke() ?? [];
        var sample = binding.Metrics.FleetSample;
        var now = binding.Time.GetUtcNow();
        if (rules.Count == 0)
        {
            WriteLiteral("<div class=\"alert alert-info\">No alert rule is configured (OfflineTasks:Telemetry:Alerts).</div></div></div>");
            return;
        }

        WriteLiteral("<table class=\"table table-condensed offlinetasks-alerts\"><thead><tr><th>Rule</th><th>Watches</th><th>Value</th><th>High / low</th><th>For</th><th>State</th><th>Since</th><th>Last fired</th><th>Last resolved</th></tr></thead><tbody>");
        foreach (var rule in rules)
        {
            var state = sample.Alerts.GetValueOrDefault(rule.Name);
            var status = state?.Status ?? AlertStatus.Ok;
            var style = status switch { AlertStatus.Firing => "danger", AlertStatus.Pending or AlertStatus.Resolving => "warning", _ => "success" };
            var subject = rule.Kind == AlertKind.ShardParked
                ? $"<a href=\"{E(Url.To(ShardPage.PathFor(rule.Subject)))}\">{E(rule.Describe())}</a>"
                : E(rule.Describe());
            WriteLiteral($"<tr data-rule=\"{E(rule.Name)}\"><td><strong>{E(rule.Name)}</strong></td><td>{subject}</td>");
            WriteLiteral($"<td>{(state?.Value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : "–")}</td>");
            WriteLiteral(string.Create(CultureInfo.InvariantCulture, $"<td>{rule.High:0.##} / {rule.Low:0.##}</td><td>{rule.For.TotalSeconds:0.#} s</td>"));
            WriteLiteral($"<td><span class=\"label label-{style} offlinetasks-alert-state\">{status.ToString().ToLowerInvariant()}</span></td>");
            WriteLiteral($"<td>{(state is null ? "" : When(state.Since, now))}</td><td>{(state?.FiredAt is { } fired ? When(fired, now) : "never")}</td>");
            WriteLiteral($"<td>{(state?.ResolvedAt is { } resolved ? When(resolved, now) : "never")}</td></tr>");
        }

        WriteLiteral("</tbody></table>");
        WriteLiteral($"<p class=\"text-muted\"><small>As of the last sample{(sample.SampledAt is { } at ? ", " + E(Utc(at)) : "")}. Firing and resolving go to the <a href=\"{E(Url.To(EventsPage.Path))}\">event stream</a> and the chat webhook.</small></p>");
        WriteLiteral("</div></div>");
    }
}
