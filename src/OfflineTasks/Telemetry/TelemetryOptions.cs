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
    /// How often the fleet's leader samples queue depths, oldest ages and parked jobs (Hangfire's monitoring API and the
    /// parked sets, shared through PostgreSQL) and evaluates the alerts; every process reads the shared sample as often. Default 5 s.
    /// </summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether the fleet samples its queues and parked jobs and evaluates the built-in alerts. Default true; false
    /// leaves the fleet-wide gauges empty and the alerts idle (the per-process instruments are recorded either way).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Hangfire queues whose depth and oldest job are sampled. Empty (the default) samples <c>default</c>.</summary>
    public IList<string> Queues { get; set; } = new List<string>();

    /// <summary>How long the leader's role lasts without renewal (another process takes over after it). Default 15 s.</summary>
    public TimeSpan LeaderLease { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The OTLP exporter; see <see cref="OtlpOptions"/>.</summary>
    public OtlpOptions Otlp { get; set; } = new();

    /// <summary>The built-in high/low-water alerts and where their notifications go; see <see cref="AlertOptions"/>.</summary>
    public AlertOptions Alerts { get; set; } = new();
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
