using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Hangfire;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hosting;

/// <summary>Registers OfflineTasks in a DI container, beside Hangfire.</summary>
public static class OfflineTasksServiceCollectionExtensions
{
    /// <summary>
    /// Registers the load-feedback gate and its telemetry for the Hangfire storage of this container: the shard prober
    /// (one per fleet, by a lease in PostgreSQL), this process's copy of the shard states and the gate the filters
    /// consult (<see cref="IShardGate"/>, also for checkpoints in long jobs), the releaser of parked jobs (one per
    /// fleet), the fleet sampler with the built-in alerts and their webhook, and the <c>OfflineTasks</c> Meter. Options
    /// are bound from <paramref name="configuration"/>: <c>OfflineTasks</c> (<see cref="OfflineTasksOptions"/>, then
    /// <paramref name="configure"/>), <c>OfflineTasks:Gate</c> (<see cref="GateOptions"/>) and
    /// <c>OfflineTasks:Telemetry</c> (<see cref="TelemetryOptions"/>); all are validated at start, and the gate's and
    /// the alerts' settings follow reloads of the configuration (an invalid reload is rejected and logged, and the
    /// previous settings stay). Install the filters with <c>UseOfflineTasks()</c> in <c>services.AddHangfire(...)</c>:
    /// the host refuses to start without them. Export the Meter with
    /// <c>services.AddOpenTelemetry().WithMetrics(m =&gt; m.AddMeter("OfflineTasks"))</c>.
    /// </summary>
    public static IServiceCollection AddOfflineTasks(this IServiceCollection services, IConfiguration configuration, Action<OfflineTasksOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var root = services.AddOptions<OfflineTasksOptions>().Bind(configuration.GetSection(OfflineTasksOptions.SectionName));
        if (configure is not null)
        {
            root.Configure(configure);
        }

        // Validated when first read, by the start-up (the first hosted service), not with ValidateOnStart: that keeps an
        // IOptionsMonitor which re-validates on every reload of the configuration and throws on the file watcher's
        // thread when the new file is invalid. Reloads are the settings monitors' business: they log and reject.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OfflineTasksOptions>, OfflineTasksOptionsValidator>());
        services.AddOptions<GateOptions>().Bind(configuration.GetSection(GateOptions.SectionName));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GateOptions>, GateOptionsValidator>());
        services.AddOptions<TelemetryOptions>().Bind(configuration.GetSection(TelemetryOptions.SectionName));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OfflineTasksMetrics>();
        services.TryAddSingleton<IMySqlStatusClientFactory>(_ => new MySqlStatusClientFactory());
        services.TryAddSingleton(sp => new OwnedDataSource(NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<OfflineTasksOptions>>().Value.ConnectionString)));
        services.TryAddSingleton(sp => new OfflineTasksStore(sp.GetRequiredService<OwnedDataSource>().DataSource, sp.GetRequiredService<IOptions<OfflineTasksOptions>>().Value.Schema));

        services.TryAddSingleton(sp => new GateSettingsMonitor(sp.GetRequiredService<IOptions<GateOptions>>(), configuration, null, sp.GetRequiredService<ILogger<GateSettingsMonitor>>()));
        services.TryAddSingleton(sp => new ShardStateCache(sp.GetRequiredService<OfflineTasksStore>(), sp.GetRequiredService<GateSettingsMonitor>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ShardStateCache>>()));
        services.TryAddSingleton(sp => new ShardGate(sp.GetRequiredService<ShardStateCache>(), sp.GetRequiredService<GateSettingsMonitor>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IShardGate>(sp => sp.GetRequiredService<ShardGate>());
        services.TryAddSingleton(sp => new ShardProber(sp.GetRequiredService<OfflineTasksStore>(), sp.GetRequiredService<GateSettingsMonitor>(),
            sp.GetRequiredService<IMySqlStatusClientFactory>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ShardProber>>(),
            sp.GetRequiredService<OfflineTasksMetrics>(), sp.GetRequiredService<OperationsNotifier>()));
        services.TryAddSingleton(sp => new ParkedJobReleaser(sp.GetRequiredService<OfflineTasksStore>(), sp.GetRequiredService<JobStorage>(),
            sp.GetService<IJobFilterProvider>() ?? JobFilterProviders.Providers, sp.GetRequiredService<ShardGate>(),
            sp.GetRequiredService<OfflineTasksMetrics>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ParkedJobReleaser>>(),
            sp.GetRequiredService<OperationsNotifier>()));

        services.TryAddSingleton(sp => new TelemetrySettingsMonitor(sp.GetRequiredService<IOptions<TelemetryOptions>>(), configuration, null,
            () => KnownShards(sp), sp.GetRequiredService<ILogger<TelemetrySettingsMonitor>>()));
        services.TryAddSingleton(sp => new OperationsNotifier(sp.GetRequiredService<TelemetrySettingsMonitor>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<OperationsNotifier>>(), handler: null, sp.GetRequiredService<OfflineTasksStore>()));
        services.TryAddSingleton(sp => new FleetSampler(sp.GetRequiredService<OfflineTasksStore>(), sp.GetRequiredService<JobStorage>(),
            sp.GetRequiredService<TelemetrySettingsMonitor>(), sp.GetRequiredService<OfflineTasksMetrics>(), sp.GetRequiredService<OperationsNotifier>(),
            () => KnownShards(sp).Union(sp.GetRequiredService<ShardStateCache>().Current.States.Keys).ToList(), sp.GetRequiredService<GateSettingsMonitor>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<FleetSampler>>()));
        services.TryAddSingleton<OfflineTasksStartup>();

        // Hangfire's dashboard checks an antiforgery token on every POST (its own buttons and OfflineTasks' switches)
        // only when antiforgery is registered; without it, a page elsewhere could make an operator's browser force a
        // shard open.
        services.AddAntiforgery();

        // Hosted services start in the order they were added and stop in reverse. The start-up (migrations, the check
        // that UseOfflineTasks() ran, the gate's binding to Hangfire's storage), the prober and the first fresh read of
        // the shard states go first, whenever AddOfflineTasks is called: a Hangfire server that started fetching before
        // them would park every sharded job it fetched, for want of a gate or of a fresh state. They also stop last,
        // after Hangfire's server.
        services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<OfflineTasksStartup>()));
        services.Insert(1, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<ShardProber>()));
        services.Insert(2, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<ShardStateCache>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OperationsNotifier>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ParkedJobReleaser>());
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<FleetSampler>());
        return services;
    }

    private static List<string> KnownShards(IServiceProvider services) => services.GetRequiredService<GateSettingsMonitor>().Current.Shards.Keys.ToList();

    /// <summary>The connection pool the container created, disposed with the container.</summary>
    private sealed class OwnedDataSource(NpgsqlDataSource dataSource) : IAsyncDisposable
    {
        public NpgsqlDataSource DataSource { get; } = dataSource;

        public ValueTask DisposeAsync() => DataSource.DisposeAsync();
    }
}
