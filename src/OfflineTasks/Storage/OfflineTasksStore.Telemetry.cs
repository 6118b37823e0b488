using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Alerts;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Storage;

// The telemetry sampler's reads and writes of the shared fleet-wide gauges and alert states.
public sealed partial class OfflineTasksStore
{
    /// <summary>Replaces the shared gauges and writes the alert states, in one transaction, only while <paramref name="holder"/> holds <paramref name="role"/>.</summary>
    internal async Task<bool> WriteFleetAsync(string role, Guid holder, TimeSpan lease, DateTimeOffset sampledAt, IReadOnlyList<FleetGauge> gauges,
        IReadOnlyDictionary<string, AlertState> alerts, CancellationToken cancellationToken)
    {
        return await WriteAsLeaderAsync(role, holder, lease, (_, Command) =>
        {
            Command(TelemetrySql.DeleteGauges);
            var replace = Command(TelemetrySql.InsertGauges);
            replace.Parameters.Add(new NpgsqlParameter { Value = sampledAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            replace.Parameters.Add(TextArray(gauges.Select(g => g.Metric)));
            replace.Parameters.Add(TextArray(gauges.Select(g => g.Subject)));
            replace.Parameters.Add(TextArray(gauges.Select(g => g.State)));
            replace.Parameters.Add(new NpgsqlParameter { Value = gauges.Select(g => g.Value).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });

            var write = Command(TelemetrySql.WriteAlerts);
            write.Parameters.Add(TextArray(alerts.Keys));
            write.Parameters.Add(TextArray(alerts.Values.Select(a => a.Status.ToString().ToLowerInvariant())));
            write.Parameters.Add(new NpgsqlParameter { Value = alerts.Values.Select(a => a.Since.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            write.Parameters.Add(new NpgsqlParameter { Value = alerts.Values.Select(a => a.FiredAt?.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            write.Parameters.Add(new NpgsqlParameter { Value = alerts.Values.Select(a => a.Value).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
            write.Parameters.Add(new NpgsqlParameter { Value = alerts.Values.Select(a => a.ResolvedAt?.UtcDateTime).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });

            Command(TelemetrySql.AppendHistory).Parameters.Add(new NpgsqlParameter { Value = sampledAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            Command(TelemetrySql.TrimHistory).Parameters.Add(new NpgsqlParameter { Value = sampledAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        }, cancellationToken).ConfigureAwait(false);
    }

    internal async Task<FleetSnapshot> ReadFleetAsync(CancellationToken cancellationToken)
    {
        await using var batch = DataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Bind(TelemetrySql.ReadGauges)));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Bind(TelemetrySql.ReadAlerts)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var gauges = new List<FleetGauge>();
        DateTimeOffset? sampledAt = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            gauges.Add(new FleetGauge(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetDouble(3)));
            sampledAt = reader.GetFieldValue<DateTimeOffset>(4);
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var alerts = new Dictionary<string, AlertState>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            alerts[reader.GetString(0)] = new AlertState(
                Enum.Parse<AlertStatus>(reader.GetString(1), ignoreCase: true),
                reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3),
                reader.IsDBNull(4) ? null : reader.GetDouble(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
        }

        return new FleetSnapshot(gauges, alerts, sampledAt);
    }

    /// <summary>
    /// A shard's recent past, oldest first, one point per telemetry sample since <paramref name="since"/>: its mode, its
    /// parked jobs and its masters' worst signals (kept for a day).
    /// </summary>
    internal async Task<IReadOnlyList<ShardHistoryPoint>> GetShardHistoryAsync(string shard, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = DataSource.CreateCommand(Bind(TelemetrySql.ReadHistory));
        command.Parameters.Add(new NpgsqlParameter { Value = shard });
        command.Parameters.Add(new NpgsqlParameter { Value = since.ToUniversalTime() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var points = new List<ShardHistoryPoint>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            points.Add(new ShardHistoryPoint(reader.GetFieldValue<DateTimeOffset>(0), Gate.ShardModeNames.Parse(reader.GetString(1)), reader.GetDouble(2),
                reader.IsDBNull(3) ? null : reader.GetDouble(3), reader.IsDBNull(4) ? null : reader.GetDouble(4), reader.IsDBNull(5) ? null : reader.GetDouble(5)));
        }

        return points;
    }
}
