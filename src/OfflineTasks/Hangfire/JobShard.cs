using Hangfire.Common;

namespace OfflineTasks.Hangfire;

/// <summary>The shard a job works on, and whether it is light.</summary>
/// <param name="Name">The shard's name.</param>
/// <param name="Light">Whether the job may run while the shard is open for light jobs only.</param>
internal readonly record struct JobShard(string Name, bool Light)
{
    /// <summary>The job parameter that holds a shard given at enqueue (<see cref="ShardParameter"/>).</summary>
    public const string Parameter = "OfflineTasks.Shard";

    /// <summary>The shard of a job from its <see cref="ShardAttribute"/>, if it has one (in memory).</summary>
    /// <exception cref="FormatException">The attribute's format does not fit the job's arguments.</exception>
    public static JobShard? FromAttribute(Job job) =>
        ShardAttribute.Of(job) is { } attribute ? new JobShard(attribute.ShardOf(job), attribute.Light) : null;
}

/// <summary>A shard given at enqueue, stored as the job parameter <c>OfflineTasks.Shard</c>.</summary>
internal sealed class ShardParameter
{
    public string Shard { get; set; } = "";

    public bool Light { get; set; }
}

/// <summary>A job's parking history, stored as the job parameter <c>OfflineTasks.Parking</c>: how often and since when it has been parked.</summary>
internal sealed class ParkingRecord
{
    public const string Parameter = "OfflineTasks.Parking";

    public int Count { get; set; }

    public DateTime FirstParkedAt { get; set; }
}
