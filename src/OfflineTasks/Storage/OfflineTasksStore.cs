using System.Text.RegularExpressions;
using Npgsql;

namespace OfflineTasks.Storage;

/// <summary>
/// OfflineTasks' own tables in PostgreSQL, in a schema of their own beside Hangfire's: the shard states the prober
/// shares with every process, the shard event log, the fleet-wide roles (leases) and the telemetry sample. Hangfire's
/// tables are never touched here; they are read and written only through Hangfire's APIs.
/// </summary>
public sealed partial class OfflineTasksStore
{
    /// <summary>Creates the store over <paramref name="dataSource"/>, in <paramref name="schema"/> (migrated by <see cref="Migrator"/>).</summary>
    public OfflineTasksStore(NpgsqlDataSource dataSource, string schema = Hosting.OfflineTasksOptions.DefaultSchema)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ValidateSchema(schema, nameof(schema));
        DataSource = dataSource;
        Schema = schema;
    }

    /// <summary>The connection pool the store uses.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The schema holding the tables.</summary>
    public string Schema { get; }

    /// <summary>Throws when <paramref name="schema"/> is not 1 to 40 lower-case letters, digits or '_', starting with a letter.</summary>
    internal static void ValidateSchema(string? schema, string what)
    {
        if (schema is null || !SchemaName().IsMatch(schema))
        {
            throw new ArgumentException(
                $"{what} '{schema}' is not a valid schema name: use 1 to 40 lower-case letters, digits or '_', starting with a letter.", what);
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_]{0,39}$")]
    private static partial Regex SchemaName();

    /// <summary>Takes the lock on <paramref name="shard"/>'s parked sets (see <see cref="ShardReleaseLock"/>), waiting at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">Another process held it all that time.</exception>
    internal ShardReleaseLock LockParked(string shard, TimeSpan timeout) => ShardReleaseLock.Take(DataSource, Schema, shard, timeout);

    private string Bind(string sql) => sql.Replace("{s}", Schema, StringComparison.Ordinal);
}
