using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OfflineTasks.Storage;
using Polly;

namespace OfflineTasks.Server;

/// <summary>
/// Collects job outcomes and writes them back in batches, on a connection of its own beside the fetch loop's: 5 ms
/// after the first outcome of a batch arrives (or once the previous batch's durable commit has returned, if that took
/// longer), everything pending goes in one statement (up to 2,000). A worker slot is free as soon as its job ends,
/// so the delay costs no throughput; it makes the batches, and the WAL flushes, fewer. A failed write is retried (PostgreSQL restarts, network blips)
/// until shutdown gives up; an outcome that never lands leaves its job processing, and the lease brings it
/// back (at-least-once).
/// </summary>
internal sealed class CompletionBatcher
{
    private const int MaxBatch = 2_000;
    private readonly Channel<JobOutcome> _channel = Channel.CreateUnbounded<JobOutcome>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PostgresJobStorage _storage;
    private readonly Guid _serverId;
    private readonly ResiliencePipeline _retry;
    private readonly ILogger _logger;
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);
    private readonly TimeProvider _time;
    private Npgsql.NpgsqlConnection? _connection;
    private volatile bool _closed;

    public CompletionBatcher(PostgresJobStorage storage, Guid serverId, ResiliencePipeline retry, TimeProvider time, ILogger logger)
    {
        _time = time;
        _storage = storage;
        _serverId = serverId;
        _retry = retry;
        _logger = logger;
    }

    public void Post(JobOutcome outcome)
    {
        if (!_channel.Writer.TryWrite(outcome))
        {
            _logger.LogWarning("Outcome of job {JobId} arrived after shutdown; the job will come back after its lease", outcome.JobId);
        }
    }

    /// <summary>No more outcomes: <see cref="RunAsync"/> finishes once the pending ones are written.</summary>
    public void Complete()
    {
        _closed = true;
        _channel.Writer.TryComplete();
    }

    /// <summary>Writes batches until <see cref="Complete"/> was called and everything is written, or <paramref name="abort"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        try
        {
            await WriteBatchesAsync(abort).ConfigureAwait(false);
        }
        finally
        {
            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes on a connection of its own, kept open (no pool round trip and session reset per batch).</summary>
    private async ValueTask<int> WriteAsync(List<JobOutcome> batch, CancellationToken cancellationToken)
    {
        _connection ??= await _storage.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return (await _storage.WriteAndClaimAsync(_connection, _serverId, batch, null, 0, null, ClaimFilter.None, cancellationToken).ConfigureAwait(false)).Written;
        }
        catch
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
            throw;
        }
    }

    private async Task WriteBatchesAsync(CancellationToken abort)
    {
        var batch = new List<JobOutcome>(MaxBatch);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                // Wait a moment for more outcomes: each batch is one statement and one durable commit (WAL flush),
                // and while a flush is slow the next batch grows instead.
                if (!_closed)
                {
                    await Task.Delay(Linger, _time, abort).ConfigureAwait(false);
                }

                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var outcome))
                {
                    batch.Add(outcome);
                }

                var written = await _retry.ExecuteAsync(WriteAsync, batch, abort).ConfigureAwait(false);
                if (written < batch.Count)
                {
                    _logger.LogWarning(
                        "{Skipped} of {Count} job outcomes were not written: this server no longer held those jobs (its lease expired and they were rescued)",
                        batch.Count - written, batch.Count);
                }
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            var left = batch.Count + reader.Count;
            if (left > 0)
            {
                _logger.LogWarning("Shutdown gave up writing {Count} job outcomes; those jobs come back after their lease", left);
            }
        }
    }
}
