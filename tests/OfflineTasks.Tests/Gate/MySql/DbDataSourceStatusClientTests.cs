using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Gate.MySql;

/// <summary>
/// The ADO.NET client's own logic (statement fallback, connection reuse, error mapping, timeouts) over an
/// in-memory provider answering recorded rows; the statements themselves are covered against real MariaDB.
/// </summary>
public sealed class DbDataSourceStatusClientTests
{
    private static readonly MySqlEndpoint Endpoint = new("users", "users-2a", "10.0.3.21", 3306, "probe", "secret", null, TimeSpan.FromSeconds(1));

    [Fact]
    public async Task Reads_a_MySQL_8_server_and_remembers_which_replication_statement_it_knows()
    {
        var server = new ScriptedServer();
        server.Answer(MySqlStatusQueries.GlobalStatus, Table(["Variable_name", "Value"], ["Threads_connected", "41"], ["Threads_running", "6"]));
        server.Answer(MySqlStatusQueries.Variables, Table(["max_connections", "read_only"], [2000UL, 0L]));
        server.Fail("SHOW ALL SLAVES STATUS", new FakeMySqlException(1064, "42000", "You have an error in your SQL syntax; check the manual … near 'ALL SLAVES STATUS'"));
        server.Answer("SHOW REPLICA STATUS", Table(
            ["Replica_IO_State", "Source_Host", "Source_Port", "Replica_IO_Running", "Replica_SQL_Running", "Seconds_Behind_Source", "Last_IO_Error", "Last_SQL_Error"],
            ["Waiting for source to send event", "10.0.3.22", 3306L, "Yes", "Yes", 3UL, "", ""]));
        await using var client = Factory(server).Create(Endpoint);

        var first = await client.ReadStatusAsync(CancellationToken.None);
        var second = await client.ReadStatusAsync(CancellationToken.None);

        Assert.Equal(40, first.ThreadsConnected);
        Assert.Equal(5, first.ThreadsRunning);
        Assert.Equal(2000, first.MaxConnections);
        Assert.False(first.ReadOnly);
        Assert.Equal(new ReplicationChannelStatus("10.0.3.22", 3306, true, true, 3, null), Assert.Single(second.Replication));
        Assert.Equal(1, server.Executed.Count(s => s == "SHOW ALL SLAVES STATUS"));
        Assert.Equal(1, server.Opened);
    }

    [Fact]
    public async Task A_refused_login_is_access_denied_with_the_providers_error_number()
    {
        var server = new ScriptedServer { OpenFailure = new FakeMySqlException(1045, "28000", "Access denied for user 'probe'@'10.0.3.9' (using password: YES)") };
        await using var client = Factory(server).Create(Endpoint);

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.AccessDenied, e.Failure);
        Assert.Equal(1045, e.ErrorCode);
        Assert.StartsWith("users-2a (10.0.3.21:3306): Access denied", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_error_number_the_SQL_state_decides()
    {
        var server = new ScriptedServer { OpenFailure = new FakeMySqlException(0, "08S01", "Communication link failure") };
        await using var client = new DbDataSourceStatusClientFactory(_ => new ScriptedDataSource(server), _ => null).Create(Endpoint);

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Unreachable, e.Failure);
        Assert.Null(e.ErrorCode);
    }

    [Fact]
    public async Task A_statement_without_an_answer_is_a_timeout_and_the_next_read_uses_a_new_connection()
    {
        var server = new ScriptedServer();
        server.Hang(MySqlStatusQueries.GlobalStatus);
        await using var client = Factory(server).Create(Endpoint);
        var stopwatch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Timeout, e.Failure);
        Assert.Contains("no answer within 1 s", e.Message, StringComparison.Ordinal);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
        Assert.Equal(1, server.Closed);

