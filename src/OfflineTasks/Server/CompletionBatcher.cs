using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OfflineTasks.Storage;
using Polly;

namespace OfflineTasks.Server;

/// <summary>
/// Writes job outcomes back in batches: whatever finished while the previous batch was being written goes
/// in the next statement, so a busy server writes many outcomes per round trip and an idle one adds no delay.
/// A failed write is retried (PostgreSQL restarts, network blips) until shutdown gives up; an outcome that
/// never lands leaves its job processing, and the lease brings it back (at-least-once).
/// </summary>
internal sealed class CompletionBatcher
{
    private const int MaxBatch = 2_000;
    private readonly Channel<JobOutcome> _channel = Channel.CreateUnbounded<JobOutcome>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PostgresJobStorage _storage;
    private readonly Guid _serverId;
    private readonly ResiliencePipeline _retry;
    private readonly ILogger _logger;

    public CompletionBatcher(PostgresJobStorage storage, Guid serverId, ResiliencePipeline retry, ILogger logger)
    {
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
    public void Complete() => _channel.Writer.TryComplete();

    /// <summary>Writes batches until <see cref="Complete"/> was called and everything is written, or <paramref name="abort"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        var batch = new List<JobOutcome>(MaxBatch);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var outcome))
                {
                    batch.Add(outcome);
                }

                var written = await _retry.ExecuteAsync(
                    async (b, ct) => await _storage.CompleteAsync(_serverId, b, ct).ConfigureAwait(false), batch, abort).ConfigureAwait(false);
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
