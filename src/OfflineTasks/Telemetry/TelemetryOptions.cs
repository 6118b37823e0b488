using OfflineTasks.Alerts;

namespace OfflineTasks.Telemetry;

/// <summary>
/// Settings of metrics, their export and the built-in alerts. Bound from the <c>OfflineTasks:Telemetry</c>
/// configuration section and validated at start; the alert rules and the webhook are reloaded when the
/// configuration changes (an invalid reload keeps the previous rules). Each default is given on its property.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "OfflineTasks:Telemetry";

    /// <summary>
    /// How often the fleet's leader samples queue depths, oldest ages and parked jobs (index-backed queries, shared
    /// through PostgreSQL) and evaluates the alerts; every process reads the shared sample as often. Default 5 s.
    /// </summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the leader's role lasts without renewal (another process takes over after it). Default 15 s.</summary>
    public TimeSpan LeaderLease { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The Prometheus scrape endpoint; see <see cref="PrometheusOptions"/>.</summary>
    public PrometheusOptions Prometheus { get; set; } = new();

    /// <summary>The OTLP exporter; see <see cref="OtlpOptions"/>.</summary>
    public OtlpOptions Otlp { get; set; } = new();

    /// <summary>The built-in high/low-water alerts and where their notifications go; see <see cref="AlertOptions"/>.</summary>
    public AlertOptions Alerts { get; set; } = new();
}

/// <summary>The Prometheus scrape endpoint (text exposition format 0.0.4).</summary>
public sealed class PrometheusOptions
{
    /// <summary>Whether <c>/metrics</c> is served. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Where the host executable listens for scrapes, e.g. <c>http://127.0.0.1:9464</c> (port 0 picks a free
    /// port). Default <c>http://127.0.0.1:9464</c>. Libraries map the endpoint into their own ASP.NET Core app instead.
    /// </summary>
    public string Url { get; set; } = "http://127.0.0.1:9464";
}

/// <summary>The OpenTelemetry Protocol exporter.</summary>
public sealed class OtlpOptions
{
    /// <summary>The collector's endpoint (e.g. <c>http://otel-collector:4317</c>); empty (the default) exports nothing over OTLP.</summary>
    public string? Endpoint { get; set; }

    /// <summary><c>Grpc</c> (the default) or <c>HttpProtobuf</c>.</summary>
    public string Protocol { get; set; } = "Grpc";

    /// <summary>How often metrics are pushed. Default 15 s.</summary>
    public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(15);
}
