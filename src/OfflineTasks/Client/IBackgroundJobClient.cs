using Npgsql;
using OfflineTasks.Jobs;

namespace OfflineTasks.Client;

/// <summary>
/// Puts jobs into the queue. Most code uses the expression extensions in <see cref="BackgroundJobClientExtensions"/>
/// (<c>jobs.Enqueue&lt;IPhotoIndexer&gt;(x =&gt; x.ReindexAsync(userId, CancellationToken.None))</c>).
/// Thread-safe; register once as a singleton.
/// </summary>
public interface IBackgroundJobClient
{
    /// <summary>Stores one job and returns its id. It is visible to workers as soon as this returns.</summary>
    Task<long> EnqueueAsync(Job job, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores one job inside the caller's transaction: the job exists (and workers are woken) only if that
    /// transaction commits; a rollback leaves no job.
    /// </summary>
    Task<long> EnqueueAsync(Job job, NpgsqlTransaction transaction, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores many jobs in one round trip per 5,000 jobs, all or none: in <paramref name="transaction"/> when given,
    /// otherwise in a transaction of its own. Returns the ids in the order of <paramref name="jobs"/>.
    /// </summary>
    Task<IReadOnlyList<long>> EnqueueManyAsync(IEnumerable<Job> jobs, NpgsqlTransaction? transaction = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a job that has not started, is waiting for a retry, or has failed. False when it is running, finished or unknown.</summary>
    Task<bool> DeleteAsync(long jobId, CancellationToken cancellationToken = default);
}
