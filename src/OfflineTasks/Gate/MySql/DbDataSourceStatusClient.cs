using System.Data.Common;
using System.Globalization;
using System.Text;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Reads a server's status through an ADO.NET provider on one kept connection, one read at a time
/// (<see cref="SerialOperations"/>). Each step (open, each statement) gets <see cref="MySqlEndpoint.Timeout"/>;
/// running out of it is a <see cref="MySqlStatusFailure.Timeout"/>. After any error or cancellation the
/// connection is closed and the next read opens another.
/// </summary>
internal sealed class DbDataSourceStatusClient : IMySqlStatusClient
{
    private readonly MySqlEndpoint _endpoint;
    private readonly DbDataSource _dataSource;
    private readonly Func<DbException, int?> _errorNumber;
    private readonly SerialOperations _operations = new();

    // Touched only by the operation SerialOperations is running.
    private DbConnection? _connection;
    private int _replicationQuery;

    private bool _disposed;

    public DbDataSourceStatusClient(MySqlEndpoint endpoint, DbDataSource dataSource, Func<DbException, int?> errorNumber)
    {
        _endpoint = endpoint;
        _dataSource = dataSource;
        _errorNumber = errorNumber;
    }

    public Task<MySqlServerStatus> ReadStatusAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _operations.RunAsync(ReadStatusCoreAsync, cancellationToken);
    }

    /// <summary>Closes the connection and disposes the data source, after a read still running has ended; returns at once.</summary>
    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }

        _disposed = true;
        _ = _operations.RunAsync(
            async _ =>
            {
                await CloseConnectionAsync().ConfigureAwait(false);
                await _dataSource.DisposeAsync().ConfigureAwait(false);
                return true;
            },
            CancellationToken.None);
        return ValueTask.CompletedTask;
    }

    private async Task<MySqlServerStatus> ReadStatusCoreAsync(CancellationToken cancellationToken)
    {
        using var step = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            if (_connection is null)
            {
                step.CancelAfter(_endpoint.Timeout);
                _connection = await _dataSource.OpenConnectionAsync(step.Token).ConfigureAwait(false);
            }

            var globalStatus = await QueryAsync(_connection, MySqlStatusQueries.GlobalStatus, step).ConfigureAwait(false);
            var variables = await QueryAsync(_connection, MySqlStatusQueries.Variables, step).ConfigureAwait(false);
            var replication = await QueryReplicationAsync(_connection, step).ConfigureAwait(false);
            return MySqlStatusParser.Parse(_endpoint.ToString(), globalStatus, variables, replication);
        }
        catch (Exception e)
        {
            await CloseConnectionAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                // The caller gave up (and has its OperationCanceledException already); the provider turned the
                // cancellation into an error of its own.
                throw new OperationCanceledException("The status read was cancelled.", e, cancellationToken);
            }

            throw Translate(e, timedOut: step.IsCancellationRequested);
        }
    }

    private async Task<IReadOnlyList<MySqlRow>> QueryReplicationAsync(DbConnection connection, CancellationTokenSource step)
    {
        var candidates = MySqlStatusQueries.ReplicationStatus;
        for (var attempt = 0; ; attempt++)
        {
            var index = (_replicationQuery + attempt) % candidates.Count;
            try
            {
                var rows = await QueryAsync(connection, candidates[index], step).ConfigureAwait(false);
                _replicationQuery = index;
                return rows;
            }
            catch (DbException e) when (IsSyntaxError(e) && attempt < candidates.Count - 1)
            {
            }
        }
    }

    private async Task<IReadOnlyList<MySqlRow>> QueryAsync(DbConnection connection, string sql, CancellationTokenSource step)
    {
        step.CancelAfter(_endpoint.Timeout);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = sql;
            command.CommandTimeout = (int)Math.Clamp(Math.Ceiling(_endpoint.Timeout.TotalSeconds), 1, int.MaxValue);
            var reader = await command.ExecuteReaderAsync(step.Token).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var columns = new string[reader.FieldCount];
                for (var i = 0; i < columns.Length; i++)
                {
                    columns[i] = reader.GetName(i);
                }

                var rows = new List<MySqlRow>();
                var values = new string?[columns.Length];
                while (await reader.ReadAsync(step.Token).ConfigureAwait(false))
                {
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = reader.IsDBNull(i) ? null : Text(reader.GetValue(i));
                    }

                    rows.Add(new MySqlRow(columns, values));
                }

                return rows;
            }
        }
    }

    // Providers type the same value differently (SHOW STATUS values as text or numbers, read_only as a number
    // or a boolean, names as bytes); the parser reads invariant text.
    private static string? Text(object value) => value switch
    {
        string text => text,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        bool flag => flag ? "1" : "0",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private bool IsSyntaxError(DbException exception) =>
        _errorNumber(exception) is { } number ? number == MySqlStatusQueries.SyntaxErrorNumber : exception.SqlState == "42000";

    private MySqlStatusException Translate(Exception exception, bool timedOut)
    {
        var endpoint = _endpoint.ToString();
        var noAnswer = $"no answer within {Math.Max(1, Math.Ceiling(_endpoint.Timeout.TotalSeconds))} s";
        timedOut |= exception is TimeoutException || exception.InnerException is TimeoutException;
        switch (exception)
        {
            case MySqlStatusException status:
                return status;
            case DbException db:
                // Whatever a provider throws once the step ran out of time (its own timeout, "query interrupted"
                // after it cancelled the statement) is a timeout; otherwise the error number decides.
                var number = _errorNumber(db);
                var failure = timedOut ? MySqlStatusFailure.Timeout
                    : number is null ? FromSqlState(db.SqlState)
                    : MySqlErrorClassifier.Classify(number, timedOut: false);
                return new MySqlStatusException(endpoint, failure, number, timedOut ? $"{noAnswer}: {db.Message}" : db.Message, db);
            case OperationCanceledException or TimeoutException when timedOut:
                return new MySqlStatusException(endpoint, MySqlStatusFailure.Timeout, null, noAnswer, exception);
            default:
                return new MySqlStatusException(endpoint, MySqlStatusFailure.Other, null, exception.Message, exception);
        }
    }

    private static MySqlStatusFailure FromSqlState(string? sqlState) => sqlState switch
    {
        "28000" => MySqlStatusFailure.AccessDenied,
        not null when sqlState.StartsWith("08", StringComparison.Ordinal) => MySqlStatusFailure.Unreachable,
        _ => MySqlStatusFailure.Other,
    };

    private async Task CloseConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A broken connection may fail to close cleanly; it is gone either way.
            }
        }
    }
}
