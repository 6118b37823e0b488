namespace OfflineTasks.Host.Examples;

/// <summary>The example job of the demo: re-index one user's photos.</summary>
public interface IPhotoIndexer
{
    /// <summary>Re-indexes the photos of <paramref name="userId"/>.</summary>
    Task ReindexAsync(long userId, CancellationToken cancellationToken);
}
