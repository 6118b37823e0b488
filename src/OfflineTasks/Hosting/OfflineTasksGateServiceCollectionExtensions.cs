using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Server;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hosting;

/// <summary>Registers the load-feedback gate in a DI container.</summary>
public static class OfflineTasksGateServiceCollectionExtensions
{
    /// <summary>
    /// Registers the load-feedback gate: the shard prober (one per fleet, by leadership in PostgreSQL), this process's
    /// copy of the shard states, and the gate the worker server consults at claim time and before each job with a
    /// shard key. Options are bound from <c>OfflineTasks:Gate</c> of <paramref name="configuration"/> (when given; its
    /// reloads take effect without a restart) and then <paramref name="configure"/>, and validated at start.
    /// MySQL status is read with MySqlConnector, over one unpooled connection per master.
    /// Call <see cref="OfflineTasksServiceCollectionExtensions.AddOfflineTasks"/> and <c>AddOfflineTasksServer</c> too.
    /// </summary>
    public static IServiceCollection AddOfflineTasksGate(this IServiceCollection services, IConfiguration? configuration = null, Action<GateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = OptionsRegistration.AddOptions<GateOptions>(services, configuration, GateOptions.SectionName, configure);

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GateOptions>, GateOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IMySqlStatusClientFactory>(_ => new MySqlStatusClientFactory());
        services.TryAddSingleton(sp => new GateSettingsMonitor(
            sp.GetRequiredService<IOptions<GateOptions>>(), configuration, configure, sp.GetRequiredService<ILogger<GateSettingsMonitor>>()));
        services.TryAddSingleton(sp => new ShardStateCache(
            sp.GetRequiredService<PostgresJobStorage>(), sp.GetRequiredService<GateSettingsMonitor>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<PostgresStorageOptions>>(), sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton(sp => new ShardProber(
            sp.GetRequiredService<PostgresJobStorage>(), sp.GetRequiredService<GateSettingsMonitor>(), sp.GetRequiredService<IMySqlStatusClientFactory>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ShardProber>>(), sp.GetService<OfflineTasksMetrics>(), sp.GetService<OperationsNotifier>()));
        services.TryAddSingleton(sp => new ShardGate(sp.GetRequiredService<ShardStateCache>(), sp.GetRequiredService<GateSettingsMonitor>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ShardGate>>(), sp.GetService<OfflineTasksMetrics>()));
        services.TryAddSingleton<IJobGate>(sp => sp.GetRequiredService<ShardGate>());
        services.TryAddSingleton<IClaimFilterProvider>(sp => sp.GetRequiredService<ShardGate>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ShardStateCache>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ShardProber>());
        return services;
    }
}
