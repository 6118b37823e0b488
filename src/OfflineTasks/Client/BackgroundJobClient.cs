using Npgsql;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Client;

/// <summary>The PostgreSQL implementation of <see cref="IBackgroundJobClient"/>.</summary>
public sealed class BackgroundJobClient : IBackgroundJobClient
{
    private const int ChunkSize = 5_000;
    private readonly PostgresJobStorage _storage;
    private readonly TimeProvider _time;

    /// <summary>Creates a client writing to <paramref name="storage"/>; <paramref name="time"/> turns delays into due times.</summary>
    public BackgroundJobClient(PostgresJobStorage storage, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        _storage = storage;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<long> EnqueueAsync(Job job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        var ids = await _storage.InsertAsync([job], _time.GetUtcNow(), null, cancellationToken).ConfigureAwait(false);
        return ids[0];
    }

    /// <inheritdoc />
    public async Task<long> EnqueueAsync(Job job, NpgsqlTransaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(transaction);
        var ids = await _storage.InsertAsync([job], _time.GetUtcNow(), transaction, cancellationToken).ConfigureAwait(false);
        return ids[0];
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<long>> EnqueueManyAsync(IEnumerable<Job> jobs, NpgsqlTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var list = jobs as IReadOnlyList<Job> ?? jobs.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                throw new ArgumentException($"jobs[{i}] is null.", nameof(jobs));
            }
        }

        var now = _time.GetUtcNow();
        if (list.Count <= ChunkSize)
        {
            return await _storage.InsertAsync(list, now, transaction, cancellationToken).ConfigureAwait(false);
        }

        NpgsqlConnection? ownedConnection = null;
        NpgsqlTransaction? ownedTransaction = null;
        if (transaction is null)
        {
            ownedConnection = await _storage.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            ownedTransaction = await ownedConnection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var ids = new long[list.Count];
            for (var start = 0; start < list.Count; start += ChunkSize)
            {
                var chunk = new ArraySegment<Job>(list as Job[] ?? list.ToArray(), start, Math.Min(ChunkSize, list.Count - start));
                var chunkIds = await _storage.InsertAsync(chunk, now, transaction ?? ownedTransaction, cancellationToken).ConfigureAwait(false);
                chunkIds.CopyTo(ids, start);
            }

            if (ownedTransaction is not null)
            {
                await ownedTransaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return ids;
        }
        finally
        {
            if (ownedTransaction is not null)
            {
                await ownedTransaction.DisposeAsync().ConfigureAwait(false);
            }

            if (ownedConnection is not null)
            {
                await ownedConnection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteAsync(long jobId, CancellationToken cancellationToken = default) =>
        _storage.DeleteJobAsync(jobId, "deleted through the client", cancellationToken);
}
