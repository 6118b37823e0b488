using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Gate;

namespace OfflineTasks.Storage;

// Operators' switches: a shard forced closed or open, and the audit log of every change. The prober applies them.
public sealed partial class OfflineTasksStore
{
    /// <summary>
    /// Forces <paramref name="shard"/> closed or open (replacing any switch it has) and records it in the audit log,
    /// in one transaction. The prober applies it within a probe interval, and clears it at <paramref name="until"/>.
    /// </summary>
    /// <param name="shard">The shard.</param>
    /// <param name="mode"><see cref="ShardMode.Closed"/> or <see cref="ShardMode.Open"/>.</param>
    /// <param name="reason">Why; required, at most <see cref="ShardSwitch.MaxReason"/> characters.</param>
    /// <param name="actor">Who: the authenticated user, or <c>local</c>.</param>
    /// <param name="at">Now.</param>
    /// <param name="until">When it clears itself (after <paramref name="at"/>); null: when an operator clears it.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <exception cref="ArgumentException">A value is missing or out of range; the message names it.</exception>
    public async Task<ShardSwitch> SetSwitchAsync(string shard, ShardMode mode, string reason, string actor, DateTimeOffset at, DateTimeOffset? until = null,
        CancellationToken cancellationToken = default)
    {
        var sw = ValidSwitch(shard, mode, reason, actor, at, until);
        await using var command = DataSource.CreateCommand(Bind(SwitchSql.Set));
        command.Parameters.Add(new NpgsqlParameter { Value = sw.Shard });
        command.Parameters.Add(new NpgsqlParameter { Value = ShardModeNames.Name(sw.Mode) });
        command.Parameters.Add(new NpgsqlParameter { Value = sw.Reason });
        command.Parameters.Add(new NpgsqlParameter { Value = sw.Actor });
        command.Parameters.Add(new NpgsqlParameter { Value = sw.SetAt.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)sw.Until?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = sw.Mode == ShardMode.Open ? "force_open" : "force_closed" });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return sw;
    }

    /// <summary>Clears <paramref name="shard"/>'s switch, if it has one, and records who and why; the gate's own decision returns within a probe interval. Returns whether there was one.</summary>
    /// <param name="shard">The shard.</param>
    /// <param name="actor">Who.</param>
    /// <param name="reason">Why (optional).</param>
    /// <param name="at">Now.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public async Task<bool> ClearSwitchAsync(string shard, string actor, string? reason, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(shard);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        await using var command = DataSource.CreateCommand(Bind(SwitchSql.Clear));
        command.Parameters.Add(new NpgsqlParameter { Value = shard });
        command.Parameters.Add(new NpgsqlParameter { Value = at.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = actor.Trim() });
        command.Parameters.Add(new NpgsqlParameter { Value = string.IsNullOrWhiteSpace(reason) ? DBNull.Value : reason.Trim(), NpgsqlDbType = NpgsqlDbType.Text });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>Every switch set, in force or past its time but not yet cleared by the prober.</summary>
    public async Task<IReadOnlyList<ShardSwitch>> GetSwitchesAsync(CancellationToken cancellationToken = default)
    {
        await using var command = DataSource.CreateCommand(Bind(SwitchSql.Read));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadSwitchesAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The switches' audit log, newest first.</summary>
    /// <param name="shard">Only this shard's entries; null for all.</param>
    /// <param name="limit">At most this many (1 to 10,000).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<SwitchChange>> GetSwitchAuditAsync(string? shard = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = DataSource.CreateCommand(Bind(SwitchSql.ReadAudit));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)shard ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var changes = new List<SwitchChange>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SwitchChange(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return changes;
    }

    /// <summary>Clears the switches whose time is up at <paramref name="now"/> (recording each), then reads the rest: the prober's view, each round.</summary>
    async Task<IReadOnlyDictionary<string, ShardSwitch>> IShardStateStore.ReadSwitchesAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One round trip, every probe round: the expiry, then the read.
        await using var batch = DataSource.CreateBatch();
        var expire = new NpgsqlBatchCommand(Bind(SwitchSql.Expire));
        expire.Parameters.Add(new NpgsqlParameter { Value = now.ToUniversalTime() });
        batch.BatchCommands.Add(expire);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Bind(SwitchSql.Read)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return (await ReadSwitchesAsync(reader, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.Shard, StringComparer.Ordinal);
    }

    private static async Task<IReadOnlyList<ShardSwitch>> ReadSwitchesAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var switches = new List<ShardSwitch>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            switches.Add(new ShardSwitch(reader.GetString(0), ShardModeNames.Parse(reader.GetString(1)), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return switches;
    }

    private static ShardSwitch ValidSwitch(string shard, ShardMode mode, string reason, string actor, DateTimeOffset at, DateTimeOffset? until)
    {
        if (string.IsNullOrWhiteSpace(shard))
        {
            throw new ArgumentException("A switch needs a shard.", nameof(shard));
        }

        if (mode is not (ShardMode.Closed or ShardMode.Open))
        {
            throw new ArgumentException($"A switch forces a shard closed or open, not {ShardModeNames.Name(mode)}.", nameof(mode));
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new ArgumentException($"A switch on shard {shard} needs a reason: say why it is forced {ShardModeNames.Name(mode)}.", nameof(reason));
        }

        if (reason.Trim().Length > ShardSwitch.MaxReason)
        {
            throw new ArgumentException($"The reason for the switch on shard {shard} is {reason.Trim().Length} characters long; at most {ShardSwitch.MaxReason} are kept.", nameof(reason));
        }

        if (string.IsNullOrWhiteSpace(actor))
        {
            throw new ArgumentException($"A switch on shard {shard} needs an actor: the user who sets it, or \"local\".", nameof(actor));
        }

        if (until is { } u && u <= at)
        {
            throw new ArgumentException($"The switch on shard {shard} would expire at {u:u}, which is not after now ({at:u}).", nameof(until));
        }

        return new ShardSwitch(shard.Trim(), mode, reason.Trim(), actor.Trim(), at, until);
    }
}
