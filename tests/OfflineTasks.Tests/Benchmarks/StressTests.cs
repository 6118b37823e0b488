using System.Diagnostics;
using System.Globalization;
using MySqlConnector;
using OfflineTasks.Benchmarks.Stress;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Benchmarks;

/// <summary>A MariaDB pair of this class's own for the stress tests.</summary>
public sealed class StressMariaDbPair : IDisposable
{
    public StressMariaDbPair()
    {
        Pair = new LocalMariaDbPair("stress", 54443, 54444);
        Pair.Start();
    }

    public LocalMariaDbPair Pair { get; }

    public void Dispose() => Pair.Stop();
}

/// <summary>
/// The gate benchmark's stresses (benchmarks/OfflineTasks.Benchmarks/Stress) really put the server in the state
/// they claim, and really take it back out: each test reads the server's own status while the stress holds and
/// after it is undone, and leaves both masters running and replicating.
/// </summary>
public sealed class StressTests(StressMariaDbPair fixture) : IClassFixture<StressMariaDbPair>
{
    /// <summary>Every test's bound: a stress that wedged its server fails its test rather than hanging the suite.</summary>
    private const int TestTimeoutMs = 90_000;

    private readonly MariaDbServer _server = new(fixture.Pair.Directory, "a", fixture.Pair.PortA);

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sleeping_statements_raise_threads_running_above_high_water_and_undo_brings_it_below_low_water()
    {
        await using var stress = new ThreadsRunningStress(_server, 45);

        await stress.ApplyAsync();
        var running = await WaitForAsync(() => StatusAsync("THREADS_RUNNING"), r => r - 1 >= 45);
        var calm = await stress.UndoAsync();

        Assert.True(running - 1 >= 45, $"Threads_running {running} while 45 statements sleep");
        Assert.True(await StatusAsync("THREADS_RUNNING") - 1 < 20);
        Assert.True(calm <= DateTimeOffset.UtcNow);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Idle_connections_raise_the_connection_ratio_above_high_water_and_undo_brings_it_below_low_water()
    {
        await using var stress = new ConnectionsStress(_server, ratio: 0.85);

        await stress.ApplyAsync();
        var max = long.Parse(await _server.ScalarAsync("SELECT @@GLOBAL.max_connections") ?? "0", CultureInfo.InvariantCulture);
        var during = (await StatusAsync("THREADS_CONNECTED") - 1) / (double)max;
        await stress.UndoAsync();
        var after = (await StatusAsync("THREADS_CONNECTED") - 1) / (double)max;

        Assert.True(during >= 0.80, $"Threads_connected/max_connections {during:0.00} under the stress");
        Assert.True(after < 0.60, $"Threads_connected/max_connections {after:0.00} after it");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stop_slave_stops_replication_and_undo_starts_it_again()
    {
        await using var stress = new ReplicationStress(_server);

        await stress.ApplyAsync();
        var during = await ReplicatingAsync();
        await stress.UndoAsync();

        Assert.False(during);
        Assert.True(await ReplicatingAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_frozen_server_accepts_no_statement_and_answers_again_after_undo()
    {
        await using var stress = new FreezeStress(_server);

        await stress.ApplyAsync();
        var state = await WaitForAsync(() => Task.FromResult(Signals.State(stress.Pid)), st => st == 'T'); // the kernel stops it a moment after the signal
        var clock = Stopwatch.StartNew();
        var answered = await AnswersAsync(TimeSpan.FromSeconds(1));
        var waited = clock.Elapsed;
        await stress.UndoAsync();

        Assert.Equal('T', state);
        Assert.False(answered);
        Assert.True(waited >= TimeSpan.FromSeconds(0.9), $"gave up after {waited.TotalMilliseconds:0} ms, not after the 1 s timeout");
        Assert.True(await AnswersAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_shut_down_master_refuses_connections_and_undo_starts_it_replicating_again()
    {
        await using var stress = new ShutdownStress(_server);

        await stress.ApplyAsync();
        var answered = await AnswersAsync(TimeSpan.FromSeconds(2));
        await stress.UndoAsync();

        Assert.False(answered);
        Assert.True(await ReplicatingAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Noise_keeps_threads_running_around_high_water_above_low_water()
    {
        await using var stress = new NoiseStress(_server, TimeSpan.FromSeconds(4), seed: 7);
        await stress.ApplyAsync();
        var samples = new List<long>();
        while (!stress.Completion.IsCompleted && samples.Count < 400)
        {
            samples.Add(await StatusAsync("THREADS_RUNNING") - 1);
            await Task.Delay(25);
        }

        await stress.UndoAsync();

        Assert.Contains(samples, s => s >= 40);
        Assert.Contains(samples, s => s < 40);
        Assert.True(samples.Skip(4).All(s => s >= 20), $"Threads_running fell to {samples.Skip(4).Min()} during the noise");
        Assert.Contains(stress.Segments, s => s.Above);
        Assert.Contains(stress.Segments, s => !s.Above);
        Assert.All(stress.Segments.SkipLast(1), s => Assert.InRange(s.Length.TotalMilliseconds, 200, 1000));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_stress_undoes_itself_after_its_maximum_duration()
    {
        var stress = new ReplicationStress(_server, maxDuration: TimeSpan.FromMilliseconds(500));

        await stress.ApplyAsync();
        Assert.False(await ReplicatingAsync());

        Assert.True(await WaitForAsync(ReplicatingAsync, running => running, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void A_stress_refuses_a_server_that_is_not_on_loopback()
    {
        var e = Assert.Throws<ArgumentException>(() => new MariaDbServer(fixture.Pair.Directory, "a", 3306, "10.1.2.3"));

        Assert.Contains("10.1.2.3", e.Message, StringComparison.Ordinal);
    }

    private async Task<long> StatusAsync(string variable)
    {
        await using var connection = await _server.OpenAsync();
        return await MariaDbServer.StatusAsync(connection, variable);
    }

    private async Task<bool> ReplicatingAsync()
    {
        await using var connection = await _server.OpenAsync();
        return await MariaDbServer.ReplicatingAsync(connection);
    }

    private async Task<bool> AnswersAsync(TimeSpan timeout)
    {
        try
        {
            await using var connection = new MySqlConnection(_server.ConnectionString(1));
            using var cancel = new CancellationTokenSource(timeout);
            await connection.OpenAsync(cancel.Token);
            return await MariaDbServer.ScalarAsync(connection, "SELECT 1", cancel.Token) == "1";
        }
        catch (Exception e) when (e is MySqlException or OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        var value = await read();
        while (!done(value) && clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(5)))
        {
            await Task.Delay(20);
            value = await read();
        }

        return value;
    }
}
