using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Server;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;
using OfflineTasks.Telemetry.Prometheus;

namespace OfflineTasks.Hosting;

/// <summary>Registers metrics, their export and the built-in alerts in a DI container.</summary>
public static class OfflineTasksTelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Registers telemetry: the <c>OfflineTasks</c> Meter's export (the Prometheus scrape handler, and OTLP when an
    /// endpoint is configured), the fleet sampler (queue depths, oldest ages, parked jobs; one per fleet, by leadership
    /// in PostgreSQL), the built-in high/low-water alerts and the notifier (log and webhook). Options are bound from
    /// <c>OfflineTasks:Telemetry</c> of <paramref name="configuration"/> (when given; alert rules and the webhook follow
    /// its reloads) and then <paramref name="configure"/>; alert rules are validated at start against the worker
    /// server's queues and the gate's shards. Call it after <c>AddOfflineTasks</c>, <c>AddOfflineTasksServer</c> and
    /// <c>AddOfflineTasksGate</c>. Serve <c>/metrics</c> with <c>MapOfflineTasksMetrics()</c> (OfflineTasks.AspNetCore).
    /// </summary>
    public static IServiceCollection AddOfflineTasksTelemetry(this IServiceCollection services, IConfiguration? configuration = null, Action<TelemetryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsRegistration.AddOptions<TelemetryOptions>(services, configuration, TelemetryOptions.SectionName, configure);

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OfflineTasksMetrics>();
        services.TryAddSingleton(sp => new TelemetrySettingsMonitor(
            sp.GetRequiredService<IOptions<TelemetryOptions>>(), configuration, configure,
            () => sp.GetService<IOptions<JobServerOptions>>()?.Value.EffectiveQueues,
            () => sp.GetService<GateSettingsMonitor>()?.Current.Shards.Keys.ToList(),
            sp.GetRequiredService<ILogger<TelemetrySettingsMonitor>>()));
        services.TryAddSingleton(sp => new OperationsNotifier(
            sp.GetRequiredService<TelemetrySettingsMonitor>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<OperationsNotifier>>()));
        services.TryAddSingleton(sp =>
        {
            var cache = sp.GetService<ShardStateCache>();
            return new FleetSampler(
                sp.GetRequiredService<PostgresJobStorage>(),
                sp.GetRequiredService<TelemetrySettingsMonitor>(),
                sp.GetRequiredService<OfflineTasksMetrics>(),
                sp.GetRequiredService<OperationsNotifier>(),
                () => sp.GetService<IOptions<JobServerOptions>>()?.Value.EffectiveQueues ?? [],
                cache is null ? null : () => cache.Current.States.Values.ToDictionary(s => s.Shard, s => s.Mode, StringComparer.Ordinal),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<FleetSampler>>());
        });
        services.TryAddSingleton<TelemetryExport>();
        services.AddOfflineTasksPrometheus();

        // Order matters at start: the export first (so nothing recorded is missed), the notifier before the sampler.
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<TelemetryExport>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OperationsNotifier>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<FleetSampler>());
        return services;
    }
}
