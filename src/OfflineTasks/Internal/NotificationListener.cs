using Microsoft.Extensions.Logging;
using Npgsql;
using Polly;

namespace OfflineTasks.Internal;

/// <summary>
/// Holds one connection that LISTENs on a channel (shard state changes) and reports each
/// notification. Reconnects by itself; after a reconnect it reports one too, since notifications sent while it
/// was away are lost.
/// </summary>
internal sealed class NotificationListener(NpgsqlDataSource dataSource, string channel, ResiliencePipeline retry, Action<string?> onNotification, ILogger logger)
{
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await retry.ExecuteAsync(ListenOnceAsync, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async ValueTask ListenOnceAsync(CancellationToken stopping)
    {
        await using var connection = await dataSource.OpenConnectionAsync(stopping).ConfigureAwait(false);
        connection.Notification += (_, e) => onNotification(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
        }

        logger.LogDebug("Listening on {Channel}", channel);
        onNotification(null); // anything announced while not listening is lost: read the current state
        while (true)
        {
            await connection.WaitAsync(stopping).ConfigureAwait(false);
        }
    }
}
