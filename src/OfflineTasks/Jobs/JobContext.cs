namespace OfflineTasks.Jobs;

/// <summary>
/// What a running job knows about itself. Declare a parameter of this type on a job method and pass
/// <c>null</c> when enqueueing; the worker supplies the real context. A job can also ask to be deferred:
/// call <see cref="Defer"/> and return.
/// </summary>
public sealed class JobContext
{
    internal JobContext(long jobId, string queue, string? shardKey, int attempt, int maxAttempts, int deferCount, CancellationToken cancellationToken)
    {
        JobId = jobId;
        Queue = queue;
        ShardKey = shardKey;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        DeferCount = deferCount;
        CancellationToken = cancellationToken;
    }

    /// <summary>The job's id.</summary>
    public long JobId { get; }

    /// <summary>The queue the job was claimed from.</summary>
    public string Queue { get; }

    /// <summary>The shard the job works on, or <c>null</c>.</summary>
    public string? ShardKey { get; }

    /// <summary>This attempt's number, starting at 1. Deferrals do not count.</summary>
    public int Attempt { get; }

    /// <summary>The attempts allowed in all.</summary>
    public int MaxAttempts { get; }

    /// <summary>How many times the job has been deferred before this run.</summary>
    public int DeferCount { get; }

    /// <summary>Cancelled when the worker is shutting down past its grace period or has lost its lease.</summary>
    public CancellationToken CancellationToken { get; }

    internal (TimeSpan Delay, string Reason)? Deferral { get; private set; }

    /// <summary>
    /// Asks for this job to run again after <paramref name="delay"/> once the method returns, without
    /// using an attempt. The reason is kept in the job's history.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The delay is negative.</exception>
    /// <exception cref="ArgumentException">The reason is empty.</exception>
    public void Defer(TimeSpan delay, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        Deferral = (delay, reason);
    }
}
