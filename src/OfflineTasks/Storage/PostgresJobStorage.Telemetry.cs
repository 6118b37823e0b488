using Npgsql;
using NpgsqlTypes;
using OfflineTasks.Alerts;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Storage;

// The telemetry sampler's reads and writes: counts from partial indexes, the shared fleet-wide gauges, alert states.
public sealed partial class PostgresJobStorage
{
    /// <summary>
    /// One sample of the queues; <paramref name="notOpenShards"/> are the shards whose available jobs count as parked.
    /// The available jobs (the largest count) are counted on one connection while the rest are counted on another, so
    /// a sample takes about as long as its largest part; the server does the same work either way.
    /// </summary>
    internal async Task<QueueCounts> CountQueuesAsync(IReadOnlyCollection<string> notOpenShards, CancellationToken cancellationToken)
    {
        var availableTask = CountAvailableAsync(cancellationToken);
        var othersTask = CountOthersAsync(notOpenShards, cancellationToken);
        var (available, now) = await availableTask.ConfigureAwait(false);
        var (scheduled, processing, failed, shards) = await othersTask.ConfigureAwait(false);
        return new QueueCounts(now, available, scheduled, processing, failed, shards);
    }

    private async Task<(Dictionary<string, (long, DateTimeOffset?)> Available, DateTimeOffset Now)> CountAvailableAsync(CancellationToken cancellationToken)
    {
        await using var batch = DataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(Bind(TelemetrySql.SampleAvailable)));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(TelemetrySql.Now));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var available = new Dictionary<string, (long, DateTimeOffset?)>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            available[reader.GetString(0)] = (reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (available, reader.GetFieldValue<DateTimeOffset>(0));
    }

    private async Task<(Dictionary<string, long> Scheduled, Dictionary<string, long> Processing, Dictionary<string, long> Failed,
        Dictionary<string, (long Available, long Deferred)> Shards)> CountOthersAsync(IReadOnlyCollection<string> notOpenShards, CancellationToken cancellationToken)
    {
        await using var batch = DataSource.CreateBatch();
        foreach (var sql in new[] { TelemetrySql.SampleScheduled, TelemetrySql.SampleProcessing, TelemetrySql.SampleFailed, TelemetrySql.SampleParked })
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(Bind(sql)));
        }

        batch.BatchCommands[3].Parameters.Add(TextArray(notOpenShards));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);

        async Task<Dictionary<string, long>> CountsAsync()
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetString(0)] = reader.GetInt64(1);
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            return counts;
        }

        var scheduled = await CountsAsync().ConfigureAwait(false);
        var processing = await CountsAsync().ConfigureAwait(false);
        var failed = await CountsAsync().ConfigureAwait(false);
        var shards = new Dictionary<string, (long Available, long Deferred)>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (parked, deferred) = shards.GetValueOrDefault(reader.GetString(0));
            shards[reader.GetString(0)] = (parked + reader.GetInt64(1), deferred + reader.GetInt64(2));
        }

        return (scheduled, processing, failed, shards);
    }

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
                reader.IsDBNull(4) ? null : reader.GetDouble(4));
        }

        return new FleetSnapshot(gauges, alerts, sampledAt);
    }
}
