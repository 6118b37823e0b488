using Npgsql;

namespace OfflineTasks.Storage;

/// <summary>
/// The lock on a shard's parked sets: whoever takes jobs out of them (the releaser's batch, or any other state change
/// of a parked job) holds it. It is a PostgreSQL advisory lock held by an open transaction on a connection of its
/// own, so it ends with the transaction: when disposed, and at once when the process holding it dies (its connection
/// drops), unlike a lock row that stays until it expires.
/// </summary>
internal sealed class ShardReleaseLock : IDisposable
{
    [ThreadStatic]
    private static string? _heldOnThread;

    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private bool _disposed;

    private ShardReleaseLock(string shard, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Shard = shard;
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>The shard whose parked sets are locked.</summary>
    public string Shard { get; }

    /// <summary>The shard whose lock this thread works under (see <see cref="WorkOnThisThread"/>), if any.</summary>
    public static string? HeldOnThisThread => _heldOnThread;

    /// <summary>Marks the calling thread as working under this lock until the result is disposed: state changes it makes need no lock of their own.</summary>
    public IDisposable WorkOnThisThread()
    {
        _heldOnThread = Shard;
        return new ThreadMark();
    }

    /// <summary>Takes the lock of <paramref name="shard"/>, waiting at most <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">Another process held it all that time.</exception>
    public static ShardReleaseLock Take(NpgsqlDataSource dataSource, string schema, string shard, TimeSpan timeout)
    {
        var connection = dataSource.OpenConnection();
        try
        {
            var transaction = connection.BeginTransaction();
            using var batch = Batch(connection, transaction, schema, shard, timeout);
            batch.ExecuteNonQuery();
            return new ShardReleaseLock(shard, connection, transaction);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            connection.Dispose();
            throw Busy(shard, timeout, e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static NpgsqlBatch Batch(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string shard, TimeSpan timeout)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SET LOCAL lock_timeout = {Math.Max(1, (long)timeout.TotalMilliseconds)}"));
        var take = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))");
        take.Parameters.Add(new NpgsqlParameter { Value = schema + ".parked" });
        take.Parameters.Add(new NpgsqlParameter { Value = shard });
        batch.BatchCommands.Add(take);
        return batch;
    }

    private static TimeoutException Busy(string shard, TimeSpan timeout, Exception inner) =>
        new($"The parked jobs of shard {shard} stayed locked for {timeout.TotalSeconds:0.#} s: another process is releasing or changing them.", inner);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _transaction.Dispose(); // rolls back: nothing was written in it, and the lock ends with it
        _connection.Dispose();
    }

    private sealed class ThreadMark : IDisposable
    {
        public void Dispose() => _heldOnThread = null;
    }
}
