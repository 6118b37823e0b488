using Npgsql;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>A migrated schema of its own for one test class (River's habit), dropped afterwards.</summary>
public sealed class TestSchema : IAsyncLifetime, IAsyncDisposable
{
    public TestSchema() : this(SharedPostgres.Instance) { }

    internal TestSchema(LocalPostgres server)
    {
        Server = server;
        Name = "t_" + Guid.NewGuid().ToString("N")[..12];
        DataSource = NpgsqlDataSource.Create(server.ConnectionString);
        Storage = new PostgresJobStorage(DataSource, Name);
        Client = new BackgroundJobClient(Storage);
    }

    public LocalPostgres Server { get; }

    public string Name { get; }

    public NpgsqlDataSource DataSource { get; }

    public PostgresJobStorage Storage { get; }

    public IBackgroundJobClient Client { get; }

    public async Task InitializeAsync() => await new Migrator(DataSource, Name).MigrateAsync();

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());

    public async Task DisposeAsync()
    {
        try
        {
            await using var command = DataSource.CreateCommand($"DROP SCHEMA IF EXISTS {Name} CASCADE");
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The server may already be gone (restart tests); the data directory is throw-away.
        }

        await DataSource.DisposeAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{s}", Name, StringComparison.Ordinal));
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{s}", Name, StringComparison.Ordinal));
        await command.ExecuteNonQueryAsync();
    }

    public Task<JobDetails> JobAsync(long id) => Storage.GetJobAsync(id).ContinueWith(t => t.Result ?? throw new InvalidOperationException($"job {id} not found"), TaskScheduler.Default);
}
