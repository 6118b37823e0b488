using System.Net;
using Hangfire.Dashboard;
using OfflineTasks.Hangfire;

namespace OfflineTasks.Dashboard;

/// <summary>
/// "Why isn't this job running?" on a parked job's page: its shard's state now, as this process's gate decides it
/// (the job's history says why it was parked then), with a link to the shard's page.
/// </summary>
internal static class ParkedJobPanel
{
    public const int Order = 100;

    public static NonEscapedString Render(JobDetailsRendererDto dto)
    {
        ArgumentNullException.ThrowIfNull(dto);
        var current = dto.JobDetails.History?.FirstOrDefault();
        if (current is null || !string.Equals(current.StateName, ParkedState.StateName, StringComparison.OrdinalIgnoreCase)
            || current.Data is null || !current.Data.TryGetValue("Shard", out var shard))
        {
            return new NonEscapedString("");
        }

        var light = current.Data.TryGetValue("Light", out var l) && l == "true";
        var link = $"<a href=\"{WebUtility.HtmlEncode(dto.Page.Url.To(ShardPage.PathFor(shard)))}\">{WebUtility.HtmlEncode(shard)}</a>";
        var decision = GateBinding.For(dto.Page.Storage)?.Gate.Check(shard, light);
        var now = decision switch
        {
            null => "unknown here: this process runs no OfflineTasks gate for this storage.",
            { IsOpen: true } => "open again: the releaser moves this job back to its queue shortly (at the pace of the reopening ramp).",
            { } closed => WebUtility.HtmlEncode(closed.Reason ?? "closed") + ". The job stays parked until the shard reopens.",
        };

        return new NonEscapedString(
            $"<h3 class=\"offlinetasks-waiting\">Waiting for shard {WebUtility.HtmlEncode(shard)}</h3><div class=\"alert alert-info\">Shard {link} now: {now}"
            + "<br><small>Requeue while the shard is closed parks the job again; Delete takes it out of the shard's parked jobs.</small></div>"
            + ReloadOnReparked);
    }

    /// <summary>
    /// Hangfire's Requeue button reloads the page only when the job ended up Enqueued; a parked job whose shard is still
    /// closed is parked again (Hangfire answers 422), and the button would spin for ever. This reloads the page then, so
    /// the operator sees the new Parked entry and why.
    /// </summary>
    private const string ReloadOnReparked = """
        <script>
        window.addEventListener('load', function () {
          if (!window.jQuery) { return; }
          window.jQuery(document).ajaxError(function (event, xhr, settings) {
            if (xhr.status === 422 && /\/jobs\/actions\/requeue\//.test(settings.url || '')) { window.location.reload(); }
          });
        });
        </script>
        """;
}
