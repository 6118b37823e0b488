using OfflineTasks.Storage;

namespace OfflineTasks.Server;

/// <summary>Tells the fetch loop which shards' jobs to leave unclaimed (closed shards, the reopening ramp).</summary>
internal interface IClaimFilterProvider
{
    /// <summary>Raised when a shard's mode or limit changed: the fetch loop rescans its queues from the head.</summary>
    event Action? Changed;

    /// <summary>The filter for the next claim, given how many jobs of each shard this process runs now.</summary>
    ClaimFilter Filter(IReadOnlyDictionary<string, int> runningByShard);
}
