using OfflineTasks.Alerts;

namespace OfflineTasks.Telemetry;

/// <summary>One series of a fleet-wide gauge, as the leader stored it.</summary>
/// <param name="Metric"><c>queue_depth</c>, <c>queue_oldest_age</c>, <c>jobs</c> or <c>shard_parked</c>.</param>
/// <param name="Subject">The queue or the shard; empty for <c>jobs</c>.</param>
/// <param name="State">For <c>queue_depth</c>: enqueued or fetched; for <c>jobs</c>: scheduled, processing or failed; empty otherwise.</param>
/// <param name="Value">The value.</param>
internal readonly record struct FleetGauge(string Metric, string Subject, string State, double Value)
{
    public const string QueueDepth = "queue_depth";
    public const string QueueOldestAge = "queue_oldest_age";
    public const string Jobs = "jobs";
    public const string ShardParked = "shard_parked";
}

/// <summary>The fleet-wide gauges and alert states every process exports, as last read (or written, by the leader).</summary>
internal sealed record FleetSnapshot(IReadOnlyList<FleetGauge> Gauges, IReadOnlyDictionary<string, AlertState> Alerts, DateTimeOffset? SampledAt)
{
    public static FleetSnapshot Empty { get; } = new([], new Dictionary<string, AlertState>(), null);

    public double? Value(string metric, string subject, string state = "")
    {
        foreach (var g in Gauges)
        {
            if (g.Metric == metric && g.Subject == subject && g.State == state)
            {
                return g.Value;
            }
        }

        return null;
    }
}

/// <summary>One point of a shard's recent past, as the telemetry leader recorded it at a sample.</summary>
internal sealed record ShardHistoryPoint(DateTimeOffset At, Gate.ShardMode Mode, double Parked, double? ThreadsRunning, double? ConnectionsRatio, double? LagSeconds);
