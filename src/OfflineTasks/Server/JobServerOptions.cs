namespace OfflineTasks.Server;

/// <summary>
/// Settings of one worker server (process). Bound from the <c>OfflineTasks:Server</c> configuration section and
/// validated at start by <see cref="JobServerOptionsValidator"/>; each default is given on its property.
/// </summary>
public sealed class JobServerOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "OfflineTasks:Server";

    /// <summary>Worker slots: how many jobs this process runs at once. 1 to 1024, default 10.</summary>
    public int WorkerCount { get; set; } = 10;

    /// <summary>
    /// Queues to take jobs from, highest priority first: a later queue's jobs are claimed only when the earlier
    /// queues have no available job. Empty (the default) means <c>["default"]</c>.
    /// </summary>
    public IList<string> Queues { get; set; } = new List<string>();

    /// <summary>Backstop poll when no notification arrives (LISTEN/NOTIFY wakes the server at once otherwise). Default 1 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the server extends the lease of all its jobs, in one statement. Default 5 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a job stays claimed after the server's last heartbeat. When a server dies, its jobs become
    /// claimable again this long after its last heartbeat. At least twice <see cref="HeartbeatInterval"/>. Default 30 s.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Grace period at shutdown: running jobs may finish for this long, then their CancellationToken is cancelled. Default 30 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often due scheduled jobs (delays, retries, deferrals) are made available. Default 1 s.</summary>
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Delay before the first retry; each later retry doubles it, with ±20 % jitter. Default 15 s (10 attempts then span about 2 hours, close to Hangfire).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Upper bound of one retry delay. Default 4 h.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Succeeded and deleted jobs are pruned this long after they finished. Default 24 h.</summary>
    public TimeSpan RetentionPeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often the pruner runs. Default 1 min.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Jobs deleted per pruning statement, so the hot table is never locked for long. 1 to 100,000, default 1,000.</summary>
    public int PruneBatchSize { get; set; } = 1000;

    /// <summary>The server's name in job histories and the server table. Default <c>"host:pid"</c>.</summary>
    public string? Name { get; set; }

    internal IReadOnlyList<string> EffectiveQueues => Queues.Count == 0 ? ["default"] : Queues.ToArray();
}
