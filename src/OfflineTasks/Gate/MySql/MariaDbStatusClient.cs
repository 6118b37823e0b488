namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Reads a server's status through MariaDB Connector/C on one kept connection. The blocking driver calls run
/// on a dedicated thread per read, one read at a time (<see cref="SerialOperations"/>); a cancelled caller is
/// released at once while a call stuck on a hung server ends by itself within the endpoint's timeout. After
/// any error the connection is closed and the next read connects again.
/// </summary>
internal sealed class MariaDbStatusClient : IMySqlStatusClient
{
    private readonly MySqlEndpoint _endpoint;
    private readonly SerialOperations _operations = new();

    // Touched only by the operation SerialOperations is running.
    private MariaDbConnection? _connection;
    private int _replicationQuery;

    private bool _disposed;

    public MariaDbStatusClient(MySqlEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
    }

    public Task<MySqlServerStatus> ReadStatusAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _operations.RunAsync(
            token => Task.Factory.StartNew(() => ReadStatus(token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default),
            cancellationToken);
    }

    /// <summary>
    /// Closes the connection. Returns at once: a read still blocked in the driver (its caller gone after a
    /// cancellation) closes it when the call returns, which the endpoint's timeout bounds.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }

        _disposed = true;
        _ = _operations.RunAsync(
            _ =>
            {
                CloseConnection();
                return Task.FromResult(true);
            },
            CancellationToken.None);
        return ValueTask.CompletedTask;
    }

    private MySqlServerStatus ReadStatus(CancellationToken cancellationToken)
    {
        try
        {
            _connection ??= MariaDbConnection.Open(_endpoint);
            var globalStatus = _connection.Query(MySqlStatusQueries.GlobalStatus);
            cancellationToken.ThrowIfCancellationRequested();
            var variables = _connection.Query(MySqlStatusQueries.Variables);
            cancellationToken.ThrowIfCancellationRequested();
            var replication = QueryReplication(_connection);
            return MySqlStatusParser.Parse(_endpoint.ToString(), globalStatus, variables, replication);
        }
        catch (OperationCanceledException)
        {
            // Between statements: the connection is idle and stays usable.
            throw;
        }
        catch (MariaDbException e)
        {
            CloseConnection();
            var failure = MySqlErrorClassifier.Classify(e.Number, e.TimedOut);
            var message = failure == MySqlStatusFailure.Timeout && e.TimedOut
                ? $"no answer within {TimeoutText()}: {e.Message}"
                : e.Message;
            throw new MySqlStatusException(_endpoint.ToString(), failure, e.Number, message, e);
        }
        catch (MySqlStatusException)
        {
            CloseConnection();
            throw;
        }
        catch (Exception e)
        {
            // E.g. the library is not installed (DllNotFoundException names the package).
            CloseConnection();
            throw new MySqlStatusException(_endpoint.ToString(), MySqlStatusFailure.Other, null, e.Message, e);
        }
    }

    /// <summary>Runs the replication statement that worked last; falls back to the other forms when the server does not know it.</summary>
    private IReadOnlyList<MySqlRow> QueryReplication(MariaDbConnection connection)
    {
        var candidates = MySqlStatusQueries.ReplicationStatus;
        for (var attempt = 0; ; attempt++)
        {
            var index = (_replicationQuery + attempt) % candidates.Count;
            try
            {
                var rows = connection.Query(candidates[index]);
                _replicationQuery = index;
                return rows;
            }
            catch (MariaDbException e) when (e.Number == MySqlStatusQueries.SyntaxErrorNumber && attempt < candidates.Count - 1)
            {
            }
        }
    }

    private void CloseConnection()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private string TimeoutText() => $"{Math.Max(1, Math.Ceiling(_endpoint.Timeout.TotalSeconds))} s";
}
