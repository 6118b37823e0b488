using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate.MySql;

/// <summary>Reads on the shared MariaDB pair; nothing here changes the servers.</summary>
public sealed class MariaDbStatusClientTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private readonly MariaDbStatusClientFactory _factory = new();

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
    }

    [Fact]
    public async Task A_wrong_password_is_access_denied_with_the_servers_error_and_without_the_password()
    {
        var endpoint = SharedMariaDbPair.Endpoint("a", Timeout) with { Password = "not-the-probe-pass" };
        await using var client = _factory.Create(endpoint);

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.AccessDenied, e.Failure);
        Assert.Equal(1045, e.ErrorCode);
        Assert.Equal(endpoint.ToString(), e.Endpoint);
        Assert.Contains("Access denied for user 'probe'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-probe-pass", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_closed_port_is_unreachable_at_once()
    {
        await using var client = _factory.Create(SharedMariaDbPair.Endpoint("a", Timeout) with { Port = ClosedPort() });
        var stopwatch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

        Assert.Equal(MySqlStatusFailure.Unreachable, e.Failure);
        Assert.True(e.ErrorCode is 2002 or 2003, $"error {e.ErrorCode}: {e.Message}");
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

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
