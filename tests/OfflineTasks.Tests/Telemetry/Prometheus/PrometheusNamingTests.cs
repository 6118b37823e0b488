using OfflineTasks.Telemetry.Prometheus;

namespace OfflineTasks.Tests.Telemetry.Prometheus;

/// <summary>OpenTelemetry names and units to Prometheus names (the compatibility specification's rules).</summary>
public sealed class PrometheusNamingTests
{
    [Theory]
    [InlineData("messaging.process.duration", "s", "Histogram", "messaging_process_duration_seconds")]
    [InlineData("offlinetasks.queue.oldest_age", "s", "Gauge", "offlinetasks_queue_oldest_age_seconds")]
    [InlineData("offlinetasks.jobs.finished", "{job}", "Counter", "offlinetasks_jobs_finished_total")]
    [InlineData("offlinetasks.queue.depth", "{job}", "Gauge", "offlinetasks_queue_depth")]
    [InlineData("offlinetasks.mysql.connections.usage", "1", "Gauge", "offlinetasks_mysql_connections_usage_ratio")]
    [InlineData("offlinetasks.mysql.up", "", "Gauge", "offlinetasks_mysql_up")]
    [InlineData("offlinetasks.mysql.up", null, "Gauge", "offlinetasks_mysql_up")]
    [InlineData("cpu.usage_ratio", "1", "Gauge", "cpu_usage_ratio")]
    [InlineData("things.seen", "1", "Counter", "things_seen_total")]
    [InlineData("things.size", "1", "Histogram", "things_size")]
    [InlineData("http.server.duration_seconds", "s", "Histogram", "http_server_duration_seconds")]
    [InlineData("seconds.spent", "s", "Counter", "seconds_spent_total")]
    [InlineData("jobs.total", "{job}", "Counter", "jobs_total")]
    [InlineData("busy.total", "s", "Counter", "busy_seconds_total")]
    [InlineData("payload.size", "By", "Histogram", "payload_size_bytes")]
    [InlineData("heap", "MiBy", "Gauge", "heap_mebibytes")]
    [InlineData("latency", "ms", "Histogram", "latency_milliseconds")]
    [InlineData("throughput", "By/s", "Gauge", "throughput_bytes_per_second")]
    [InlineData("claims.rate", "{claim}/min", "Gauge", "claims_rate_per_minute")]
    [InlineData("room", "Cel", "Gauge", "room_celsius")]
    [InlineData("area", "m^2", "Gauge", "area_m_2")]
    [InlineData("9lives", "", "Gauge", "_9lives")]
    [InlineData("a..b--c//d", "", "Gauge", "a_b_c_d")]
    [InlineData("a:b", "", "Gauge", "a_b")]
    [InlineData("café.crème", "", "Gauge", "caf_cr_me")]
    public void Metric_names_get_sanitised_and_get_unit_and_type_suffixes(string instrument, string? unit, string type, string expected) =>
        Assert.Equal(expected, PrometheusNaming.MetricName(instrument, unit, Enum.Parse<PrometheusMetricType>(type)));

    [Theory]
    [InlineData("queue", "queue")]
    [InlineData("messaging.destination.name", "messaging_destination_name")]
    [InlineData("error.type", "error_type")]
    [InlineData("__reserved", "_reserved")]
    [InlineData("1st", "_1st")]
    [InlineData("a b-c", "a_b_c")]
    [InlineData("", "_")]
    public void Label_names_get_sanitised(string key, string expected) =>
        Assert.Equal(expected, PrometheusNaming.LabelName(key));
}
