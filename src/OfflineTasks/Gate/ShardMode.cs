namespace OfflineTasks.Gate;

/// <summary>Whether jobs of a shard may start.</summary>
public enum ShardMode
{
    /// <summary>Every job of the shard may start.</summary>
    Open,

    /// <summary>No job of the shard starts: a signal crossed its high-water mark, the status is unknown, or the pair is degraded.</summary>
    Closed,

    /// <summary>The pair is degraded but not loaded, and the shard is configured to stay open for light jobs only.</summary>
    LightOnly,
}
