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
    private const int CopyThreshold = 64;
    private readonly string _insert, _nextIds, _copyIn, _notify, _complete, _registerServer, _heartbeat, _unregisterServer,
        _rescue, _promote, _prune, _delete, _get, _countByState;

    // Indexed by (after a cursor ? 1 : 0) + (capped ? 2 : 0).
    private readonly string[] _claims;

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
        _nextIds = Bind(JobSql.NextIds);
        _copyIn = Bind(JobSql.CopyIn);
        _notify = JobSql.Notify;
        _claims = [Bind(JobSql.Claim(false, false)), Bind(JobSql.Claim(true, false)), Bind(JobSql.Claim(false, true)), Bind(JobSql.Claim(true, true))];
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

        NpgsqlConnection? owned = null;
        var connection = transaction?.Connection;
        if (connection is null)
        {
            owned = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            connection = owned;
        }

        try
        {
            return jobs.Count >= CopyThreshold && jobs.All(j => DueAt(j, now) is null || DueAt(j, now) <= now)
                ? await CopyAsync(connection, transaction, jobs, cancellationToken).ConfigureAwait(false)
                : await InsertRowsAsync(connection, transaction, jobs, now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static DateTimeOffset? DueAt(Job job, DateTimeOffset now) =>
        job.Options.RunAt ?? (job.Options.Delay is { } delay ? now + delay : null);

    /// <summary>Any mix of jobs: one INSERT … SELECT FROM unnest(arrays) … RETURNING id, plus the notification, in one round trip.</summary>
    private async Task<long[]> InsertRowsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<Job> jobs, DateTimeOffset now, CancellationToken cancellationToken)
    {
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
        var light = new bool[n];
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
            var due = DueAt(job, now);
            runAt[i] = due?.UtcDateTime;
            light[i] = options.Light;
            if (due is null || due <= now)
            {
                readyQueues.Add(options.Queue);
            }
        }

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
        insert.Parameters.Add(new NpgsqlParameter { Value = light, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        batch.BatchCommands.Add(insert);
        if (readyQueues.Count > 0)
        {
            // Inside the caller's transaction the notification is delivered only if it commits.
            batch.BatchCommands.Add(NotifyCommand(readyQueues));
        }

        var ids = new long[n];
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var row = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            ids[row++] = reader.GetInt64(0);
        }

        return ids;
    }

    /// <summary>Many jobs due now: ids from the sequence, then a binary COPY and the notification, all or none.</summary>
    private async Task<long[]> CopyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<Job> jobs, CancellationToken cancellationToken)
    {
        var ids = new long[jobs.Count];
        await using (var next = new NpgsqlCommand(_nextIds, connection, transaction))
        {
            next.Parameters.Add(new NpgsqlParameter { Value = jobs.Count });
            await using var reader = await next.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var row = 0;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ids[row++] = reader.GetInt64(0);
            }
        }

        var own = transaction is null ? await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false) : null;
        try
        {
            var queues = new HashSet<string>(StringComparer.Ordinal);
            var importer = await connection.BeginBinaryImportAsync(_copyIn, cancellationToken).ConfigureAwait(false);
            await using (importer.ConfigureAwait(false))
            {
                for (var i = 0; i < jobs.Count; i++)
                {
                    var job = jobs[i];
                    var options = job.Options;
                    queues.Add(options.Queue);
                    await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(ids[i], NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(options.Queue, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(options.Priority, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                    if (options.ShardKey is null)
                    {
                        await importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await importer.WriteAsync(options.ShardKey, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    }

                    await importer.WriteAsync(options.Light, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);

                    await importer.WriteAsync(job.Type, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(job.Method, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(job.ParameterTypes, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(job.Arguments, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(options.MaxAttempts, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                }

                await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var batch = new NpgsqlBatch(connection, transaction ?? own))
            {
                batch.BatchCommands.Add(NotifyCommand(queues));
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            if (own is not null)
            {
                await own.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return ids;
        }
        finally
        {
            if (own is not null)
            {
                await own.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private NpgsqlBatchCommand NotifyCommand(IEnumerable<string> queues)
    {
        var notify = new NpgsqlBatchCommand(_notify);
        notify.Parameters.Add(new NpgsqlParameter { Value = NotificationChannel });
        notify.Parameters.Add(new NpgsqlParameter { Value = queues.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        return notify;
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

    /// <summary>
    /// Opens the connection a fetch loop claims on. Its commits do not wait for the WAL flush
    /// (<c>synchronous_commit = off</c>): a claim lost in a database crash only puts the job back to available,
    /// where it runs again (at-least-once), and any later durable commit (a completion) flushes the claim too.
    /// </summary>
    internal async Task<NpgsqlConnection> OpenFetchConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SET synchronous_commit = off", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// In one round trip and one transaction: writes <paramref name="outcomes"/> (durably, whatever the connection's
    /// commit setting) and claims up to <paramref name="limit"/> available jobs of <paramref name="queue"/> for the
    /// server. Either part may be empty. Returns how many outcomes were written (those of jobs the server still
    /// held) and the claimed jobs.
    /// </summary>
    internal async Task<(int Written, List<ClaimedJob> Claimed)> WriteAndClaimAsync(
        NpgsqlConnection connection, Guid serverId, IReadOnlyList<JobOutcome> outcomes, string? queue, int limit, ClaimCursor? after, ClaimFilter filter,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        NpgsqlBatchCommand? complete = null;
        if (outcomes.Count > 0)
        {
            // The fetch connection commits asynchronously (claims may be lost in a crash); outcomes may not.
            batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('synchronous_commit', 'on', true)"));
            complete = CompleteCommand(serverId, outcomes);
            batch.BatchCommands.Add(complete);
        }

        if (queue is not null && limit > 0)
        {
            var capped = filter.CappedShards.Length > 0;
            var claim = new NpgsqlBatchCommand(_claims[(after is null ? 0 : 1) + (capped ? 2 : 0)]);
            claim.Parameters.Add(new NpgsqlParameter { Value = queue });
            claim.Parameters.Add(new NpgsqlParameter { Value = limit });
            claim.Parameters.Add(new NpgsqlParameter { Value = serverId });
            claim.Parameters.Add(new NpgsqlParameter { Value = filter.ClosedShards, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            claim.Parameters.Add(new NpgsqlParameter { Value = filter.LightOnlyShards, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            if (after is { } cursor)
            {
                claim.Parameters.Add(new NpgsqlParameter { Value = cursor.NegatedPriority });
                claim.Parameters.Add(new NpgsqlParameter { Value = cursor.ScheduledAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                claim.Parameters.Add(new NpgsqlParameter { Value = cursor.Id });
            }

            if (capped)
            {
                claim.Parameters.Add(new NpgsqlParameter { Value = filter.CappedShards, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                claim.Parameters.Add(new NpgsqlParameter { Value = filter.Caps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            }
            batch.BatchCommands.Add(claim);
        }

        var jobs = new List<ClaimedJob>(limit);
        if (batch.BatchCommands.Count == 0)
        {
            return (0, jobs);
        }

        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            do
            {
                if (reader.FieldCount < 10)
                {
                    continue; // set_config's row
                }

                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    jobs.Add(new ClaimedJob(
                        reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3),
                        reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetInt32(9),
                        new ClaimCursor(reader.GetInt32(10), reader.GetDateTime(11), reader.GetInt64(0)),
                        reader.GetBoolean(12),
                        reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13)));
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        return (complete?.RecordsAffected ?? 0, jobs);
    }

    private NpgsqlBatchCommand CompleteCommand(Guid serverId, IReadOnlyList<JobOutcome> outcomes)
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

        var command = new NpgsqlBatchCommand(_complete);
        command.Parameters.Add(new NpgsqlParameter { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = states, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = delays, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Interval });
        command.Parameters.Add(new NpgsqlParameter { Value = refunds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = deferred, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new NpgsqlParameter { Value = errors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = reasons, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = serverId });
        return command;
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

        await using var batch = DataSource.CreateBatch();
        batch.BatchCommands.Add(NotifyCommand(list));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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
            History(reader));
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

    /// <summary>The stored history plus the transitions the hot path does not store (see 001_init.sql).</summary>
    private static List<JobStateTransition> History(NpgsqlDataReader reader)
    {
        var state = JobStateNames.Parse(reader.GetString(1));
        var stored = ParseHistory(reader.GetString(16));
        var history = new List<JobStateTransition>(stored.Count + 3);
        if (stored.Count == 0 || stored[0].From is not null)
        {
            history.Add(new JobStateTransition(reader.GetFieldValue<DateTimeOffset>(11), null, JobState.Available, "enqueued"));
        }

        history.AddRange(stored);
        if (state is JobState.Processing or JobState.Succeeded && !reader.IsDBNull(13))
        {
            var server = reader.IsDBNull(17) ? "?" : reader.GetGuid(17).ToString();
            history.Add(new JobStateTransition(reader.GetFieldValue<DateTimeOffset>(13), JobState.Available, JobState.Processing,
                $"attempt {reader.GetInt32(8)} on server {server}"));
        }

        if (state is JobState.Succeeded && !reader.IsDBNull(14))
        {
            history.Add(new JobStateTransition(reader.GetFieldValue<DateTimeOffset>(14), JobState.Processing, JobState.Succeeded, null));
        }

        return history;
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
