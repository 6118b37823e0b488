using System.Diagnostics;
using System.Globalization;
using System.Text;
using MySqlConnector;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Reads a server's status through MySqlConnector on one connection of its own (unpooled) that it keeps open
/// between reads, one read at a time (<see cref="SerialOperations"/>). After any error the connection is closed and
/// the next read connects again.
/// </summary>
/// <remarks>
/// <para>
/// Every step (connect, each statement with its rows) gets <see cref="MySqlEndpoint.Timeout"/>; a caller that waits
/// gets a <see cref="MySqlStatusFailure.Timeout"/> when a step runs out of it, and a caller whose token is
/// cancelled gets control back at once (<see cref="SerialOperations"/>).
/// </para>
/// <para>
/// MySqlConnector never sees a cancellable token: it answers a cancellation with <c>KILL QUERY</c> sent over a
/// second connection that it opens synchronously inside the token's callback, which against a hung server blocks
/// whoever cancels for its cancellation timeout (2 s by default, 3 s with -1), and which adds a connection to a
/// server that may be full, while the statement still waits out its command timeout plus the cancellation timeout.
/// Instead MySqlConnector's own timeouts bound each call: <c>Connection Timeout</c> the connect (TCP, TLS and the
/// handshake) and <c>Default Command Timeout</c> each statement's and each row read's network reads, with
/// <c>Cancellation Timeout=-1</c> so that running out of it closes the socket at once (a "hard" cancellation, no
/// <c>KILL QUERY</c>). Both are whole seconds (<see cref="MySqlEndpoint.Timeout"/> rounded up). A step that outlasts
/// the endpoint's timeout is left to end by itself within those, its connection closed when it does; the next
/// read waits for that first, so a connection is never used by two reads and at most one call is stuck at a time.
/// </para>
/// </remarks>
internal sealed class MySqlStatusClient : IMySqlStatusClient
{
    /// <summary>MySqlConnector converts its timeouts to milliseconds in an <see cref="int"/>.</summary>
    private const int MaxTimeoutSeconds = int.MaxValue / 1000 - 1;

    private readonly MySqlEndpoint _endpoint;
    private readonly string _connectionString;
    private readonly TimeSpan _stepTimeout;
    private readonly TimeSpan _driverTimeout;
    private readonly IReadOnlyList<string> _statusStatements;
    private readonly IReadOnlyList<string> _replicationStatements;
    private readonly SerialOperations _operations = new();

    // Touched only by the operation SerialOperations is running.
    private MySqlConnection? _connection;
    private Task? _abandoned;
    private int _statusStatement;
    private int _replicationStatement;
    private string? _batch; // both statements that worked, sent together; null until they are known

    private bool _disposed;

    public MySqlStatusClient(MySqlEndpoint endpoint)
        : this(endpoint, MySqlStatusQueries.ReplicationStatus)
    {
    }

    /// <summary>
    /// Creates a client that tries <paramref name="replicationStatements"/> (in order) to list replication channels,
    /// and <paramref name="statusStatements"/> (default <see cref="MySqlStatusQueries.Status"/>) to read the status variables.
    /// </summary>
    internal MySqlStatusClient(MySqlEndpoint endpoint, IReadOnlyList<string> replicationStatements, IReadOnlyList<string>? statusStatements = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(replicationStatements);
        statusStatements ??= MySqlStatusQueries.Status;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(endpoint.Timeout, TimeSpan.Zero, nameof(endpoint));
        ArgumentOutOfRangeException.ThrowIfZero(replicationStatements.Count, nameof(replicationStatements));
        ArgumentOutOfRangeException.ThrowIfZero(statusStatements.Count, nameof(statusStatements));
        _endpoint = endpoint;
        _statusStatements = statusStatements;
        _replicationStatements = replicationStatements;
        var seconds = (int)Math.Clamp(Math.Ceiling(endpoint.Timeout.TotalSeconds), 1, MaxTimeoutSeconds);
        _driverTimeout = TimeSpan.FromSeconds(seconds);
        _stepTimeout = endpoint.Timeout < _driverTimeout ? endpoint.Timeout : _driverTimeout;
        _connectionString = ConnectionString(endpoint, seconds);
    }

    /// <summary>The replication statement the next read tries first: the one that worked last.</summary>
    internal string ReplicationStatement => _replicationStatements[_replicationStatement];

    /// <summary>The status statement the next read tries first: the one that worked last.</summary>
    internal string StatusStatement => _statusStatements[_statusStatement];

    /// <summary>Whether reads send both statements in one round trip (once a read has found the forms the server answers).</summary>
    internal bool Batched => _batch is not null;

