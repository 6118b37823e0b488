namespace OfflineTasks.Gate;

/// <summary>
/// The gate's answer for a shard, from this process's copy of the fleet's shard states (no database or MySQL round
/// trip). Inject it into a long job and call it between chunks, as Percona's tools check the load between chunks: a
/// backfill then stops touching a shard that closed under it.
/// </summary>
public interface IShardGate
{
    /// <summary>Whether jobs of <paramref name="shard"/> may start now, and if not, why and since when.</summary>
    /// <param name="shard">The shard's name, as configured under <c>OfflineTasks:Gate:Shards</c>.</param>
    /// <param name="light">Whether the work is light: it may go on while the shard is open for light jobs only.</param>
    ShardDecision Check(string shard, bool light = false);

    /// <summary>
    /// Throws <see cref="ShardClosedException"/> when <paramref name="shard"/> is not open (for light work: neither
    /// open nor open for light jobs). Thrown out of a Hangfire job, it parks the job: not failed, no retry used; the
    /// job runs again from the start once the shard has reopened and its parked jobs are released.
    /// </summary>
    /// <param name="shard">The shard's name, as configured under <c>OfflineTasks:Gate:Shards</c>.</param>
    /// <param name="light">Whether the work is light.</param>
    void ThrowIfClosed(string shard, bool light = false);
}

/// <summary>The gate's answer for one shard: open, or closed with the reason and since when.</summary>
/// <param name="Shard">The shard asked about.</param>
/// <param name="Mode">The shard's mode as this process sees it (a state too old to trust counts as closed).</param>
/// <param name="IsOpen">Whether the work may start: the shard is open, or open for light jobs and the work is light.</param>
/// <param name="Reason">When not open: why, naming the signal, its value, the threshold, the master and the sample's age; null when open.</param>
/// <param name="Since">When not open: since when the shard has been in its mode, if known.</param>
/// <param name="ReasonKind">When not open: <c>load</c>, <c>degraded</c>, <c>unknown</c>, <c>stale</c> or <c>not_configured</c>; empty when open.</param>
public readonly record struct ShardDecision(string Shard, ShardMode Mode, bool IsOpen, string? Reason, DateTimeOffset? Since, string ReasonKind);

/// <summary>A running job's shard closed under it (<see cref="IShardGate.ThrowIfClosed"/>): the job is parked, not failed.</summary>
public sealed class ShardClosedException : Exception
{
    /// <summary>Creates the exception from the gate's decision.</summary>
    public ShardClosedException(ShardDecision decision)
        : base(decision.Reason ?? $"shard {decision.Shard} is closed")
    {
        Decision = decision;
    }

    /// <summary>Creates the exception.</summary>
    public ShardClosedException()
        : this("the shard is closed")
    {
    }

    /// <summary>Creates the exception.</summary>
    public ShardClosedException(string message)
        : base(message)
    {
        Decision = new ShardDecision("", ShardMode.Closed, false, message, null, "unknown");
    }

    /// <summary>Creates the exception.</summary>
    public ShardClosedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Decision = new ShardDecision("", ShardMode.Closed, false, message, null, "unknown");
    }

    /// <summary>The decision that closed the shard.</summary>
    public ShardDecision Decision { get; }

    /// <summary>Thrown by OfflineTasks' own check just before the job's code starts, rather than at a checkpoint in it.</summary>
    internal bool BeforeStart { get; init; }
}
