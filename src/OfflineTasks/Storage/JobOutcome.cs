using OfflineTasks.Jobs;

namespace OfflineTasks.Storage;

/// <summary>
/// How a claimed job ended on its worker, as written back in a completion batch.
/// <see cref="NextState"/> is one of Succeeded, Failed, Scheduled or Available.
/// </summary>
/// <param name="JobId">The job.</param>
/// <param name="NextState">The state to move to from Processing.</param>
/// <param name="Delay">For Scheduled: how long from now (database time) the job is due.</param>
/// <param name="RefundAttempt">True for a deferral or a shutdown hand-back: the attempt is given back.</param>
/// <param name="Deferred">True for a deferral: the defer counter grows.</param>
/// <param name="Error">The failure, for a retry or a final failure.</param>
/// <param name="Reason">Text for the history entry.</param>
internal sealed record JobOutcome(long JobId, JobState NextState, TimeSpan? Delay, bool RefundAttempt, bool Deferred, JobError? Error, string? Reason)
{
    public static JobOutcome Succeeded(long jobId) => new(jobId, JobState.Succeeded, null, false, false, null, null);
}
