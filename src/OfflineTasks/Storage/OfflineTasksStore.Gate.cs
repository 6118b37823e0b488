using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Gate;

namespace OfflineTasks.Storage;

// The gate's tables: shard states written by the prober (the fleet's leader) and read by every process, the shard
// state log, and fleet-wide roles.
public sealed partial class OfflineTasksStore : IShardStateStore
{
    /// <summary>The LISTEN/NOTIFY channel on which changed shard states are announced.</summary>
    public string ShardStateChannel => Schema + "_shard_state";

    /// <summary>The latest state of every shard the prober knows, with its reason and per-master signals.</summary>
    public async Task<IReadOnlyList<ShardState>> GetShardStatesAsync(CancellationToken cancellationToken = default) =>
        (await ((IShardStateStore)this).ReadStatesAsync(cancellationToken).ConfigureAwait(false)).States;

    /// <summary>The shard state log, newest first: every close, reopen, change to light-only and removal from the configuration, with its reason.</summary>
    /// <param name="shard">Only this shard's events; null for all.</param>
    /// <param name="limit">At most this many events (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<ShardEvent>> GetShardEventsAsync(string? shard = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = DataSource.CreateCommand(Bind(GateSql.ReadEvents));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)shard ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<ShardEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new ShardEvent(reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : ShardModeNames.Parse(reader.GetString(3)), ShardModeNames.Parse(reader.GetString(4)), reader.GetString(5)));
        }

        return events;
    }

    async Task<bool?> ILeadership.TryLeadAsync(string role, Guid holder, string holderName, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(GateSql.TryLead));
        command.Parameters.Add(new NpgsqlParameter { Value = role });
        command.Parameters.Add(new NpgsqlParameter { Value = holder });
        command.Parameters.Add(new NpgsqlParameter { Value = holderName });
        command.Parameters.Add(new NpgsqlParameter { Value = lease });
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return result is bool acquired ? acquired : null;
    }

    async Task ILeadership.ResignAsync(string role, Guid holder, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(GateSql.Resign));
        command.Parameters.Add(new NpgsqlParameter { Value = role });
        command.Parameters.Add(new NpgsqlParameter { Value = holder });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    async Task<ShardStateSnapshot> IShardStateStore.ReadStatesAsync(CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(GateSql.ReadStates));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var states = new List<ShardState>();
        var policies = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var shard = reader.GetString(0);
            var policy = reader.GetString(5);
            policies[shard] = policy;
            var (holding, kind) = ShardPolicyJson.Holding(policy);
            states.Add(new ShardState(
                shard,
                ShardModeNames.Parse(reader.GetString(1)),
                reader.IsDBNull(2) ? "" : reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3),
                holding,
                reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(6),
                reader.GetTimeSpan(7),
                kind));
        }

        return new ShardStateSnapshot(states, policies);
    }

    async Task<bool> IShardStateStore.WriteStatesAsync(string role, Guid holder, TimeSpan lease, IReadOnlyList<ShardStateWrite> states, IReadOnlyList<ShardEventWrite> events,
        CancellationToken cancellationToken)
    {
        return await WriteAsLeaderAsync(role, holder, lease, (batch, Command) =>
        {
            var write = Command(GateSql.WriteStates);
            write.Parameters.Add(TextArray(states.Select(s => s.Shard)));
            write.Parameters.Add(TextArray(states.Select(s => ShardModeNames.Name(s.Mode))));
            write.Parameters.Add(TextArray(states.Select(s => s.Reason)));
            write.Parameters.Add(new NpgsqlParameter { Value = states.Select(s => s.ChangedAt.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            write.Parameters.Add(new NpgsqlParameter { Value = states.Select(s => s.SignalsJson).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
            write.Parameters.Add(new NpgsqlParameter { Value = states.Select(s => s.PolicyJson).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });

            if (events.Count > 0)
            {
                var insert = Command(GateSql.InsertEvents);
                insert.Parameters.Add(TextArray(events.Select(e => e.Event.Shard)));
                insert.Parameters.Add(TextArray(events.Select(e => e.Event.From is { } from ? ShardModeNames.Name(from) : null)));
                insert.Parameters.Add(TextArray(events.Select(e => ShardModeNames.Name(e.Event.To))));
                insert.Parameters.Add(TextArray(events.Select(e => e.Event.Reason)));
                insert.Parameters.Add(TextArray(events.Select(e => e.Notice.Text)));
                insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.Notice.BodyJson()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });

                var notify = new NpgsqlBatchCommand("SELECT pg_notify($1, '')");
                notify.Parameters.Add(new NpgsqlParameter { Value = ShardStateChannel });
                batch.BatchCommands.Add(notify);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    async Task IShardStateStore.AnnounceClosingAsync(string role, Guid holder, IReadOnlyList<ShardClosing> closing, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(GateSql.AnnounceClosing));
        command.Parameters.Add(new NpgsqlParameter { Value = role });
        command.Parameters.Add(new NpgsqlParameter { Value = holder });
        command.Parameters.Add(new NpgsqlParameter { Value = ShardStateChannel });
        command.Parameters.Add(TextArray(closing.Select(c => c.Payload())));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Renews <paramref name="holder"/>'s lease on <paramref name="role"/> and runs the statements <paramref name="build"/> adds,
    /// in one transaction that commits only if the holder still held the role: a leader paused past its lease must not
    /// overwrite its successor's writes. <paramref name="build"/> gets the batch and a factory of commands whose first two
    /// parameters are the role and the holder.
    /// </summary>
    private async Task<bool> WriteAsLeaderAsync(string role, Guid holder, TimeSpan lease, Action<NpgsqlBatch, Func<string, NpgsqlBatchCommand>> build,
        CancellationToken cancellationToken)
    {
        await using var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);

        NpgsqlBatchCommand Command(string sql)
        {
            var c = new NpgsqlBatchCommand(Bind(sql));
            c.Parameters.Add(new NpgsqlParameter { Value = role });
            c.Parameters.Add(new NpgsqlParameter { Value = holder });
            batch.BatchCommands.Add(c);
            return c;
        }

        // The commit does not wait for the WAL flush: these rows are rewritten every round, and waiting would only delay
        // the NOTIFY that tells every process of a closed shard. A database crash can lose the last fraction of a
        // second of them (and of the event log), never a job.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL synchronous_commit = off"));
        var renew = Command(GateSql.RenewForWrite);
        renew.Parameters.Add(new NpgsqlParameter { Value = lease });
        build(batch, Command);
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (renew.RecordsAffected == 0)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static NpgsqlParameter TextArray(IEnumerable<string?> values) =>
        new() { Value = values.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };
}
