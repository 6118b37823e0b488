using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.States;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Host;

/// <summary>The host executable's <c>/metrics</c> (the official OpenTelemetry Prometheus exporter) and dashboard, over HTTP from a real host process on a real PostgreSQL.</summary>
public sealed partial class HostMetricsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Metrics_pass_promtool_and_report_the_queue_depths_Hangfire_counts()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema));
        var url = await host.MetricsUrlAsync(Timeout);

        // Jobs the host does not take: delayed jobs, and a queue it does not serve.
        for (var i = 0; i < 7; i++)
        {
            schema.Client.Schedule(() => TestJobs.SleepAsync("x", 1), TimeSpan.FromHours(1));
        }

        for (var i = 0; i < 30; i++)
        {
            schema.Client.Create(() => TestJobs.SleepAsync("x", 1), new EnqueuedState("elsewhere"));
        }

        using var http = new HttpClient();
        var text = await Eventually.Until(() => http.GetStringAsync(url),
            t => Gauges(t, "offlinetasks_queue_depth", "queue=\"elsewhere\",state=\"enqueued\"") == 30 && Gauges(t, "offlinetasks_jobs", "state=\"scheduled\"") == 7,
            Timeout, "the sampled depths in the scrape");

        Assert.Equal(schema.Monitoring.EnqueuedCount("elsewhere"), Gauge(text, "offlinetasks_queue_depth", "queue=\"elsewhere\",state=\"enqueued\""));
        Assert.Equal(schema.Monitoring.ScheduledCount(), Gauge(text, "offlinetasks_jobs", "state=\"scheduled\""));
        Assert.True(Gauge(text, "offlinetasks_queue_oldest_age_seconds", "queue=\"elsewhere\"") >= 0);
        Assert.Equal(0, Gauge(text, "offlinetasks_alert_state", "alert=\"default-backlog\",kind=\"queue_depth\",queue=\"default\""));

        var (exitCode, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exitCode == 0 && output.Length == 0, $"promtool check metrics exited with {exitCode}:\n{output}\n--- scrape ---\n{text}");

        var dashboard = await http.GetAsync(url.Replace("/metrics", "/hangfire", StringComparison.Ordinal));
        Assert.Equal(System.Net.HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("Hangfire Dashboard", await dashboard.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dashboard_shows_a_parked_job_with_the_reason_in_its_history()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, HostProcess.UnreachableShard));
        var url = await host.MetricsUrlAsync(Timeout);

        // This process has no gate: the job is enqueued, and the host parks it when a worker fetches it.
        var id = schema.Client.Enqueue<OfflineTasks.Host.Examples.IPhotoIndexer>(x => x.ReindexAsync(7, 42, CancellationToken.None));
        await schema.WaitForStateAsync([id], OfflineTasks.Hangfire.ParkedState.StateName, Timeout);

        using var http = new HttpClient();
        var page = await http.GetStringAsync(url.Replace("/metrics", "/hangfire/jobs/details/" + id, StringComparison.Ordinal));
        Assert.Contains("Parked", page, StringComparison.Ordinal);
        Assert.Contains("shard users-7 closed for ", page, StringComparison.Ordinal);
        Assert.Contains("users-7a unreachable", page, StringComparison.Ordinal);
        Assert.Contains("<dt>Shard:</dt><dd>users-7</dd>", page, StringComparison.Ordinal);

        // Why it is not running now: its shard's state as the host's gate decides it, linking to the Shards page.
        Assert.Contains("<h3 class=\"offlinetasks-waiting\">Waiting for shard users-7</h3>", page, StringComparison.Ordinal);
        Assert.Matches(@"Shard <a href=""/hangfire/offlinetasks/shard/users-7"">users-7</a> now: shard users-7 closed for \d+\.\d s: .*users-7a unreachable.*The job stays parked until the shard reopens\.", page);
    }

    [Fact]
    public async Task The_Shards_page_shows_each_shard_s_mode_reason_masters_and_parked_jobs_and_encodes_what_operators_typed()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, HostProcess.UnreachableShard));
        var url = await host.MetricsUrlAsync(Timeout);
        var dashboard = url.Replace("/metrics", "/hangfire", StringComparison.Ordinal);
        var id = schema.Client.Enqueue<OfflineTasks.Host.Examples.IPhotoIndexer>(x => x.ReindexAsync(7, 42, CancellationToken.None));
        await schema.WaitForStateAsync([id], OfflineTasks.Hangfire.ParkedState.StateName, Timeout);
        await schema.Store.SetSwitchAsync("users-7", OfflineTasks.Gate.ShardMode.Closed, "<script>alert(1)</script> disk swap", "ops <b>", DateTimeOffset.UtcNow);

        using var http = new HttpClient();
        var table = await Eventually.Until(() => http.GetStringAsync(dashboard + "/offlinetasks/shards/table"),
            t => t.Contains("forced closed", StringComparison.Ordinal), Timeout, "the Shards table to show the switch");
        Assert.Contains("<tr data-shard=\"users-7\">", table, StringComparison.Ordinal);
        Assert.Contains("forced closed by ops &lt;b&gt;: &lt;script&gt;alert(1)&lt;/script&gt; disk swap (measured: closed: ", table, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert(1)", table, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", table, StringComparison.Ordinal);
        Assert.Contains("<tr data-master=\"users-7a\"><td class=\"text-nowrap\">users-7a</td><td><span class=\"text-danger\">unreachable</span>", table, StringComparison.Ordinal);
        Assert.Contains("<td class=\"offlinetasks-parked\"><a href=\"/hangfire/offlinetasks/parked/users-7\">1</a></td>", table, StringComparison.Ordinal);

        var page = await http.GetStringAsync(dashboard + "/offlinetasks/shards");
        Assert.Contains("<h1 class=\"page-header\">Shards</h1>", page, StringComparison.Ordinal);
        Assert.Matches(@"<li class=""active"">\s*<a href=""/hangfire/offlinetasks/shards"">\s*Shards", page); // in the navigation bar, active
        Assert.Contains("data-refresh=\"/hangfire/offlinetasks/shards/table\"", page, StringComparison.Ordinal);
        Assert.Contains("forced closed", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_go_out_over_otlp_when_an_endpoint_is_configured()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var collector = new WebhookReceiver();
        using var host = HostProcess.Start(HostProcess.Environment(schema,
            ("OfflineTasks__Telemetry__Otlp__Endpoint", collector.Url + "v1/metrics"),
            ("OfflineTasks__Telemetry__Otlp__Protocol", "HttpProtobuf"),
            ("OfflineTasks__Telemetry__Otlp__ExportInterval", "00:00:00.3")));
        await host.MetricsUrlAsync(Timeout);

        var posts = await Eventually.Until(() => Task.FromResult(collector.Raw.ToList()), r => r.Count >= 2, Timeout, "OTLP exports");
        Assert.All(posts, p => Assert.Equal("/hook/v1/metrics", p.Path));
        Assert.All(posts, p => Assert.Equal("application/x-protobuf", p.ContentType));
        Assert.Contains(posts, p => p.Length > 200);
    }

    private static double? Gauges(string text, string name, string labels)
    {
        var match = Regex.Match(text, "^" + Regex.Escape(name) + "{[^}]*" + Regex.Escape(labels) + @"} (\S+)", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private static double Gauge(string text, string name, string labels) =>
        Gauges(text, name, labels) ?? throw new Xunit.Sdk.XunitException($"{name}{{...{labels}}} is not in the scrape:\n{text}");
}