    /// <summary>
    /// The MySqlConnector connection string for <paramref name="endpoint"/> (with its password), every timeout
    /// <paramref name="timeoutSeconds"/>.
    /// </summary>
    internal static string ConnectionString(MySqlEndpoint endpoint, int timeoutSeconds)
    {
        var builder = new MySqlConnectionStringBuilder
        {
            // The socket when set, else TCP to host and port.
            Server = endpoint.Socket ?? endpoint.Host,
            ConnectionProtocol = endpoint.Socket is null ? MySqlConnectionProtocol.Sockets : MySqlConnectionProtocol.UnixSocket,
            Port = (uint)endpoint.Port,
            UserID = endpoint.User,
            Password = endpoint.Password ?? string.Empty,

            // One dedicated connection per probed master, really closed when the client closes it.
            Pooling = false,
            ConnectionTimeout = (uint)timeoutSeconds,
            DefaultCommandTimeout = (uint)timeoutSeconds,

            // A statement that runs out of its command timeout closes the socket at once instead of sending KILL QUERY
            // over a second connection first (the default waits up to 2 s more for that).
            CancellationTimeout = -1,

            // Never returned in ConnectionString, logs or traces (this is the default; said here because it matters).
            PersistSecurityInfo = false,

            // A server could answer any statement with a LOAD DATA LOCAL request for a client file; refuse them.
            AllowLoadLocalInfile = false,

            // A probe must not join the caller's ambient TransactionScope.
            AutoEnlist = false,
        };
        return builder.ConnectionString;
    }

