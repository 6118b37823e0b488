using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>Registers the Prometheus scrape handler in a DI container.</summary>
public static class PrometheusServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="PrometheusScrapeHandler"/> (configured by <paramref name="configure"/>), which
    /// <c>MapOfflineTasksMetrics</c> serves. Its <see cref="PrometheusScrapeHandler.Reader"/> still has to be added to
    /// the <c>MeterProvider</c> (<see cref="PrometheusMeterProviderBuilderExtensions.AddOfflineTasksPrometheus"/>);
    /// until it is, scrapes are empty.
    /// </summary>
    public static IServiceCollection AddOfflineTasksPrometheus(this IServiceCollection services, Action<PrometheusScrapeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var options = new PrometheusScrapeOptions();
            configure?.Invoke(options);
            return new PrometheusScrapeHandler(options, sp.GetRequiredService<TimeProvider>(), sp.GetService<ILogger<PrometheusScrapeHandler>>());
        });
        return services;
    }
}
