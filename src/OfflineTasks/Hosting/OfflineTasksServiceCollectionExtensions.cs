using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Client;
using OfflineTasks.Server;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hosting;

/// <summary>Registers OfflineTasks in a DI container.</summary>
public static class OfflineTasksServiceCollectionExtensions
{
    /// <summary>
    /// Registers the storage and the <see cref="IBackgroundJobClient"/>, with storage options bound from the
    /// <c>OfflineTasks</c> section of <paramref name="configuration"/> (when given) and then <paramref name="configure"/>.
    /// Options are validated when the host starts.
    /// </summary>
    public static IServiceCollection AddOfflineTasks(this IServiceCollection services, IConfiguration? configuration = null, Action<PostgresStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = OptionsRegistration.AddOptions<PostgresStorageOptions>(services, configuration, PostgresStorageOptionsValidator.SectionName, configure);

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgresStorageOptions>, PostgresStorageOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<OfflineTasksMetrics>();
        services.TryAddSingleton(sp => new OwnedDataSource(CreateDataSource(sp.GetRequiredService<IOptions<PostgresStorageOptions>>().Value.ConnectionString)));
        services.TryAddSingleton(sp => new PostgresJobStorage(
            sp.GetRequiredService<OwnedDataSource>().DataSource, sp.GetRequiredService<IOptions<PostgresStorageOptions>>().Value.Schema));
        services.TryAddSingleton<IBackgroundJobClient>(sp => new BackgroundJobClient(sp.GetRequiredService<PostgresJobStorage>(), sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    /// <summary>
    /// Registers the worker server as a hosted service, with options bound from <c>OfflineTasks:Server</c> of
    /// <paramref name="configuration"/> (when given) and then <paramref name="configure"/>. Call <see cref="AddOfflineTasks"/> too.
    /// </summary>
    public static IServiceCollection AddOfflineTasksServer(this IServiceCollection services, IConfiguration? configuration = null, Action<JobServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = OptionsRegistration.AddOptions<JobServerOptions>(services, configuration, JobServerOptions.SectionName, configure);

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobServerOptions>, JobServerOptionsValidator>());
        services.TryAddSingleton<JobServer>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<JobServer>());
        return services;
    }

    private static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0)
        {
            // The claim, completion and heartbeat statements run thousands of times a second: prepare them
            // once per connection instead of planning each execution (unless the user chose otherwise).
            builder.ConnectionStringBuilder.MaxAutoPrepare = 32;
        }

        return builder.Build();
    }

    /// <summary>The connection pool the container created, disposed with the container.</summary>
    private sealed class OwnedDataSource(NpgsqlDataSource dataSource) : IAsyncDisposable
    {
        public NpgsqlDataSource DataSource { get; } = dataSource;

        public ValueTask DisposeAsync() => DataSource.DisposeAsync();
    }
}
