using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using OfflineTasks.Tests.Infrastructure;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Tests.Telemetry.Prometheus;

/// <summary>Prometheus's own checker accepts what a scrape renders (promtool comes with Debian's prometheus package; scripts/setup.sh installs it).</summary>
public sealed class PromtoolTests
{
    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    [Fact]
    public async Task Promtool_finds_nothing_to_complain_about_in_a_scrape_of_every_instrument_kind()
    {
        using var scraped = new ScrapedMeter(configure: builder => builder.AddView(
            "offlinetasks.probe.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.001, 0.01, 0.1, 1] }));
        var meter = scraped.Meter;
        string[] queues = ["default", "critical", "with \"quotes\"\nand \\ backslash"];

        var finished = meter.CreateCounter<long>("offlinetasks.jobs.finished", "{job}", "Attempts ended, by how.");
        var busy = meter.CreateCounter<double>("offlinetasks.workers.busy_time", "s", "Time workers spent running jobs.");
        var inFlight = meter.CreateUpDownCounter<int>("offlinetasks.jobs.in_flight", "{job}", "Jobs being run.");
        var processDuration = meter.CreateHistogram<double>("messaging.process.duration", "s", "How long a job ran.");
        var probeDuration = meter.CreateHistogram<double>("offlinetasks.probe.duration", "s", "One status read.");
        var payload = meter.CreateHistogram<long>("offlinetasks.jobs.payload_size", "By", "Size of the serialised arguments.");
        var lastDuration = meter.CreateGauge<double>("offlinetasks.jobs.last_duration", "s", "Duration of the last job.");
        meter.CreateObservableCounter("offlinetasks.claims", () => queues.Select((q, i) => new Measurement<long>(10 * (i + 1), Tag("queue", q))), "{claim}", "Claim round trips.");
        meter.CreateObservableUpDownCounter("offlinetasks.connections.open", () => 4, "{connection}", "Open connections.");
        meter.CreateObservableGauge("offlinetasks.mysql.connections.usage", () => new Measurement<double>(0.42, Tag("shard", "users-1"), Tag("master", "users-1a")), "1", "Threads_connected / max_connections.");
        meter.CreateObservableGauge("offlinetasks.queue.oldest_age", () => queues.Select(q => new Measurement<double>(1.5, Tag("queue", q))), "s", "Age of the oldest available job.");

        foreach (var queue in queues)
        {
            foreach (var outcome in new[] { "succeeded", "failed", "retried" })
            {
                finished.Add(3, Tag("queue", queue), Tag("outcome", outcome));
                processDuration.Record(0.02, Tag("messaging.destination.name", queue), Tag("offlinetasks.outcome", outcome), Tag("error.type", outcome == "failed" ? "System.TimeoutException" : null));
            }

            busy.Add(1.25, Tag("queue", queue));
            inFlight.Add(2, Tag("queue", queue));
            inFlight.Add(-1, Tag("queue", queue));
            payload.Record(512, Tag("queue", queue));
            lastDuration.Record(0.5, Tag("queue", queue));
        }

        probeDuration.Record(0.004, Tag("shard", "users-1"), Tag("master", "users-1a"));
        probeDuration.Record(2.5, Tag("shard", "users-1"), Tag("master", "users-1b"));

        var text = await scraped.ScrapeAsync();
        var (exitCode, output) = await Promtool.CheckMetricsAsync(text);

        Assert.True(exitCode == 0 && output.Length == 0, $"promtool check metrics exited with {exitCode}:\n{output}\n--- scrape ---\n{text}");
        foreach (var family in new[]
        {
            "offlinetasks_jobs_finished_total counter", "offlinetasks_workers_busy_time_seconds_total counter",
            "offlinetasks_jobs_in_flight gauge", "messaging_process_duration_seconds histogram",
            "offlinetasks_probe_duration_seconds histogram", "offlinetasks_jobs_payload_size_bytes histogram",
            "offlinetasks_jobs_last_duration_seconds gauge", "offlinetasks_claims_total counter",
            "offlinetasks_connections_open gauge", "offlinetasks_mysql_connections_usage_ratio gauge",
            "offlinetasks_queue_oldest_age_seconds gauge",
        })
        {
            Assert.Contains("# TYPE " + family + "\n", text, StringComparison.Ordinal);
        }
    }
}
