using System.Diagnostics;
using System.Globalization;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate.MySql;

/// <summary>A MariaDB pair of this class's own (it hangs, restarts and reconfigures masters), started once for its tests.</summary>
public sealed class FaultsMariaDbPair : IDisposable
{
    public FaultsMariaDbPair()
    {
        Pair = new LocalMariaDbPair("faults", 54413, 54414);
        Pair.Start();
    }

    public LocalMariaDbPair Pair { get; }

    public void Dispose() => Pair.Stop();
}

/// <summary>
/// Status reads while a master misbehaves: hung (SIGSTOP), restarted, replication stopped, connections dropped.
/// Every test leaves both masters running and replicating.
/// </summary>
public sealed class MariaDbStatusClientFaultTests : IClassFixture<FaultsMariaDbPair>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly LocalMariaDbPair _pair;
    private readonly MariaDbStatusClientFactory _factory = new();

    public MariaDbStatusClientFaultTests(FaultsMariaDbPair fixture) => _pair = fixture.Pair;

    [Fact]
    public async Task Threads_connected_counts_other_connections_but_not_the_probes_own()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        var baseline = (await client.ReadStatusAsync(CancellationToken.None)).ThreadsConnected;
        var idle = new List<MariaDbConnection>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                idle.Add(MariaDbConnection.Open(_pair.AppEndpoint("a", Timeout)));
            }

            await Eventually.Until(() => client.ReadStatusAsync(CancellationToken.None), s => s.ThreadsConnected >= baseline + 5, TimeSpan.FromSeconds(10), "5 more connections");
        }
        finally
        {
            idle.ForEach(c => c.Dispose());
        }

        await Eventually.Until(() => client.ReadStatusAsync(CancellationToken.None), s => s.ThreadsConnected <= baseline, TimeSpan.FromSeconds(10), "the 5 connections to go");

        // With nobody else connected, what is left is b's replication connection to a (the probe is not counted).
        var processes = await Eventually.Until(
            () => Task.FromResult(ClientConnections("a")), n => n == 1, TimeSpan.FromSeconds(10), "only b's replication connection on a");
        Assert.Equal(processes, (await client.ReadStatusAsync(CancellationToken.None)).ThreadsConnected);
    }

    [Fact]
    public async Task Keeps_its_connection_between_reads()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);
        var before = Connections("a");

        for (var i = 0; i < 5; i++)
        {
            await client.ReadStatusAsync(CancellationToken.None);
        }

        // The second look at the counter is the only new connection (that of the mariadb client reading it).
        Assert.Equal(before + 1, Connections("a"));
    }

    [Fact]
    public async Task Reads_again_after_the_server_dropped_its_connection()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);

        foreach (var id in _pair.Sql("a", "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'probe'").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            _pair.Sql("a", "KILL CONNECTION " + id);
        }

        var e = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));
        Assert.Equal(MySqlStatusFailure.Unreachable, e.Failure);
        Assert.Equal(100, (await client.ReadStatusAsync(CancellationToken.None)).MaxConnections);
    }

    [Fact]
    public async Task Stopped_replication_shows_as_threads_not_running_with_unknown_lag()
    {
        await using var client = _factory.Create(_pair.Endpoint("b", Timeout));
        _pair.Sql("b", "STOP SLAVE");
        try
        {
            var channel = Assert.Single((await client.ReadStatusAsync(CancellationToken.None)).Replication);

            Assert.False(channel.IoRunning);
            Assert.False(channel.SqlRunning);
            Assert.Null(channel.LagSeconds);
            Assert.Equal(_pair.PortA, channel.SourcePort);
        }
        finally
        {
            _pair.Sql("b", "START SLAVE");
        }

        await Eventually.Until(
            () => client.ReadStatusAsync(CancellationToken.None), s => s.Replication is [{ IoRunning: true, SqlRunning: true }], TimeSpan.FromSeconds(15), "b to replicate again");
    }

    [Fact]
    public async Task A_hung_server_releases_a_cancelled_caller_at_once_and_is_read_again_after_it_resumes()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);
        var pid = _pair.Pid("a");
        Exception? failure;
        TimeSpan elapsed;
        Signal("STOP", pid);
        try
        {
            using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            var stopwatch = Stopwatch.StartNew();
            failure = await Record.ExceptionAsync(() => client.ReadStatusAsync(cancellation.Token));
            elapsed = stopwatch.Elapsed;
        }
        finally
        {
            Signal("CONT", pid);
        }

        Assert.True(failure is OperationCanceledException or MySqlStatusException { Failure: MySqlStatusFailure.Timeout }, $"got {failure}");
        Assert.True(elapsed < TimeSpan.FromSeconds(1.5), $"took {elapsed}");
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(100, (await client.ReadStatusAsync(bounded.Token)).MaxConnections);
        await WaitUntilBothReplicateAsync();
    }

    [Fact]
    public async Task A_hung_server_is_a_timeout_for_a_caller_that_waits()
    {
        await using var connected = _factory.Create(_pair.Endpoint("b", Timeout));
        await connected.ReadStatusAsync(CancellationToken.None);
        await using var connecting = _factory.Create(_pair.Endpoint("b", Timeout));
        var pid = _pair.Pid("b");
        MySqlStatusException reading, connectingFailure;
        TimeSpan elapsed;
        Signal("STOP", pid);
        try
        {
            var stopwatch = Stopwatch.StartNew();
            var read = Assert.ThrowsAsync<MySqlStatusException>(() => connected.ReadStatusAsync(CancellationToken.None));
            var connect = Assert.ThrowsAsync<MySqlStatusException>(() => connecting.ReadStatusAsync(CancellationToken.None));
            reading = await read.WaitAsync(TimeSpan.FromSeconds(10));
            connectingFailure = await connect.WaitAsync(TimeSpan.FromSeconds(10));
            elapsed = stopwatch.Elapsed;
        }
        finally
        {
            Signal("CONT", pid);
        }

        Assert.Equal(MySqlStatusFailure.Timeout, reading.Failure);
        Assert.Equal(MySqlStatusFailure.Timeout, connectingFailure.Failure);
        Assert.Contains("no answer within 2 s", reading.Message, StringComparison.Ordinal);
        Assert.True(elapsed < Timeout * 2.5, $"took {elapsed}");
        Assert.Equal(100, (await connected.ReadStatusAsync(CancellationToken.None)).MaxConnections);
        await WaitUntilBothReplicateAsync();
    }

    [Fact]
    public async Task A_restarted_master_is_unreachable_while_down_and_read_again_when_back()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);

        _pair.StopOne("a");
        try
        {
            var dropped = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));
            var refused = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));
            Assert.Equal(MySqlStatusFailure.Unreachable, dropped.Failure);
            Assert.Equal(MySqlStatusFailure.Unreachable, refused.Failure);
            Assert.True(refused.ErrorCode is 2002 or 2003, $"error {refused.ErrorCode}: {refused.Message}");

            await using var onB = _factory.Create(_pair.Endpoint("b", Timeout));
            var b = await Eventually.Until(
                () => onB.ReadStatusAsync(CancellationToken.None), s => s.Replication is [{ IoRunning: false }], TimeSpan.FromSeconds(10), "b to lose its source");
            Assert.NotNull(b.Replication[0].LastError);
        }
        finally
        {
            _pair.StartOne("a");
        }

        var status = await client.ReadStatusAsync(CancellationToken.None);
        Assert.True(status.Replication is [{ IoRunning: true, SqlRunning: true }], $"a after its restart: {status.Replication[0]}");
        await WaitUntilBothReplicateAsync();
    }

    private async Task WaitUntilBothReplicateAsync()
    {
        foreach (var master in new[] { "a", "b" })
        {
            await using var client = _factory.Create(_pair.Endpoint(master, Timeout));
            await Eventually.Until<MySqlServerStatus?>(
                async () =>
                {
                    try
                    {
                        return await client.ReadStatusAsync(CancellationToken.None);
                    }
                    catch (MySqlStatusException)
                    {
                        return null;
                    }
                },
                s => s?.Replication is [{ IoRunning: true, SqlRunning: true }],
                TimeSpan.FromSeconds(30),
                $"{master} to replicate again");
        }
    }

    /// <summary>The server's count of connection attempts so far.</summary>
    private long Connections(string master) =>
        long.Parse(_pair.Sql(master, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'CONNECTIONS'"), CultureInfo.InvariantCulture);

    /// <summary>Client connections on the master other than the probe's and the one asking (replication threads of its own are not clients).</summary>
    private long ClientConnections(string master) =>
        long.Parse(
            _pair.Sql(master, "SELECT COUNT(*) - 1 FROM information_schema.PROCESSLIST WHERE USER NOT IN ('probe', 'system user') AND COMMAND <> 'Daemon'"),
            CultureInfo.InvariantCulture);

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        if (!kill.WaitForExit(TimeSpan.FromSeconds(10)) || kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} failed");
        }
    }
}