    public Task<MySqlServerStatus> ReadStatusAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _operations.RunAsync(ReadAsync, cancellationToken);
    }

    /// <summary>
    /// Closes the connection. Returns at once: a read still running (its caller gone after a cancellation) ends
    /// within the driver's timeouts, and the connection is closed after it.
    /// </summary>
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
                await FinishAbandonedAsync().ConfigureAwait(false);
                await CloseAsync().ConfigureAwait(false);
                return true;
            },
            CancellationToken.None);
        return ValueTask.CompletedTask;
    }

    private async Task<MySqlServerStatus> ReadAsync(CancellationToken cancellationToken)
    {
        await FinishAbandonedAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            if (_connection is null)
            {
                _connection = new MySqlConnection(_connectionString);
                await StepAsync(_connection, OpenAsync(_connection)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
            }

            var connection = _connection;
            if (_batch is { } batch)
            {
                // The usual read: both statements in one round trip, two result sets.
                IReadOnlyList<IReadOnlyList<MySqlRow>> results;
                try
                {
                    results = await QueryAsync(connection, batch).ConfigureAwait(false);
                }
                catch (MySqlStatusException e) when (e.ErrorCode is not null)
                {
                    _batch = null; // the server answered with an error (upgraded, or a privilege gone): find the forms again next time
                    throw;
                }

                if (results.Count != 2)
                {
                    throw new MySqlStatusException(_endpoint.ToString(), MySqlStatusFailure.Unreadable, null, $"{batch}: {results.Count} result sets, not 2");
                }

                return MySqlStatusParser.Parse(_endpoint.ToString(), results[0], results[1]);
            }

            // The first read: one statement at a time, until the forms this server answers are known.
            var status = await QueryFirstWorkingAsync(connection, _statusStatements, IsUnknownStatusForm, () => _statusStatement, i => _statusStatement = i).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var replication = await QueryFirstWorkingAsync(connection, _replicationStatements, e => e.ErrorCode == (int)MySqlErrorCode.ParseError,
                () => _replicationStatement, i => _replicationStatement = i).ConfigureAwait(false);
            var parsed = MySqlStatusParser.Parse(_endpoint.ToString(), status, replication);
            _batch = $"{StatusStatement};\n{ReplicationStatement}";
            return parsed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Thrown only between steps: the connection is idle and stays usable.
            throw;
        }
        catch (MySqlStatusException)
        {
            await CloseAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            await CloseAsync().ConfigureAwait(false);
            throw new MySqlStatusException(_endpoint.ToString(), MySqlStatusFailure.Other, null, e.Message, e);
        }
    }

    /// <summary>
    /// Connects. A missing Unix socket (no server there) is an <see cref="IOException"/>, unreachable like a refused
    /// TCP port: MySqlConnector looks for the file first and reports it without an error number.
    /// </summary>
    private Task OpenAsync(MySqlConnection connection) =>
        _endpoint.Socket is { } socket && !File.Exists(socket)
            ? Task.FromException(new FileNotFoundException("no such Unix socket", socket))
            : connection.OpenAsync(CancellationToken.None);

    /// <summary>
    /// Runs the statement of <paramref name="candidates"/> that worked last; falls back to the others (in order) while
    /// the server answers that it does not know a form (<paramref name="unknownForm"/>), and remembers the one that worked.
    /// </summary>
    private async Task<IReadOnlyList<MySqlRow>> QueryFirstWorkingAsync(MySqlConnection connection, IReadOnlyList<string> candidates,
        Func<MySqlStatusException, bool> unknownForm, Func<int> current, Action<int> remember)
    {
        for (var attempt = 0; ; attempt++)
        {
            var index = (current() + attempt) % candidates.Count;
            try
            {
                var results = await QueryAsync(connection, candidates[index]).ConfigureAwait(false);
                remember(index);
                return results.Count > 0 ? results[0] : [];
            }
            catch (MySqlStatusException e) when (unknownForm(e) && attempt < candidates.Count - 1)
            {
            }
        }
    }

    /// <summary>A server without the status table answers a syntax error, an unknown table (1109, 1146) or a disabled feature (MySQL 5.7's 3167).</summary>
    private static bool IsUnknownStatusForm(MySqlStatusException e) =>
        e.ErrorCode is (int)MySqlErrorCode.ParseError or (int)MySqlErrorCode.UnknownTable or (int)MySqlErrorCode.NoSuchTable or 3167;

    private async Task<IReadOnlyList<IReadOnlyList<MySqlRow>>> QueryAsync(MySqlConnection connection, string sql)
    {
        var query = ReadRowsAsync(connection, sql);
        await StepAsync(connection, query).ConfigureAwait(false);
        return await query.ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="sql"/> (one statement or several) and returns the rows of each result set as invariant text.</summary>
    private async Task<IReadOnlyList<IReadOnlyList<MySqlRow>>> ReadRowsAsync(MySqlConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = sql;
            var reader = await command.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var results = new List<IReadOnlyList<MySqlRow>>(2);
                do
                {
                    var columns = new string[reader.FieldCount];
                    for (var i = 0; i < columns.Length; i++)
                    {
                        columns[i] = reader.GetName(i);
                    }

                    var rows = new List<MySqlRow>();
                    var values = new string?[columns.Length];
                    while (await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        for (var i = 0; i < values.Length; i++)
                        {
                            values[i] = Value(reader, i, sql, columns[i]);
                        }

                        rows.Add(new MySqlRow(columns, values));
                    }

                    results.Add(rows);
                }
                while (await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false));

                return results;
            }
        }
    }

    // Servers type the same value differently (read_only as a number or a boolean, names as text or bytes); the
    // parser reads invariant text.
    private string? Value(MySqlDataReader reader, int ordinal, string sql, string column)
    {
        try
        {
            return reader.IsDBNull(ordinal) ? null : reader.GetValue(ordinal) switch
            {
                string text => text,
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                bool flag => flag ? "1" : "0",
                IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
                var other => other.ToString(),
            };
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException or MySqlConversionException)
        {
            throw new MySqlStatusException(_endpoint.ToString(), MySqlStatusFailure.Unreadable, null, $"{sql}: {column} cannot be read ({e.Message})", e);
        }
    }

    /// <summary>
    /// Waits for <paramref name="step"/> on <paramref name="connection"/> for at most the endpoint's timeout.
    /// Throws its failure as a <see cref="MySqlStatusException"/>; one that takes longer is abandoned to end by
    /// itself, its connection closed when it does, and is a <see cref="MySqlStatusFailure.Timeout"/>.
    /// </summary>
    private async Task StepAsync(MySqlConnection connection, Task step)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await step.WaitAsync(_stepTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!step.IsCompleted)
        {
            Abandon(connection, step);
            throw new MySqlStatusException(_endpoint.ToString(), MySqlStatusFailure.Timeout, null, NoAnswer());
        }
        catch (MySqlStatusException)
        {
            throw;
        }
        catch (Exception e)
        {
            // The driver's own timeouts are the endpoint's rounded up: a connection lost after about that long timed out.
            var timedOut = Stopwatch.GetElapsedTime(started) >= _stepTimeout * 0.9;
            var (failure, errorCode) = MySqlErrorClassifier.Classify(e, timedOut);
            var message = failure == MySqlStatusFailure.Timeout ? $"{NoAnswer()}: {e.Message}" : e.Message;
            throw new MySqlStatusException(_endpoint.ToString(), failure, errorCode, message, e);
        }
    }

    private void Abandon(MySqlConnection connection, Task step)
    {
        if (ReferenceEquals(_connection, connection))
        {
            _connection = null;
        }

        _abandoned = CloseAfterAsync(step, connection);
    }

    private static async Task CloseAfterAsync(Task step, MySqlConnection connection)
    {
        try
        {
            await step.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Its read already failed with a timeout.
        }

        await DisposeQuietlyAsync(connection).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits until a step an earlier read abandoned has ended and its connection is closed. The driver's timeouts
    /// end it; should it outlast twice them, it is left behind (it still closes its connection when it ends).
    /// </summary>
    private async Task FinishAbandonedAsync()
    {
        if (_abandoned is not { } abandoned)
        {
            return;
        }

        _abandoned = null;
        try
        {
            await abandoned.WaitAsync(_driverTimeout * 2 + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private async Task CloseAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await DisposeQuietlyAsync(connection).ConfigureAwait(false);
        }
    }

    private static async Task DisposeQuietlyAsync(MySqlConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A broken connection may fail to close cleanly; it is gone either way.
        }
    }

    private string NoAnswer() => $"no answer within {_endpoint.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
}
