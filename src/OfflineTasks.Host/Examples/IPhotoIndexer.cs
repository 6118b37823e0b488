using OfflineTasks.Hangfire;

namespace OfflineTasks.Host.Examples;

/// <summary>The demo's example jobs: work on one user's photos, on the MySQL shard <c>users-{shard}</c> that holds the user.</summary>
public interface IPhotoIndexer
{
    /// <summary>Re-indexes the photos of <paramref name="userId"/>, who lives on shard <c>users-{shard}</c>.</summary>
    [Shard("users-{0}")]
    Task ReindexAsync(int shard, long userId, CancellationToken cancellationToken);

    /// <summary>
    /// Backfills a counter for every user of shard <c>users-{shard}</c>, in <paramref name="chunks"/> chunks; between
    /// chunks it checks the gate and stops (parked, not failed) if the shard closed under it.
    /// </summary>
    [Shard("users-{0}")]
    Task BackfillAsync(int shard, int chunks, CancellationToken cancellationToken);
}
