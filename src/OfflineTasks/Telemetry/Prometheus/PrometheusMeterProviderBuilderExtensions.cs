using OpenTelemetry.Metrics;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>Adds the Prometheus scrape endpoint's reader to a <see cref="MeterProviderBuilder"/>.</summary>
public static class PrometheusMeterProviderBuilderExtensions
{
    /// <summary>
    /// Adds <paramref name="handler"/>'s <see cref="PrometheusScrapeHandler.Reader"/>, so that its scrapes collect
    /// this provider's metrics. A handler serves one provider; the provider owns (and disposes) the reader.
    /// </summary>
    public static MeterProviderBuilder AddOfflineTasksPrometheus(this MeterProviderBuilder builder, PrometheusScrapeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(handler);
        return builder.AddReader(handler.Reader);
    }
}
