using System.Globalization;
using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using Hangfire.Storage;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The parked jobs (<c>/offlinetasks/parked</c>, all shards; <c>/offlinetasks/parked/{shard}</c>, one), in the order
/// they were parked, with paging: Hangfire lists no job whose state is its own. Each links to its job page, whose
/// Requeue parks it again while its shard is closed, and whose Delete takes it out of its shard's set.
/// </summary>
internal sealed class ParkedJobsPage : RazorPage
{
    public const string Path = "/offlinetasks/parked";

    public const string PathTemplate = "/offlinetasks/parked(?:/(?<shard>[^/]+))?";

    public static string PathFor(string shard) => Path + "/" + Uri.EscapeDataString(shard);

    public override void Execute()
    {
        var slash = RequestPath.IndexOf("/parked/", StringComparison.OrdinalIgnoreCase);
        var only = slash >= 0 ? Uri.UnescapeDataString(RequestPath[(slash + "/parked/".Length)..]) : null;
        Layout = new LayoutPage(only is null ? "Parked jobs" : "Parked jobs of " + only);
        WriteLiteral("<div class=\"row\"><div class=\"col-md-3\">");
        WriteLiteral(Html.JobsSidebar().ToString());
        WriteLiteral("</div><div class=\"col-md-9\">");
        WriteLiteral($"<h1 class=\"page-header\">Parked jobs{(only is null ? "" : " of shard " + E(only))}</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral(ShardsPage.NoGate + "</div></div>");
            return;
        }

        var shards = only is not null ? [only] : binding.Gate.Settings.Shards.Keys.Union(binding.Gate.Snapshot.States.Keys).Order(StringComparer.Ordinal).ToList();
        using var connection = (JobStorageConnection)Storage.GetConnection();
        var sets = shards.SelectMany(s => new[] { (Shard: s, Key: ParkedState.SetKey(s, false)), (Shard: s, Key: ParkedState.SetKey(s, true)) })
            .Select(set => (set.Shard, set.Key, Count: connection.GetSetCount(set.Key))).Where(set => set.Count > 0).ToList();
        var total = sets.Sum(set => set.Count);
        var from = int.TryParse(Query("from"), NumberStyles.None, CultureInfo.InvariantCulture, out var f) ? f : 0;
        var perPage = int.TryParse(Query("count"), NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? Math.Clamp(c, 1, 5000) : 20;
        var pager = new Pager(from, perPage, total) { BasePageUrl = Url.To(only is null ? Path : PathFor(only)) };
        if (only is not null)
        {
            WriteLiteral($"<p><a href=\"{E(Url.To(ShardPage.PathFor(only)))}\">Shard {E(only)}</a> · <a href=\"{E(Url.To(Path))}\">All parked jobs</a></p>");
        }

        if (total == 0)
        {
            WriteLiteral("<div class=\"alert alert-info\">No parked jobs.</div></div></div>");
            return;
        }

        WriteLiteral("<div class=\"btn-toolbar\">");
        WriteLiteral(Html.PerPageSelector(pager).ToString());
        WriteLiteral("</div>");
        WriteLiteral("<table class=\"table table-condensed offlinetasks-parked-jobs\"><thead><tr><th>Id</th><th>Job</th><th>Shard</th><th>Queue</th><th>Parked</th><th>Times</th><th>Why</th></tr></thead><tbody>");
        var now = binding.Time.GetUtcNow();
        foreach (var (shard, member) in Page(connection, sets, pager.FromRecord, pager.RecordsPerPage))
        {
            var (jobId, queue) = ParkedState.ParseSetValue(member);
            var job = connection.GetJobData(jobId);
            var parked = ParkedState.FromStateData(connection.GetStateData(jobId));
            WriteLiteral($"<tr data-job=\"{E(jobId)}\"><td>{Html.JobIdLink(jobId)}</td><td>");
            WriteLiteral(job?.Job is { } j ? Html.JobNameLink(jobId, j).ToString() : "<em>" + E(job?.LoadException?.Message ?? "job data missing") + "</em>");
            WriteLiteral($"</td><td><a href=\"{E(Url.To(ShardPage.PathFor(shard)))}\">{E(shard)}</a>{(parked?.Light == true ? " <small>(light)</small>" : "")}</td><td>{E(queue)}</td>");
            WriteLiteral(parked is null
                ? "<td></td><td></td><td></td></tr>"
                : $"<td class=\"text-nowrap\">{When(new DateTimeOffset(DateTime.SpecifyKind(parked.FirstParkedAt, DateTimeKind.Utc)), now)}</td><td>{parked.ParkCount.ToString(CultureInfo.InvariantCulture)}</td><td>{E(parked.Reason)}</td></tr>");
        }

        WriteLiteral("</tbody></table>");
        WriteLiteral(Html.Paginator(pager).ToString());
        WriteLiteral("</div></div>");
    }

    /// <summary>The set members from <paramref name="from"/> on, across the sets in order, at most <paramref name="count"/>.</summary>
    private static IEnumerable<(string Shard, string Member)> Page(JobStorageConnection connection, List<(string Shard, string Key, long Count)> sets, int from, int count)
    {
        var skip = (long)from;
        foreach (var (shard, key, size) in sets)
        {
            if (count <= 0)
            {
                yield break;
            }

            if (skip >= size)
            {
                skip -= size;
                continue;
            }

            var take = (int)Math.Min(count, size - skip);
            foreach (var member in connection.GetRangeFromSet(key, (int)skip, (int)skip + take - 1))
            {
                yield return (shard, member);
            }

            count -= take;
            skip = 0;
        }
    }
}
