namespace OfflineTasks.Server;

/// <summary>
/// Decides, just before a claimed job with a shard key runs, whether its shard may take the work now.
/// Jobs without a shard key are never gated. Without a registered gate every shard is open.
/// </summary>
public interface IJobGate
{
    /// <summary>Returns <see cref="GateDecision.Open"/> or a deferral with its delay and reason. Must be fast and must not throw.</summary>
    ValueTask<GateDecision> CheckAsync(GateRequest request, CancellationToken cancellationToken);
}

/// <summary>What the gate is asked about: one claimed job that has a shard key.</summary>
/// <param name="JobId">The job.</param>
/// <param name="ShardKey">The shard it works on.</param>
/// <param name="Light">Whether it was enqueued as light (<c>JobOptions.Light</c>).</param>
/// <param name="DeferCount">How often it was deferred before.</param>
/// <param name="DeferredSince">When it was first deferred (since it last ran), or null.</param>
public readonly record struct GateRequest(long JobId, string ShardKey, bool Light, int DeferCount, DateTimeOffset? DeferredSince);

/// <summary>A gate's answer: run now, or defer by <see cref="RetryAfter"/> for <see cref="Reason"/> (no attempt is used).</summary>
public readonly record struct GateDecision
{
    private GateDecision(bool isOpen, TimeSpan retryAfter, string? reason)
    {
        IsOpen = isOpen;
        RetryAfter = retryAfter;
        Reason = reason;
    }

    /// <summary>True when the job may run now.</summary>
    public bool IsOpen { get; }

    /// <summary>For a deferral: how long to wait before the job is available again.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>For a deferral: why, kept in the job's history (e.g. which signal crossed which threshold).</summary>
    public string? Reason { get; }

    /// <summary>The job may run now.</summary>
    public static GateDecision Open { get; } = new(true, TimeSpan.Zero, null);

    /// <summary>The job must wait <paramref name="retryAfter"/> because of <paramref name="reason"/>.</summary>
    public static GateDecision Defer(TimeSpan retryAfter, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(false, retryAfter, reason);
    }
}
