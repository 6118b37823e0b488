using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Telemetry.Prometheus;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace OfflineTasks.Telemetry;

/// <summary>
/// The process's OpenTelemetry <c>MeterProvider</c> for the <c>OfflineTasks</c> Meter: the Prometheus scrape
/// handler's reader and, when configured, the OTLP exporter. Also points the fleet-wide gauges at their sources and
/// sends configuration reloads to the operations channel (from the telemetry leader only, so a fleet reports each
/// reload once).
/// </summary>
internal sealed class TelemetryExport : IHostedService, IDisposable
{
    private readonly IServiceProvider _services;
    private readonly TelemetryOptions _options;
    private readonly OfflineTasksMetrics _metrics;
    private readonly TelemetrySettingsMonitor _settings;
    private readonly OperationsNotifier _notifier;
    private readonly FleetSampler _sampler;
    private readonly TimeProvider _time;
    private MeterProvider? _provider;
    private GateSettingsMonitor? _gate;

    public TelemetryExport(IServiceProvider services, IOptions<TelemetryOptions> options, OfflineTasksMetrics metrics, TelemetrySettingsMonitor settings,
        OperationsNotifier notifier, FleetSampler sampler, TimeProvider time)
    {
        _services = services;
        _options = options.Value;
        _metrics = metrics;
        _settings = settings;
        _notifier = notifier;
        _sampler = sampler;
        _time = time;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService("offlinetasks", serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .AddMeter(OfflineTasksMetrics.MeterName);
        if (_options.Prometheus.Enabled && _services.GetService<PrometheusScrapeHandler>() is { } prometheus)
        {
            builder.AddOfflineTasksPrometheus(prometheus);
        }

        if (_options.Otlp is { Endpoint: { Length: > 0 } endpoint } otlp)
        {
            builder.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = new Uri(endpoint);
                exporter.Protocol = otlp.Protocol == "HttpProtobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)otlp.ExportInterval.TotalMilliseconds;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            });
        }

        _provider = builder.Build();

        if (_services.GetService<ShardStateCache>() is { } cache)
        {
            _metrics.ShardSource = () => cache.Current.States.Values;
        }

        _metrics.AlertRuleSource = () => _settings.Current.Rules;
        _settings.Changed += OnTelemetryReloaded;
        _gate = _services.GetService<GateSettingsMonitor>();
        if (_gate is not null)
        {
            _gate.Changed += OnGateReloaded;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _settings.Changed -= OnTelemetryReloaded;
        if (_gate is not null)
        {
            _gate.Changed -= OnGateReloaded;
        }

        return Task.CompletedTask;
    }

    public void Dispose() => _provider?.Dispose();

    private void OnTelemetryReloaded(TelemetrySettings settings) =>
        Reloaded("telemetry", $"alert rules: {(settings.Rules.Count == 0 ? "none" : string.Join(", ", settings.Rules.Select(r => $"{r.Name} ({r.Describe()} {r.Low:0.##}/{r.High:0.##}, for {r.For.TotalSeconds:0.#} s)")))}");

    private void OnGateReloaded(GateSettings settings) =>
        Reloaded("gate", $"probe every {settings.ProbeInterval.TotalSeconds:0.###} s, hold {string.Join(", ", settings.Shards.Values.Select(s => $"{s.Name} {s.HoldTime.TotalSeconds:0.#} s"))}");

    private void Reloaded(string section, string summary)
    {
        if (_sampler.IsLeading)
        {
            _notifier.Post(new Notice("config", $"Configuration reloaded ({section}): {summary}", _time.GetUtcNow(), new Dictionary<string, object?>
            {
                ["section"] = section,
                ["host"] = $"{Environment.MachineName}:{Environment.ProcessId}",
            }));
        }
    }
}
