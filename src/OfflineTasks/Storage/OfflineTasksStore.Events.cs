using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Alerts;

namespace OfflineTasks.Storage;

// The fleet's one operations stream: every event the log and the chat webhook get, for the dashboard.
public sealed partial class OfflineTasksStore
{
    /// <summary>
    /// The operations stream, newest first: closures and reopenings, releases, switches, alerts, deadline breaches and
    /// configuration reloads, each with the line and the JSON that went to chat.
    /// </summary>
    /// <param name="shard">Only this shard's events (and the reloads of the gate's settings, which affect every shard); null for all.</param>
    /// <param name="limit">At most this many (1 to 10,000).</param>
    /// <param name="before">Only events older than the one with this id (the next page); null for the newest.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<OperationsEvent>> GetEventsAsync(string? shard = null, int limit = 100, long? before = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        await using var command = DataSource.CreateCommand(Bind(GateSql.ReadStream));
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)shard ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var events = new List<OperationsEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            events.Add(new OperationsEvent(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5)));
        }

        return events;
    }

    /// <summary>Appends one event to the stream.</summary>
    internal async Task AppendEventAsync(Notice notice, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(GateSql.AppendEvent));
        command.Parameters.Add(new NpgsqlParameter { Value = notice.Kind });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)notice.Shard ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = notice.At.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = notice.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = notice.BodyJson() });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
