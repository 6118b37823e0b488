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

/// <summary>The stored and displayed names of <see cref="ShardMode"/>.</summary>
internal static class ShardModeNames
{
    public static string Name(ShardMode mode) => mode switch
    {
        ShardMode.Open => "open",
        ShardMode.Closed => "closed",
        ShardMode.LightOnly => "light_only",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>Reads a stored name; anything unknown counts as closed (fail closed).</summary>
    public static ShardMode Parse(string mode) => mode switch
    {
        "open" => ShardMode.Open,
        "light_only" => ShardMode.LightOnly,
        _ => ShardMode.Closed,
    };
}
