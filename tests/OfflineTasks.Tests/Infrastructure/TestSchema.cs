using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage;
using Hangfire.Storage.Monitoring;
using Npgsql;
using OfflineTasks.Hangfire;
using OfflineTasks.Storage;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// Two schemas of their own for one test (River's habit): Hangfire's (a real Hangfire.PostgreSql storage) and
/// OfflineTasks' (migrated), dropped afterwards.
/// </summary>
public sealed class TestSchema : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>How soon a dead worker's job is fetched again, in tests.</summary>
    public static readonly TimeSpan InvisibilityTimeout = TimeSpan.FromSeconds(5);

    public TestSchema() : this(SharedPostgres.Instance) { }

    internal TestSchema(LocalPostgres server)
    {
        Server = server;
        var id = Guid.NewGuid().ToString("N")[..12];
        Name = "t_" + id;
        HangfireSchema = "hf_" + id;
        DataSource = NpgsqlDataSource.Create(server.ConnectionString);
        Store = new OfflineTasksStore(DataSource, Name);
    }

    public LocalPostgres Server { get; }

    /// <summary>OfflineTasks' schema.</summary>
    public string Name { get; }

    /// <summary>Hangfire's schema.</summary>
    public string HangfireSchema { get; }

    public NpgsqlDataSource DataSource { get; }

    public OfflineTasksStore Store { get; }

    /// <summary>Hangfire's storage over <see cref="HangfireSchema"/>, with the options OfflineTasks recommends (shorter timeouts for tests).</summary>
    public PostgreSqlStorage Storage { get; private set; } = null!;

    /// <summary>A Hangfire client over <see cref="Storage"/>, with the process-wide filters (OfflineTasks' among them).</summary>
    public IBackgroundJobClient Client { get; private set; } = null!;

    public IMonitoringApi Monitoring => Storage.GetMonitoringApi();

    public async Task InitializeAsync()
    {
        HangfireSetup.EnsureInstalled();
        await new Migrator(DataSource, Name).MigrateAsync();
        Storage = new PostgreSqlStorage(new NpgsqlConnectionFactory(Server.ConnectionString, Options()), Options());
        Client = new BackgroundJobClient(Storage);
    }

    /// <summary>
    /// How long a lock left by a killed process blocks its job's state changes, in tests (Hangfire.PostgreSql's
    /// DistributedLockTimeout; 10 min by default).
    /// </summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    private PostgreSqlStorageOptions Options() =>
        new PostgreSqlStorageOptions { SchemaName = HangfireSchema, PrepareSchemaIfNecessary = true, DistributedLockTimeout = LockTimeout }
            .ForOfflineJobs(InvisibilityTimeout, TimeSpan.FromMilliseconds(100));

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());

    public async Task DisposeAsync()
    {
        try
        {
            await using var command = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS {Name} CASCADE; DROP SCHEMA IF EXISTS {HangfireSchema} CASCADE");
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The server may already be gone (restart tests); the data directory is throw-away.
        }

        await DataSource.DisposeAsync();
    }

    /// <summary>The job's current state's name, or null when it does not exist.</summary>
    public string? StateOf(string id) => Monitoring.JobDetails(id)?.History.FirstOrDefault()?.StateName;

    /// <summary>The job's history, oldest first.</summary>
    public IReadOnlyList<StateHistoryDto> HistoryOf(string id) => Monitoring.JobDetails(id)?.History.AsEnumerable().Reverse().ToList() ?? [];

    public string? ParameterOf(string id, string name)
    {
        using var connection = Storage.GetConnection();
        return connection.GetJobParameter(id, name);
    }

    /// <summary>The members of a Hangfire set (e.g. a shard's parked jobs).</summary>
    public HashSet<string> SetMembers(string key)
    {
        using var connection = Storage.GetConnection();
        return connection.GetAllItemsFromSet(key);
    }

    /// <summary>
    /// Waits until every job is in <paramref name="state"/>. Many jobs are watched through the counts of Hangfire's
    /// statistics (the schema holds only this test's jobs) and checked one by one once the count is reached.
    /// </summary>
    public async Task WaitForStateAsync(IEnumerable<string> ids, string state, TimeSpan? within = null)
    {
        var list = ids.ToList();
        var timeout = within ?? TimeSpan.FromSeconds(40);
        if (list.Count > 50 && CountOf(state) is not null)
        {
            await Eventually.Until(() => Task.FromResult(CountOf(state)!.Value), n => n >= list.Count, timeout, $"{list.Count} jobs to be {state}");
        }

        await Eventually.Until(() => Task.FromResult(list.Select(StateOf).ToList()),
            states => states.All(s => s == state), timeout,
            $"{list.Count} job(s) to be {state}");
    }

    private long? CountOf(string state)
    {
        var statistics = Monitoring.GetStatistics();
        return state switch
        {
            "Succeeded" => statistics.Succeeded,
            "Enqueued" => statistics.Enqueued,
            "Processing" => statistics.Processing,
            "Failed" => statistics.Failed,
            "Scheduled" => statistics.Scheduled,
            _ => null,
        };
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{s}", Name, StringComparison.Ordinal).Replace("{hf}", HangfireSchema, StringComparison.Ordinal));
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return await command.ExecuteScalarAsync() is T value ? value : default!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{s}", Name, StringComparison.Ordinal).Replace("{hf}", HangfireSchema, StringComparison.Ordinal));
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>Hangfire's process-wide configuration for the tests: OfflineTasks' filters, and a recorder of elections to Processing.</summary>
public static class HangfireSetup
{
    /// <summary>Hangfire's errors go to the console; the process outlives any one host's logger factory.</summary>
    public static readonly global::Hangfire.Logging.ILogProvider LogProvider = new global::Hangfire.Logging.LogProviders.ColouredConsoleLogProvider(global::Hangfire.Logging.LogLevel.Error);

    private static readonly Lazy<bool> Installed = new(() =>
    {
        GlobalConfiguration.Configuration.UseOfflineTasks().UseLogProvider(LogProvider);
        GlobalJobFilters.Filters.Add(ProcessingRecorder.Instance, int.MaxValue);
        return true;
    });

    public static void EnsureInstalled() => _ = Installed.Value;
}
