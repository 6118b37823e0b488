using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OfflineTasks.Storage;

/// <summary>
/// Applies the embedded, numbered migrations (<c>Storage/Migrations/NNN_name.sql</c>) of OfflineTasks' own tables to a
/// schema, each in its own transaction, under a session advisory lock so several processes starting at once apply each
/// exactly once. Hangfire's tables are Hangfire.PostgreSql's business, in Hangfire's own schema.
/// </summary>
public sealed class Migrator
{
    private const string ResourcePrefix = "OfflineTasks.Migrations.";
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema;
    private readonly ILogger _logger;

    /// <summary>Creates a migrator for <paramref name="schema"/>.</summary>
    public Migrator(NpgsqlDataSource dataSource, string schema, ILogger<Migrator>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        OfflineTasksStore.ValidateSchema(schema, nameof(schema));
        _dataSource = dataSource;
        _schema = schema;
        _logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The migrations this build knows, in order.</summary>
    internal static IReadOnlyList<(int Version, string Name, string Sql)> Known { get; } = LoadMigrations();

    /// <summary>Applies every migration not yet applied. Returns how many were applied (0 when up to date). Idempotent.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var lockKey = "offlinetasks.migrate." + _schema;
        await Execute(connection, "SELECT pg_advisory_lock(hashtextextended($1, 0))", cancellationToken, lockKey).ConfigureAwait(false);
        try
        {
            await Execute(connection, $"""
                CREATE SCHEMA IF NOT EXISTS {_schema};
                CREATE TABLE IF NOT EXISTS {_schema}.schema_migration (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken).ConfigureAwait(false);

            var applied = new Dictionary<int, string>();
            await using (var command = new NpgsqlCommand($"SELECT version, name FROM {_schema}.schema_migration", connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    applied[reader.GetInt32(0)] = reader.GetString(1);
                }
            }

            ThrowIfOldEngine(applied);
            var count = 0;
            foreach (var (version, name, sql) in Known)
            {
                if (applied.ContainsKey(version))
                {
                    continue;
                }

                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await Execute(connection, sql.Replace("{schema}", _schema, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
                await Execute(connection, $"INSERT INTO {_schema}.schema_migration (version, name) VALUES ($1, $2)", cancellationToken, version, name).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("Applied migration {Version:000} {Name} to schema {Schema}", version, name, _schema);
                count++;
            }

            return count;
        }
        finally
        {
            await Execute(connection, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", CancellationToken.None, lockKey).ConfigureAwait(false);
        }
    }

    // Before OfflineTasks ran on Hangfire, its own job engine kept its jobs in this schema (migrations 001_init to
    // 004); those tables mean nothing to Hangfire, and the migrations of the same numbers here are different ones.
    // Its first migration is the one named 'init'.
    private void ThrowIfOldEngine(Dictionary<int, string> applied)
    {
        if (applied.TryGetValue(1, out var first) && first == "init")
        {
            throw new InvalidOperationException(
                $"Schema '{_schema}' holds the tables of OfflineTasks' former job engine (migrations 001_init to 004), which ran before it moved to Hangfire. "
                + "Its jobs cannot be run by Hangfire: drain them with the old version, then drop the schema (DROP SCHEMA " + _schema + " CASCADE), or configure another OfflineTasks:Schema.");
        }
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static List<(int, string, string)> LoadMigrations()
    {
        var assembly = typeof(Migrator).Assembly;
        var migrations = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var fileName = resource[ResourcePrefix.Length..];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName[..underscore], out var version))
            {
                throw new InvalidOperationException($"Embedded migration '{fileName}' must be named NNN_name.sql.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add((version, Path.GetFileNameWithoutExtension(fileName)[(underscore + 1)..], reader.ReadToEnd()));
        }

        migrations.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return migrations;
    }
}
