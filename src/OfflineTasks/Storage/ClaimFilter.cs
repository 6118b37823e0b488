namespace OfflineTasks.Storage;

/// <summary>
/// What a claim must leave alone because of the gate: jobs of closed shards, non-light jobs of shards open for light
/// jobs only, and at most <see cref="Caps"/>[i] jobs of <see cref="CappedShards"/>[i] (a reopening shard's ramp).
/// </summary>
internal sealed record ClaimFilter(string[] ClosedShards, string[] LightOnlyShards, string[] CappedShards, int[] Caps)
{
    /// <summary>No shard is held back.</summary>
    public static ClaimFilter None { get; } = new([], [], [], []);
}
