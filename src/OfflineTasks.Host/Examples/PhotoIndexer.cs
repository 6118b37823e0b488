using System.Globalization;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;

namespace OfflineTasks.Host.Examples;

/// <summary>Pretends to work on a user's photos; the backfill checks the gate between its chunks.</summary>
internal sealed class PhotoIndexer(IShardGate gate, ILogger<PhotoIndexer> logger) : IPhotoIndexer
{
    public async Task ReindexAsync(int shard, long userId, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(50 + (userId % 5 * 40)), cancellationToken);
        logger.LogInformation("Re-indexed {Photos} photos of user {UserId} on users-{Shard}", (userId * 37) % 500, userId, shard);
    }

    public async Task BackfillAsync(int shard, int chunks, CancellationToken cancellationToken)
    {
        var name = "users-" + shard.ToString(CultureInfo.InvariantCulture);
        for (var chunk = 0; chunk < chunks; chunk++)
        {
            // The checkpoint: a shard that closed since the last chunk parks the job here; it starts over once released.
            gate.ThrowIfClosed(name);
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        logger.LogInformation("Backfilled {Chunks} chunks of {Shard}", chunks, name);
    }
}
