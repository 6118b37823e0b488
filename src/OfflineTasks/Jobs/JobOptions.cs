namespace OfflineTasks.Jobs;

/// <summary>How and when a job runs. Every property has a default, so <c>new JobOptions()</c> is valid.</summary>
public sealed record JobOptions
{
    /// <summary>The default queue name, <c>"default"</c>.</summary>
    public const string DefaultQueue = "default";

    /// <summary>The default number of attempts (the first run plus retries), 10, close to Hangfire's.</summary>
    public const int DefaultMaxAttempts = 10;

    /// <summary>
    /// The queue the job goes to: 1 to 64 characters of lower-case letters, digits, <c>_</c> and <c>-</c>.
    /// Default <c>"default"</c>.
    /// </summary>
    public string Queue { get; init; } = DefaultQueue;

    /// <summary>Within a queue, jobs with a higher priority are claimed first; ties go to the earliest. Range -32768..32767, default 0.</summary>
    public short Priority { get; init; }

    /// <summary>
    /// The MySQL shard the job works on; the load-feedback gate holds the job back while that shard is
    /// stressed or degraded. <c>null</c> (the default) means the job runs ungated.
    /// </summary>
    public string? ShardKey { get; init; }

    /// <summary>
    /// Marks the job light: it may still run on its shard while the shard's master pair is degraded (not redundant)
    /// but not loaded, when that shard is configured to stay open for light jobs. Default <c>false</c>.
    /// </summary>
    public bool Light { get; init; }

    /// <summary>Run no earlier than this time. Mutually exclusive with <see cref="Delay"/>. Default: now.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>Run no earlier than this long after enqueueing. Mutually exclusive with <see cref="RunAt"/>. Default: none.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>How many times the job may be attempted before it fails for good (1 means no retry). Default 10.</summary>
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;

    /// <summary>Shared instance holding every default.</summary>
    public static JobOptions Default { get; } = new();
}
