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

    [Fact]
    public async Task A_schema_of_the_former_job_engine_is_refused_with_what_to_do_and_left_untouched()
    {
        var schema = "t_old_" + Guid.NewGuid().ToString("N")[..8];
        await using var dataSource = NpgsqlDataSource.Create(SharedPostgres.Instance.ConnectionString);
        try
        {
            await using (var create = dataSource.CreateCommand($"""
                CREATE SCHEMA {schema};
                CREATE TABLE {schema}.schema_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
                INSERT INTO {schema}.schema_migration (version, name) VALUES (1, 'init'), (2, 'gate'), (3, 'telemetry'), (4, 'parked_indexes');
                CREATE TABLE {schema}.job (id bigint PRIMARY KEY);
                INSERT INTO {schema}.job VALUES (42);
                """))
            {
                await create.ExecuteNonQueryAsync();
            }

            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => new Migrator(dataSource, schema).MigrateAsync());

            Assert.StartsWith($"Schema '{schema}' holds the tables of OfflineTasks' former job engine", e.Message, StringComparison.Ordinal);
            Assert.Contains("or configure another OfflineTasks:Schema", e.Message, StringComparison.Ordinal);
            await using var count = dataSource.CreateCommand($"SELECT count(*) FROM {schema}.job");
            Assert.Equal(1L, await count.ExecuteScalarAsync());
        }
        finally
        {
            await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE");
            await drop.ExecuteNonQueryAsync();
        }
    }
}
