using Npgsql;
using OfflineTasks.Storage;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Storage;

public class MigratorTests
{
    [Fact]
    public async Task Concurrent_migrations_apply_each_migration_exactly_once_and_rerunning_is_a_no_op()
    {
        var schema = "t_mig_" + Guid.NewGuid().ToString("N")[..8];
        await using var dataSource = NpgsqlDataSource.Create(SharedPostgres.Instance.ConnectionString);
        try
        {
            var applied = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => new Migrator(dataSource, schema).MigrateAsync())));

            Assert.Equal(Migrator.Known.Count, applied.Sum());
            Assert.Equal(0, await new Migrator(dataSource, schema).MigrateAsync());
            await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {schema}.schema_migration");
            Assert.Equal((long)Migrator.Known.Count, await command.ExecuteScalarAsync());
        }
        finally
        {
            await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public void Rejects_a_schema_name_that_is_not_a_plain_identifier()
    {
        using var dataSource = NpgsqlDataSource.Create(SharedPostgres.Instance.ConnectionString);
        var e = Assert.Throws<ArgumentException>(() => new Migrator(dataSource, "jobs; DROP TABLE x"));
        Assert.Contains("'jobs; DROP TABLE x' is not a valid schema name", e.Message);
    }
}
