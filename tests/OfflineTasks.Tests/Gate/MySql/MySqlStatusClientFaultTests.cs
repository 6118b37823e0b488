using System.Diagnostics;
using System.Globalization;
using MySqlConnector;
using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Tests.Infrastructure;
using Xunit.Abstractions;

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
/// Status reads while a master misbehaves: hung (SIGSTOP), restarted, full, replication stopped, connections
/// dropped. Every test leaves both masters running and replicating.
/// </summary>
public sealed class MySqlStatusClientFaultTests : IClassFixture<FaultsMariaDbPair>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly LocalMariaDbPair _pair;
    private readonly ITestOutputHelper _output;
    private readonly MySqlStatusClientFactory _factory = new();

    public MySqlStatusClientFaultTests(FaultsMariaDbPair fixture, ITestOutputHelper output)
    {
        _pair = fixture.Pair;
        _output = output;
    }

    [Fact]
    public async Task Threads_connected_counts_other_connections_but_not_the_probes_own()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        var baseline = (await client.ReadStatusAsync(CancellationToken.None)).ThreadsConnected;
        var idle = new List<MySqlConnection>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                idle.Add(_pair.OpenAppConnection("a"));
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
        _output.WriteLine($"after KILL CONNECTION: {e.Failure}, {e.Message}");
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
    public async Task A_full_server_keeps_error_1040_so_the_policy_counts_it_as_load()
    {
        _pair.Sql("a", "SET GLOBAL max_connections = 10");
        var fillers = new List<MySqlConnection>();
        try
        {
            // The probe user has no CONNECTION ADMIN: the slot MariaDB keeps for administrators stays free (for root).
            var full = false;
            for (var i = 0; i < 20 && !full; i++)
            {
                var connection = new MySqlConnection(MySqlStatusClient.ConnectionString(_pair.Endpoint("a", Timeout), timeoutSeconds: 5));
                try
                {
                    await connection.OpenAsync();
                    fillers.Add(connection);
                }
                catch (MySqlException e) when (e.ErrorCode == MySqlErrorCode.ConnectionCountError)
                {
                    await connection.DisposeAsync();
                    full = true;
                }
            }

            Assert.True(full, $"a accepted {fillers.Count} connections with max_connections = 10");
            await using var client = _factory.Create(_pair.Endpoint("a", Timeout));

            var failure = await Assert.ThrowsAsync<MySqlStatusException>(() => client.ReadStatusAsync(CancellationToken.None));

            Assert.Equal(MasterSample.TooManyConnections, failure.ErrorCode);
            Assert.Equal(1040, failure.ErrorCode);
            Assert.Equal(MySqlStatusFailure.Other, failure.Failure);
            Assert.Contains("Too many connections", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var connection in fillers)
            {
                await connection.DisposeAsync();
            }

            _pair.Sql("a", "SET GLOBAL max_connections = 100");
        }

        await using var after = _factory.Create(_pair.Endpoint("a", Timeout));
        Assert.Equal(100, (await after.ReadStatusAsync(CancellationToken.None)).MaxConnections);
    }

    [Fact]
    public async Task A_hung_server_releases_a_cancelled_caller_at_once_and_is_read_again_after_it_resumes()
    {
        await using var client = _factory.Create(_pair.Endpoint("a", Timeout));
        await client.ReadStatusAsync(CancellationToken.None);
        var connectionBefore = ProbeConnectionIds("a");
        var pid = _pair.Pid("a");
        Exception? failure, second;
        TimeSpan elapsed, secondElapsed;
        Signal("STOP", pid);
        try
        {
            using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            var stopwatch = Stopwatch.StartNew();
            failure = await Record.ExceptionAsync(() => client.ReadStatusAsync(cancellation.Token));
            elapsed = stopwatch.Elapsed;

            // The next read waits for the stuck one (never two on one connection); its caller is released as promptly.
            using var again = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            stopwatch.Restart();
            second = await Record.ExceptionAsync(() => client.ReadStatusAsync(again.Token));
            secondElapsed = stopwatch.Elapsed;

            // Long enough for the abandoned statement to run out of its timeout while nobody waits for it.
            await Task.Delay(Timeout);
        }
        finally
        {
            Signal("CONT", pid);
        }

        _output.WriteLine($"cancelled after 500 ms: returned after {elapsed.TotalMilliseconds:0} ms with {failure?.GetType().Name}");
        _output.WriteLine($"cancelled after 300 ms: returned after {secondElapsed.TotalMilliseconds:0} ms with {second?.GetType().Name}");
        Assert.IsAssignableFrom<OperationCanceledException>(failure);
        Assert.IsAssignableFrom<OperationCanceledException>(second);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromMilliseconds(1000));
        Assert.InRange(secondElapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(800));

        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var stopwatchAfter = Stopwatch.StartNew();
        Assert.Equal(100, (await client.ReadStatusAsync(bounded.Token)).MaxConnections);
        _output.WriteLine($"first read after SIGCONT: {stopwatchAfter.Elapsed.TotalMilliseconds:0} ms");
        await WaitUntilBothReplicateAsync();

        // The connection of the read that timed out while nobody waited was closed: only the client's new one is left.
        var connectionsAfter = await Eventually.Until(
            () => Task.FromResult(ProbeConnectionIds("a")), ids => ids.Length == 1, TimeSpan.FromSeconds(10), "one probe connection on a");
        Assert.NotEqual(Assert.Single(connectionBefore), connectionsAfter[0]);
    }

    [Fact]
    public async Task A_hung_server_is_a_timeout_for_a_caller_that_waits()
    {
        await using var connected = _factory.Create(_pair.Endpoint("b", Timeout));
        await connected.ReadStatusAsync(CancellationToken.None);
        await using var connecting = _factory.Create(_pair.Endpoint("b", Timeout));
        var pid = _pair.Pid("b");
        MySqlStatusException reading, connectingFailure;
        TimeSpan readingElapsed, connectingElapsed;
        Signal("STOP", pid);
        try
        {
            var stopwatch = Stopwatch.StartNew();
            var read = Timed(() => connected.ReadStatusAsync(CancellationToken.None), stopwatch);
            var connect = Timed(() => connecting.ReadStatusAsync(CancellationToken.None), stopwatch);
            (reading, readingElapsed) = await read.WaitAsync(TimeSpan.FromSeconds(10));
            (connectingFailure, connectingElapsed) = await connect.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Signal("CONT", pid);
        }

        _output.WriteLine($"statement on a hung server: {reading.Failure} after {readingElapsed.TotalMilliseconds:0} ms: {reading.Message}");
        _output.WriteLine($"connect to a hung server: {connectingFailure.Failure} after {connectingElapsed.TotalMilliseconds:0} ms: {connectingFailure.Message}");
        Assert.Equal(MySqlStatusFailure.Timeout, reading.Failure);
        Assert.Equal(MySqlStatusFailure.Timeout, connectingFailure.Failure);
        Assert.Contains("no answer within 2 s", reading.Message, StringComparison.Ordinal);
        Assert.Contains("no answer within 2 s", connectingFailure.Message, StringComparison.Ordinal);
        Assert.InRange(readingElapsed, Timeout * 0.9, Timeout * 1.5);
        Assert.InRange(connectingElapsed, Timeout * 0.9, Timeout * 1.5);

        Assert.Equal(100, (await connected.ReadStatusAsync(CancellationToken.None)).MaxConnections);
        await WaitUntilBothReplicateAsync();

        // Closed after the error: the timed-out connection is gone, the one opened since serves the client.
        await Eventually.Until(() => Task.FromResult(ProbeConnectionIds("b")), ids => ids.Length == 1, TimeSpan.FromSeconds(10), "one probe connection on b");
    }

    [Fact]
    public async Task A_step_times_out_after_the_endpoints_timeout_not_the_drivers_whole_seconds()
    {
        var timeout = TimeSpan.FromMilliseconds(1200);
        await using var client = _factory.Create(_pair.Endpoint("a", timeout));
        await client.ReadStatusAsync(CancellationToken.None);
        var pid = _pair.Pid("a");
        MySqlStatusException failure;
        TimeSpan elapsed;
        Signal("STOP", pid);
        try
        {
            (failure, elapsed) = await Timed(() => client.ReadStatusAsync(CancellationToken.None), Stopwatch.StartNew()).WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Signal("CONT", pid);
        }

        _output.WriteLine($"timeout 1.2 s: {failure.Failure} after {elapsed.TotalMilliseconds:0} ms: {failure.Message}");
        Assert.Equal(MySqlStatusFailure.Timeout, failure.Failure);
        Assert.Contains("no answer within 1.2 s", failure.Message, StringComparison.Ordinal);
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(1100), TimeSpan.FromMilliseconds(1700));

        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal(100, (await client.ReadStatusAsync(bounded.Token)).MaxConnections);
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
            _output.WriteLine($"dropped: {dropped.Message}; refused: {refused.Message}");
            Assert.Equal(MySqlStatusFailure.Unreachable, dropped.Failure);
            Assert.Equal(MySqlStatusFailure.Unreachable, refused.Failure);
            Assert.Equal((int)MySqlErrorCode.UnableToConnectToHost, refused.ErrorCode);

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

    private static async Task<(MySqlStatusException Failure, TimeSpan Elapsed)> Timed(Func<Task> read, Stopwatch stopwatch)
    {
        var failure = await Assert.ThrowsAsync<MySqlStatusException>(read);
        return (failure, stopwatch.Elapsed);
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

    /// <summary>The ids of the probe user's connections on the master.</summary>
    private string[] ProbeConnectionIds(string master) =>
        _pair.Sql(master, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'probe' ORDER BY ID").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        if (!kill.WaitForExit(TimeSpan.FromSeconds(10)) || kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} failed");
        }

        // The kernel stops the process a moment after the signal: until then it may still answer a statement.
        var stopping = Stopwatch.StartNew();
        while (signal == "STOP" && OfflineTasks.Benchmarks.Stress.Signals.State(pid) is not ('T' or null) && stopping.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(5);
        }
    }
}
