using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Tests.Telemetry.Prometheus;

/// <summary>What a scrape renders for each kind of instrument, from a real MeterProvider.</summary>
public sealed class PrometheusTextSerializerTests
{
    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    [Fact]
    public async Task A_counter_is_a_counter_family_with_a_total_suffix_and_an_annotation_unit_adds_nothing()
    {
        using var scraped = new ScrapedMeter();
        var finished = scraped.Meter.CreateCounter<long>("offlinetasks.jobs.finished", "{job}", "Attempts ended, by how.");
        finished.Add(3, Tag("queue", "default"), Tag("outcome", "succeeded"));
        finished.Add(1, Tag("queue", "default"), Tag("outcome", "failed"));
        finished.Add(2, Tag("queue", "default"), Tag("outcome", "succeeded"));

        Assert.Equal(
            """
            # HELP offlinetasks_jobs_finished_total Attempts ended, by how.
            # TYPE offlinetasks_jobs_finished_total counter
            offlinetasks_jobs_finished_total{outcome="succeeded",queue="default"} 5
            offlinetasks_jobs_finished_total{outcome="failed",queue="default"} 1

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task An_up_down_counter_without_tags_is_a_gauge_with_a_bare_sample()
    {
        using var scraped = new ScrapedMeter();
        var busy = scraped.Meter.CreateUpDownCounter<int>("offlinetasks.workers.busy", "{worker}", "Workers running a job.");
        busy.Add(3);
        busy.Add(-1);

        Assert.Equal(
            """
            # HELP offlinetasks_workers_busy Workers running a job.
            # TYPE offlinetasks_workers_busy gauge
            offlinetasks_workers_busy 2

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task An_observable_gauge_in_unit_1_is_a_ratio_and_doubles_are_written_invariantly()
    {
        using var scraped = new ScrapedMeter();
        scraped.Meter.CreateObservableGauge(
            "offlinetasks.mysql.connections.usage",
            () => new[]
            {
                new Measurement<double>(0.25, Tag("shard", "users-1"), Tag("master", "users-1a")),
                new Measurement<double>(1e-7, Tag("shard", "users-1"), Tag("master", "users-1b")),
            },
            "1",
            "Threads_connected / max_connections.");

        Assert.Equal(
            """
            # HELP offlinetasks_mysql_connections_usage_ratio Threads_connected / max_connections.
            # TYPE offlinetasks_mysql_connections_usage_ratio gauge
            offlinetasks_mysql_connections_usage_ratio{master="users-1a",shard="users-1"} 0.25
            offlinetasks_mysql_connections_usage_ratio{master="users-1b",shard="users-1"} 1E-07

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task A_histogram_in_seconds_has_cumulative_buckets_ending_in_plus_infinity_then_sum_and_count()
    {
        using var scraped = new ScrapedMeter(configure: builder => builder.AddView(
            "messaging.process.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.1, 1, 10] }));
        var duration = scraped.Meter.CreateHistogram<double>("messaging.process.duration", "s", "How long a job ran.");
        foreach (var seconds in new[] { 0.25, 0.5, 0.0625, 20 })
        {
            duration.Record(seconds, Tag("messaging.destination.name", "default"));
        }

        Assert.Equal(
            """
            # HELP messaging_process_duration_seconds How long a job ran.
            # TYPE messaging_process_duration_seconds histogram
            messaging_process_duration_seconds_bucket{messaging_destination_name="default",le="0.1"} 1
            messaging_process_duration_seconds_bucket{messaging_destination_name="default",le="1"} 3
            messaging_process_duration_seconds_bucket{messaging_destination_name="default",le="10"} 3
            messaging_process_duration_seconds_bucket{messaging_destination_name="default",le="+Inf"} 4
            messaging_process_duration_seconds_sum{messaging_destination_name="default"} 20.8125
            messaging_process_duration_seconds_count{messaging_destination_name="default"} 4

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task A_histogram_without_boundaries_still_has_the_plus_infinity_bucket()
    {
        using var scraped = new ScrapedMeter(configure: builder => builder.AddView(
            "offlinetasks.probe.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [] }));
        var duration = scraped.Meter.CreateHistogram<long>("offlinetasks.probe.duration", "ms", "One status read.");
        duration.Record(7);
        duration.Record(5);

        Assert.Equal(
            """
            # HELP offlinetasks_probe_duration_milliseconds One status read.
            # TYPE offlinetasks_probe_duration_milliseconds histogram
            offlinetasks_probe_duration_milliseconds_bucket{le="+Inf"} 2
            offlinetasks_probe_duration_milliseconds_sum 12
            offlinetasks_probe_duration_milliseconds_count 2

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task Label_values_and_help_text_are_escaped()
    {
        using var scraped = new ScrapedMeter();
        var errors = scraped.Meter.CreateCounter<long>("offlinetasks.probe.errors", "{error}", "Failed reads\nof C:\\status.");
        errors.Add(1, Tag("error.type", "Access \"denied\"\nat C:\\db"));

        Assert.Equal(
            """
            # HELP offlinetasks_probe_errors_total Failed reads\nof C:\\status.
            # TYPE offlinetasks_probe_errors_total counter
            offlinetasks_probe_errors_total{error_type="Access \"denied\"\nat C:\\db"} 1

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task Tag_values_of_other_types_are_spelled_as_OpenTelemetry_attributes_and_null_ones_are_left_out()
    {
        using var scraped = new ScrapedMeter();
        var gauge = scraped.Meter.CreateGauge<double>("sample.values", null, "Values of every kind.");
        gauge.Record(double.PositiveInfinity, Tag("int", 42), Tag("bool", true), Tag("double", 1.5), Tag("array", new[] { "x", "y" }), Tag("null", null));
        gauge.Record(double.NaN, Tag("int", -1));
        gauge.Record(double.NegativeInfinity, Tag("int", 0));
        gauge.Record(2, Tag("nothing", null));

        Assert.Equal(
            """
            # HELP sample_values Values of every kind.
            # TYPE sample_values gauge
            sample_values{array="[\"x\",\"y\"]",bool="true",double="1.5",int="42"} +Inf
            sample_values{int="-1"} NaN
            sample_values{int="0"} -Inf
            sample_values 2

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task Tag_keys_that_sanitise_to_the_same_label_are_merged_in_key_order()
    {
        using var scraped = new ScrapedMeter();
        var counter = scraped.Meter.CreateCounter<long>("merged", null, "Merged labels.");
        counter.Add(1, Tag("a_b", "second"), Tag("a.b", "first"), Tag("c", "other"));

        Assert.Equal(
            """
            # HELP merged_total Merged labels.
            # TYPE merged_total counter
            merged_total{a_b="first;second",c="other"} 1

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task Instruments_with_the_same_Prometheus_name_share_one_family_and_a_conflicting_type_is_left_out()
    {
        using var scraped = new ScrapedMeter();
        scraped.Meter.CreateCounter<long>("jobs.done", null, "Jobs done.").Add(1, Tag("via", "dots"));
        scraped.Meter.CreateGauge<long>("jobs-done.total", null, "Not a counter.").Record(7);
        scraped.Meter.CreateCounter<double>("jobs_done", null, "Jobs done, again.").Add(2.5, Tag("via", "underscores"));

        Assert.Equal(
            """
            # HELP jobs_done_total Jobs done.
            # TYPE jobs_done_total counter
            jobs_done_total{via="dots"} 1
            jobs_done_total{via="underscores"} 2.5

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task Exponential_histograms_and_instruments_without_measurements_are_left_out()
    {
        using var scraped = new ScrapedMeter(configure: builder => builder.AddView("exponential", new Base2ExponentialBucketHistogramConfiguration()));
        scraped.Meter.CreateHistogram<double>("exponential", "s", "Not representable.").Record(1);
        scraped.Meter.CreateCounter<long>("never.recorded", null, "Nothing yet.");
        scraped.Meter.CreateCounter<long>("recorded", null, "Something.").Add(1);

        Assert.Equal(
            """
            # HELP recorded_total Something.
            # TYPE recorded_total counter
            recorded_total 1

            """,
            await scraped.ScrapeAsync());
    }

    [Fact]
    public async Task An_instrument_without_description_gets_no_help_line_and_nothing_at_all_renders_as_empty()
    {
        using var scraped = new ScrapedMeter();
        Assert.Equal(string.Empty, await scraped.ScrapeAsync());

        scraped.Meter.CreateCounter<long>("undocumented").Add(1);

        Assert.Equal(
            """
            # TYPE undocumented_total counter
            undocumented_total 1

            """,
            await scraped.ScrapeAsync());
    }
}
