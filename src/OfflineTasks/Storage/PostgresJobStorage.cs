using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Internal;
using OfflineTasks.Jobs;

namespace OfflineTasks.Storage;

/// <summary>
/// The PostgreSQL side of OfflineTasks: job rows, claims, completions, leases, scheduling, retention, and the
/// read API that dashboards and tools use. One instance per schema; thread-safe.
/// </summary>
public sealed partial class PostgresJobStorage
{
    private readonly string _insert, _notify, _claim, _complete, _registerServer, _heartbeat, _unregisterServer,
        _rescue, _promote, _prune, _delete, _get, _countByState;

    /// <summary>Creates the storage over <paramref name="dataSource"/> for the tables in <paramref name="schema"/>.</summary>
    /// <exception cref="ArgumentException">The schema name is not a valid lower-case identifier.</exception>
    public PostgresJobStorage(NpgsqlDataSource dataSource, string schema = PostgresStorageOptions.DefaultSchema)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ValidateSchema(schema, nameof(schema));
        DataSource = dataSource;
        Schema = schema;
        NotificationChannel = schema + "_job_available";
        _insert = Bind(JobSql.Insert);
        _notify = JobSql.Notify;
        _claim = Bind(JobSql.Claim);
        _complete = Bind(JobSql.Complete);
        _registerServer = Bind(JobSql.RegisterServer);
        _heartbeat = Bind(JobSql.Heartbeat);
        _unregisterServer = Bind(JobSql.UnregisterServer);
        _rescue = Bind(JobSql.Rescue);
        _promote = Bind(JobSql.Promote);
        _prune = Bind(JobSql.Prune);
        _delete = Bind(JobSql.Delete);
        _get = Bind(JobSql.Get);
        _countByState = Bind(JobSql.CountByState);
    }

    /// <summary>The connection pool the storage uses.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The schema holding the tables.</summary>
    public string Schema { get; }

    /// <summary>The LISTEN/NOTIFY channel on which new available jobs are announced (payload: the queue name).</summary>
    public string NotificationChannel { get; }

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

    private string Bind(string sql) => sql.Replace("{s}", Schema, StringComparison.Ordinal);

    // ---- client side ----

    internal async Task<long[]> InsertAsync(IReadOnlyList<Job> jobs, DateTimeOffset now, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        if (jobs.Count == 0)
        {
            return [];
        }

        var n = jobs.Count;
        var queues = new string[n];
        var priorities = new short[n];
        var shards = new string?[n];
        var types = new string[n];
        var methods = new string[n];
        var parameterTypes = new string[n];
        var args = new string[n];
        var maxAttempts = new int[n];
        var runAt = new DateTime?[n];
        var readyQueues = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var job = jobs[i];
            var options = job.Options;
            queues[i] = options.Queue;
            priorities[i] = options.Priority;
            shards[i] = options.ShardKey;
            types[i] = job.Type;
            methods[i] = job.Method;
            parameterTypes[i] = job.ParameterTypes;
            args[i] = job.Arguments;
            maxAttempts[i] = options.MaxAttempts;
            var due = options.RunAt ?? (options.Delay is { } delay ? now + delay : null);
            runAt[i] = due?.UtcDateTime;
            if (due is null || due <= now)
            {
                readyQueues.Add(options.Queue);
            }
        }

        NpgsqlConnection? owned = null;
        var connection = transaction?.Connection;
        if (connection is null)
        {
            owned = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection = owned;
        }

        try
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            var insert = new NpgsqlBatchCommand(_insert);
            insert.Parameters.Add(new NpgsqlParameter { Value = queues, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = priorities, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
            insert.Parameters.Add(new NpgsqlParameter { Value = shards, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = methods, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = parameterTypes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new NpgsqlParameter { Value = args, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new NpgsqlParameter { Value = maxAttempts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new NpgsqlParameter { Value = runAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            batch.BatchCommands.Add(insert);
            if (readyQueues.Count > 0)
            {
                // Inside the caller's transaction the notification is delivered only if it commits.
                var notify = new NpgsqlBatchCommand(_notify);
                notify.Parameters.Add(new NpgsqlParameter { Value = NotificationChannel });
                notify.Parameters.Add(new NpgsqlParameter { Value = readyQueues.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                batch.BatchCommands.Add(notify);
            }

            var ids = new long[n];
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var i = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ids[i++] = reader.GetInt64(0);
            }

            return ids;
        }
        finally
        {
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Deletes a job that is scheduled, available or failed. Returns false when it does not exist or is running or finished.</summary>
    public async Task<bool> DeleteJobAsync(long jobId, string reason, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(_delete);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = reason });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    // ---- server side ----

    internal async Task<List<ClaimedJob>> ClaimAsync(string queue, int limit, Guid serverId, string serverName, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_claim);
        command.Parameters.Add(new NpgsqlParameter { Value = queue });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        command.Parameters.Add(new NpgsqlParameter { Value = "claimed by " + serverName });
        var jobs = new List<ClaimedJob>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(new ClaimedJob(
                reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetInt32(9)));
        }

        return jobs;
    }

    internal async Task<int> CompleteAsync(Guid serverId, IReadOnlyList<JobOutcome> outcomes, CancellationToken cancellationToken)
    {
        var n = outcomes.Count;
        var ids = new long[n];
        var states = new string[n];
        var delays = new TimeSpan?[n];
        var refunds = new int[n];
        var deferred = new int[n];
        var errors = new string?[n];
        var reasons = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var o = outcomes[i];
            ids[i] = o.JobId;
            states[i] = o.NextState.ToName();
            delays[i] = o.Delay;
            refunds[i] = o.RefundAttempt ? 1 : 0;
            deferred[i] = o.Deferred ? 1 : 0;
            errors[i] = o.Error is null ? null : JsonSerializer.Serialize(o.Error, JobJson.Options);
            reasons[i] = o.Reason;
        }

        await using var command = DataSource.CreateCommand(_complete);
        command.Parameters.Add(new NpgsqlParameter { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = states, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = delays, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter { Value = refunds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = deferred, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = reasons, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal async Task RegisterServerAsync(Guid serverId, string name, IReadOnlyList<string> queues, int slots, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_registerServer);
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = queues.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = slots });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Extends the lease of every job the server holds. False when the server's row is gone (its lease expired and was taken).</summary>
    internal async Task<bool> HeartbeatAsync(Guid serverId, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_heartbeat);
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    internal async Task UnregisterServerAsync(Guid serverId, string name, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_unregisterServer);
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases the jobs of servers whose lease expired. Returns how many jobs were released and the queues to wake.</summary>
    internal async Task<(int Released, int Failed, HashSet<string> Queues)> RescueAsync(CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_rescue);
        var queues = new HashSet<string>(StringComparer.Ordinal);
        int released = 0, failed = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (reader.GetString(1) == JobStateNames.Failed)
            {
                failed++;
            }
            else
            {
                released++;
                queues.Add(reader.GetString(0));
            }
        }

        return (released, failed, queues);
    }

    /// <summary>Makes due scheduled jobs available, up to <paramref name="limit"/>. Returns how many and their queues.</summary>
    internal async Task<(int Count, HashSet<string> Queues)> PromoteDueAsync(int limit, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_promote);
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var queues = new HashSet<string>(StringComparer.Ordinal);
        var count = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            count++;
            queues.Add(reader.GetString(0));
        }

        return (count, queues);
    }

    internal async Task NotifyAsync(IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        var list = queues.ToArray();
        if (list.Length == 0)
        {
            return;
        }

        await using var command = DataSource.CreateCommand(_notify);
        command.Parameters.Add(new NpgsqlParameter { Value = NotificationChannel });
        command.Parameters.Add(new NpgsqlParameter { Value = list, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes up to <paramref name="limit"/> succeeded or deleted jobs finished more than <paramref name="retention"/> ago.</summary>
    internal async Task<int> PruneAsync(TimeSpan retention, int limit, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(_prune);
        command.Parameters.Add(new NpgsqlParameter { Value = retention });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // ---- read API ----

    /// <summary>Reads one job with its history, or <c>null</c> when there is no such job (or it was pruned).</summary>
    public async Task<JobDetails?> GetJobAsync(long jobId, CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(_get);
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new JobDetails(
            reader.GetInt64(0),
            JobStateNames.Parse(reader.GetString(1)),
            reader.GetString(2),
            reader.GetInt16(3),
            reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.GetString(5),
            reader.GetString(6),
            reader.GetString(7),
            reader.GetInt32(8),
            reader.GetInt32(9),
            reader.GetInt32(10),
            reader.GetFieldValue<DateTimeOffset>(11),
            reader.GetFieldValue<DateTimeOffset>(12),
            reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
            reader.IsDBNull(14) ? null : reader.GetFieldValue<DateTimeOffset>(14),
            reader.IsDBNull(15) ? null : JsonSerializer.Deserialize<JobError>(reader.GetString(15), JobJson.Options),
            ParseHistory(reader.GetString(16)));
    }

    /// <summary>How many jobs are in each state (states with none are included as 0).</summary>
    public async Task<IReadOnlyDictionary<JobState, long>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        var counts = Enum.GetValues<JobState>().ToDictionary(s => s, _ => 0L);
        await using var command = DataSource.CreateCommand(_countByState);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            counts[JobStateNames.Parse(reader.GetString(0))] = reader.GetInt64(1);
        }

        return counts;
    }

    private static List<JobStateTransition> ParseHistory(string json)
    {
        using var document = JsonDocument.Parse(json);
        var history = new List<JobStateTransition>(document.RootElement.GetArrayLength());
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            var from = entry.GetProperty("from");
            var reason = entry.GetProperty("reason");
            history.Add(new JobStateTransition(
                entry.GetProperty("at").GetDateTimeOffset(),
                from.ValueKind == JsonValueKind.Null ? null : JobStateNames.Parse(from.GetString()!),
                JobStateNames.Parse(entry.GetProperty("to").GetString()!),
                reason.ValueKind == JsonValueKind.Null ? null : reason.GetString()));
        }

        return history;
    }
}
