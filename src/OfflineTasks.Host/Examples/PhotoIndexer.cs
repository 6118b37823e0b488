using Microsoft.Extensions.Logging;
using OfflineTasks.Jobs;

namespace OfflineTasks.Host.Examples;

/// <summary>
/// Pretends to re-index a user's photos. Every seventh user's first attempt fails, to show a retry with
/// backoff in the demo.
/// </summary>
internal sealed class PhotoIndexer(ILogger<PhotoIndexer> logger) : IPhotoIndexer
{
    public async Task ReindexAsync(long userId, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(50 + (userId % 5 * 40)), cancellationToken);
        logger.LogInformation("Re-indexed {Photos} photos of user {UserId}", (userId * 37) % 500, userId);
    }

    /// <summary>A flaky variant: fails on its first attempt.</summary>
    public static Task ReindexFlakyAsync(long userId, JobContext context)
    {
        if (context.Attempt == 1)
        {
            throw new TimeoutException($"photo store timed out for user {userId} (first attempt fails on purpose)");
        }

        return Task.CompletedTask;
    }
}