        await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));
        Assert.Equal(2, server.Opened);
    }

    [Fact]
    public async Task A_cancelled_caller_gets_control_back_at_once()
    {
        var server = new ScriptedServer();
        server.Hang(MySqlStatusQueries.GlobalStatus);
        await using var client = Factory(server).Create(Endpoint with { Timeout = TimeSpan.FromSeconds(30) });
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var stopwatch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReadStatusAsync(cancellation.Token));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
    }

    private static DbDataSourceStatusClientFactory Factory(ScriptedServer server) => new(_ => new ScriptedDataSource(server));

    private static DataTable Table(string[] columns, params object[][] rows)
    {
        var table = new DataTable();
        for (var i = 0; i < columns.Length; i++)
        {
            table.Columns.Add(columns[i], rows.Length > 0 ? rows[0][i].GetType() : typeof(string));
        }

        foreach (var row in rows)
        {
            table.Rows.Add(row);
        }

        return table;
    }

    /// <summary>What the fake server answers to each statement, and what it saw.</summary>
    private sealed class ScriptedServer
    {
        private readonly Dictionary<string, Func<CancellationToken, Task<DataTable>>> _answers = [];

        public DbException? OpenFailure { get; init; }

        public int Opened { get; set; }

        public int Closed { get; set; }

        public List<string> Executed { get; } = [];

        public void Answer(string sql, DataTable table) => _answers[sql] = _ => Task.FromResult(table);

        public void Fail(string sql, DbException exception) => _answers[sql] = _ => Task.FromException<DataTable>(exception);

        public void Hang(string sql) => _answers[sql] = async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new UnreachableException();
        };

        public Task<DataTable> RunAsync(string sql, CancellationToken cancellationToken)
        {
            Executed.Add(sql);
            return _answers.TryGetValue(sql, out var answer)
                ? answer(cancellationToken)
                : Task.FromException<DataTable>(new FakeMySqlException(1064, "42000", "unknown statement " + sql));
        }
    }

    private sealed class FakeMySqlException(int number, string sqlState, string message) : DbException(message, number)
    {
        public override string SqlState => sqlState;
    }

    private sealed class ScriptedDataSource(ScriptedServer server) : DbDataSource
    {
        public override string ConnectionString => "Server=10.0.3.21";

        protected override DbConnection CreateDbConnection() => new ScriptedConnection(server);
    }

    private sealed class ScriptedConnection(ScriptedServer server) : DbConnection
    {
        private ConnectionState _state = ConnectionState.Closed;

        [AllowNull]
        public override string ConnectionString { get; set; } = string.Empty;

        public override string Database => string.Empty;

        public override string DataSource => "10.0.3.21";

        public override string ServerVersion => "8.0.36";

        public override ConnectionState State => _state;

        public override void Open()
        {
            server.Opened++;
            if (server.OpenFailure is { } failure)
            {
                throw failure;
            }

            _state = ConnectionState.Open;
        }

        public override void Close()
        {
            if (_state == ConnectionState.Open)
            {
                server.Closed++;
            }

            _state = ConnectionState.Closed;
        }

        public override void ChangeDatabase(string databaseName) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Close();
            base.Dispose(disposing);
        }

        protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => throw new NotSupportedException();

        protected override DbCommand CreateDbCommand() => new ScriptedCommand(server) { Connection = this };
    }

    private sealed class ScriptedCommand(ScriptedServer server) : DbCommand
    {
        [AllowNull]
        public override string CommandText { get; set; } = string.Empty;

        public override int CommandTimeout { get; set; }

        public override CommandType CommandType { get; set; }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection { get; set; }

        protected override DbParameterCollection DbParameterCollection => throw new NotSupportedException();

        protected override DbTransaction? DbTransaction { get; set; }

        public override void Cancel()
        {
        }

        public override int ExecuteNonQuery() => throw new NotSupportedException();

        public override object? ExecuteScalar() => throw new NotSupportedException();

        public override void Prepare()
        {
        }

        protected override DbParameter CreateDbParameter() => throw new NotSupportedException();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => throw new NotSupportedException("async only");

        protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken) =>
            (await server.RunAsync(CommandText, cancellationToken)).CreateDataReader();
    }
}
