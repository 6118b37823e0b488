using System.Diagnostics.Metrics;
using System.Text;
using OfflineTasks.Telemetry.Prometheus;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Tests.Telemetry.Prometheus;

/// <summary>
/// A meter of its own (a unique name, so tests running in parallel never see each other's instruments), a
/// MeterProvider that listens to it alone, and a scrape handler on that provider.
/// </summary>
public sealed class ScrapedMeter : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public ScrapedMeter(PrometheusScrapeOptions? options = null, TimeProvider? time = null, Action<MeterProviderBuilder>? configure = null)
    {
        Meter = new Meter("OfflineTasks.Tests." + Guid.NewGuid().ToString("N"));
        Handler = new PrometheusScrapeHandler(options ?? new PrometheusScrapeOptions(), time);
        var builder = Sdk.CreateMeterProviderBuilder().AddMeter(Meter.Name).AddOfflineTasksPrometheus(Handler);
        configure?.Invoke(builder);
        Provider = builder.Build();
    }

    public Meter Meter { get; }

    public PrometheusScrapeHandler Handler { get; }

    public MeterProvider Provider { get; }

    public async Task<string> ScrapeAsync() => Encoding.UTF8.GetString((await Handler.ScrapeAsync().WaitAsync(Timeout)).Span);

    public void Dispose()
    {
        Provider.Dispose();
        Meter.Dispose();
    }
}
