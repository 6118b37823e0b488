using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MySqlConnector;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate.MySql;

/// <summary>Reads on the shared MariaDB pair; nothing here changes the servers.</summary>
public sealed class MySqlStatusClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly MySqlStatusClientFactory _factory = new();

    [Fact]
    public async Task Reads_the_load_settings_and_replication_of_a_healthy_master()
    {
        var pair = SharedMariaDbPair.Instance;
        await using var client = _factory.Create(pair.Endpoint("b", Timeout));

        var status = await client.ReadStatusAsync(CancellationToken.None);

        Assert.Equal(100, status.MaxConnections);
        Assert.False(status.ReadOnly);
        Assert.True(status.ThreadsConnected >= 1, $"b serves a's replication connection; got {status}");
        var channel = Assert.Single(status.Replication);
        Assert.Equal(new ReplicationChannelStatus("127.0.0.1", pair.PortA, IoRunning: true, SqlRunning: true, LagSeconds: 0, LastError: null), channel);
    }

    [Fact]
    public async Task Reads_through_a_unix_socket()
    {
        var pair = SharedMariaDbPair.Instance;
        await using var client = _factory.Create(pair.Endpoint("a", Timeout) with { Host = "ignored", Socket = pair.SocketPath("a") });

        var status = await client.ReadStatusAsync(CancellationToken.None);

        Assert.Equal(100, status.MaxConnections);
        Assert.Equal(pair.PortB, Assert.Single(status.Replication).SourcePort);
    }

    [Theory]
    [InlineData("SHOW ALL SLAVES STATUS")]
    [InlineData("SHOW REPLICA STATUS")]
    [InlineData("SHOW SLAVE STATUS")]
    public async Task Reads_the_replication_channel_with_each_form_of_the_statement(string statement)
    {
        var pair = SharedMariaDbPair.Instance;
        await using var client = new MySqlStatusClient(pair.Endpoint("a", Timeout), [statement]);

        var channel = Assert.Single((await client.ReadStatusAsync(CancellationToken.None)).Replication);

        Assert.Equal(new ReplicationChannelStatus("127.0.0.1", pair.PortB, IoRunning: true, SqlRunning: true, LagSeconds: 0, LastError: null), channel);
    }

    [Fact]
    public async Task Falls_back_to_the_next_replication_statement_the_server_knows_and_remembers_it()
    {
        // As MySQL 8.4 answers SHOW ALL SLAVES STATUS: a syntax error.
        await using var client = new MySqlStatusClient(SharedMariaDbPair.Endpoint("a", Timeout), ["SHOW NO SUCH STATUS", "SHOW ALL SLAVES STATUS"]);
        Assert.Equal("SHOW NO SUCH STATUS", client.ReplicationStatement);

        var first = await client.ReadStatusAsync(CancellationToken.None);
        Assert.Equal("SHOW ALL SLAVES STATUS", client.ReplicationStatement);
        var second = await client.ReadStatusAsync(CancellationToken.None);

        Assert.Single(first.Replication);
        Assert.Single(second.Replication);
        Assert.Equal("SHOW ALL SLAVES STATUS", client.ReplicationStatement);
    }

    [Fact]
    public async Task Falls_back_to_the_status_table_the_server_has_then_reads_both_statements_in_one_round_trip()
    {
        // As MySQL 8 answers a query of information_schema.GLOBAL_STATUS: an unknown table.
        await using var client = new MySqlStatusClient(SharedMariaDbPair.Endpoint("a", Timeout), MySqlStatusQueries.ReplicationStatus,
            ["SELECT VARIABLE_NAME AS Variable_name, VARIABLE_VALUE AS Value FROM information_schema.NO_SUCH_STATUS", MySqlStatusQueries.Status[0]]);
        Assert.False(client.Batched);

        var first = await client.ReadStatusAsync(CancellationToken.None);

        Assert.Equal(MySqlStatusQueries.Status[0], client.StatusStatement);
        Assert.True(client.Batched);
        var second = await client.ReadStatusAsync(CancellationToken.None);
        Assert.Equal(first.MaxConnections, second.MaxConnections);
        Assert.True(second.MaxConnections > 0);
        Assert.Single(second.Replication);
        Assert.True(second.Replication[0].IoRunning && second.Replication[0].SqlRunning);
    }

    [Fact]
    public async Task A_server_that_knows_no_replication_statement_is_an_error_with_its_number()
    {
        await using var client = new MySqlStatusClient(SharedMariaDbPair.Endpoint("a", Timeout), ["SHOW NO SUCH STATUS", "SHOW NOR THIS STATUS"]);

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Other, e.Failure);
        Assert.Equal((int)MySqlErrorCode.ParseError, e.ErrorCode);
        Assert.Contains("NOR THIS STATUS", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not-the-probe-pass")]
    [InlineData("x;Password=probe-pass;Server=10.255.255.1;Port=1")]
    [InlineData("it's \"quoted\"; = \\ é")]
    public async Task A_wrong_password_is_access_denied_with_the_servers_error_and_without_the_password(string password)
    {
        var endpoint = SharedMariaDbPair.Endpoint("a", Timeout) with { Password = password };
        await using var client = _factory.Create(endpoint);

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        // The whole text is the password: it reaches the server as such (it is not read as connection options).
        Assert.Equal(MySqlStatusFailure.AccessDenied, e.Failure);
        Assert.Equal((int)MySqlErrorCode.AccessDenied, e.ErrorCode);
        Assert.Equal(endpoint.ToString(), e.Endpoint);
        Assert.Contains("Access denied for user 'probe'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, e.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password, endpoint.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_port_is_unreachable_at_once()
    {
        await using var client = _factory.Create(SharedMariaDbPair.Endpoint("a", Timeout) with { Port = ClosedPort() });
        var stopwatch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Unreachable, e.Failure);
        Assert.Equal((int)MySqlErrorCode.UnableToConnectToHost, e.ErrorCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task A_missing_unix_socket_is_unreachable_at_once()
    {
        var socket = Path.Combine(Path.GetTempPath(), "offlinetasks-no-such-dir", "mariadbd.sock");
        await using var client = _factory.Create(SharedMariaDbPair.Endpoint("a", Timeout) with { Socket = socket });
        var stopwatch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Unreachable, e.Failure);
        Assert.Contains("no such Unix socket", e.Message, StringComparison.Ordinal);
        Assert.Contains(socket, e.Endpoint, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task A_cancelled_token_is_honoured_before_anything_is_sent()
    {
        await using var client = _factory.Create(SharedMariaDbPair.Endpoint("a", Timeout));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReadStatusAsync(new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task A_disposed_client_refuses_to_read()
    {
        var client = _factory.Create(SharedMariaDbPair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);
        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReadStatusAsync(CancellationToken.None));
    }

    [Fact]
    public void The_connection_string_keeps_one_unpooled_connection_with_the_endpoints_timeouts_and_no_kill_query()
    {
        var endpoint = new MySqlEndpoint("users", "users-2a", "10.0.3.21", 3307, "probe", "s;e\"cret", null, TimeSpan.FromMilliseconds(1500));

        var settings = new MySqlConnectionStringBuilder(MySqlStatusClient.ConnectionString(endpoint, 2));

        Assert.Equal("10.0.3.21", settings.Server);
        Assert.Equal(3307u, settings.Port);
        Assert.Equal(MySqlConnectionProtocol.Sockets, settings.ConnectionProtocol);
        Assert.Equal("s;e\"cret", settings.Password);
        Assert.False(settings.Pooling);
        Assert.Equal(2u, settings.ConnectionTimeout);
        Assert.Equal(2u, settings.DefaultCommandTimeout);
        Assert.Equal(-1, settings.CancellationTimeout);
        Assert.False(settings.PersistSecurityInfo);
        Assert.False(settings.AllowLoadLocalInfile);
        Assert.False(settings.AutoEnlist);

        var socket = new MySqlConnectionStringBuilder(MySqlStatusClient.ConnectionString(endpoint with { Socket = "/run/mysqld/mysqld.sock" }, 2));
        Assert.Equal(MySqlConnectionProtocol.UnixSocket, socket.ConnectionProtocol);
        Assert.Equal("/run/mysqld/mysqld.sock", socket.Server);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
