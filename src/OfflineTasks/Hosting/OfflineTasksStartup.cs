using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hosting;

/// <summary>
/// Runs first when the host starts: migrates OfflineTasks' tables, checks that Hangfire has OfflineTasks' filters
/// (<c>UseOfflineTasks()</c>), binds the gate to this container's Hangfire storage for those filters, and points the
/// Meter's fleet-wide gauges at their sources. Unbinds the gate when the host stops.
/// </summary>
internal sealed class OfflineTasksStartup(IServiceProvider services, IOptions<OfflineTasksOptions> options, OfflineTasksStore store, ShardGate gate,
    ShardStateCache cache, TelemetrySettingsMonitor telemetry, OfflineTasksMetrics metrics, TimeProvider time, ILoggerFactory loggers) : IHostedService
{
    private JobStorage? _storage;
    private GateBinding? _binding;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Constructing this service already resolved (and validated) the gate's and the telemetry's settings.
        _ = options.Value;

        // Resolving Hangfire's configuration (or its storage, when AddHangfire's callback sets it) runs the AddHangfire
        // configuration callback, and with it UseOfflineTasks(): a process that only enqueues has no Hangfire server
        // to do that before this runs.
        _ = services.GetService<IGlobalConfiguration>();
        _storage = services.GetService<JobStorage>()
            ?? throw new InvalidOperationException("OfflineTasks needs Hangfire: call services.AddHangfire(c => c.UsePostgreSqlStorage(...).UseOfflineTasks()) before the host starts.");
        if (!OfflineTasksGlobalConfigurationExtensions.Installed)
        {
            throw new InvalidOperationException(
                "OfflineTasks' Hangfire filters are not installed, so jobs would run without the gate: call UseOfflineTasks() on Hangfire's configuration, "
                + "e.g. services.AddHangfire(c => c.UsePostgreSqlStorage(...).UseOfflineTasks()).");
        }

        if (options.Value.MigrateOnStart)
        {
            await new Migrator(store.DataSource, store.Schema, loggers.CreateLogger<Migrator>()).MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        metrics.ShardSource = () => cache.Current.States.Values;
        metrics.AlertRuleSource = () => telemetry.Current.Rules;
        _binding = new GateBinding(gate, store, time, metrics, loggers.CreateLogger("OfflineTasks.Hangfire"));
        GateBinding.Bind(_storage, _binding);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_storage is not null && _binding is not null)
        {
            GateBinding.Unbind(_storage, _binding);
        }

        return Task.CompletedTask;
    }
}
