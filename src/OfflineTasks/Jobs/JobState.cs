namespace OfflineTasks.Jobs;

/// <summary>
/// The closed set of states a job can be in. Every transition is recorded in the job's history
/// (time, from, to, reason). Who moves a job out of each state is documented on the member.
/// </summary>
public enum JobState
{
    /// <summary>
    /// Waiting for a time: a delayed job, a retry after backoff, or a deferral. The scheduler moves it
    /// to <see cref="Available"/> when its time comes.
    /// </summary>
    Scheduled,

    /// <summary>Ready to run (Hangfire calls this "enqueued"). A worker server's fetch loop claims it into <see cref="Processing"/>.</summary>
    Available,

    /// <summary>
    /// Claimed by a worker server and running under that server's lease. The server moves it to
    /// <see cref="Succeeded"/>, <see cref="Scheduled"/> (retry or deferral), <see cref="Available"/> (handed back
    /// at shutdown) or <see cref="Failed"/>; if the server's lease expires the rescuer makes it
    /// <see cref="Available"/> again (or <see cref="Failed"/> when no attempt is left).
    /// </summary>
    Processing,

    /// <summary>Final: ran to completion. Pruned after the retention period.</summary>
    Succeeded,

    /// <summary>Final: every attempt failed, or the job cannot be run at all (missing type or method, bad arguments). Kept until deleted.</summary>
    Failed,

    /// <summary>Final: deleted by a user before it ran to completion. Pruned after the retention period.</summary>
    Deleted,
}
