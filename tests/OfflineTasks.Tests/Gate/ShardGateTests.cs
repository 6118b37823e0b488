using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate;

/// <summary>
/// Two MariaDB master-master pairs in containers (shards x and y; the project's image through Testcontainers.MySql)
/// for the gate's end-to-end tests; the tests stop, pause and load pair x.
/// </summary>
public sealed class GatePairs : IAsyncLifetime
{
    public ContainerMariaDbPair X { get; private set; } = null!;

    public ContainerMariaDbPair Y { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var x = ContainerMariaDbPair.StartAsync("gate-x");
        var y = ContainerMariaDbPair.StartAsync("gate-y");
        (X, Y) = (await x, await y);
    }

    public async Task DisposeAsync()
    {
        if (X is not null)
        {
            await X.DisposeAsync();
        }

        if (Y is not null)
        {
            await Y.DisposeAsync();
        }
    }
}

/// <summary>The load-feedback gate end to end on the Hangfire path: real MariaDB pairs, real PostgreSQL, Hangfire's real server.</summary>
public sealed class ShardGateTests(GatePairs pairs) : IClassFixture<GatePairs>
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan HoldTime = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);

    private IEnumerable<KeyValuePair<string, string?>> Shards() => pairs.X.GateKeys("x").Concat(pairs.Y.GateKeys("y"));

    [Fact]
    public async Task Stopping_a_master_stops_its_shard_s_jobs_within_moments_while_the_other_shard_keeps_running()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        await using var host = new TestHost(schema, 4, Shards());
        await host.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);
        await WaitForModeAsync(schema, "y", ShardMode.Open);

        // Interleaved, as Hangfire fetches in order: x's jobs stay in the queue throughout.
        var ids = Enumerable.Range(0, 150).SelectMany(_ => Enqueue(schema, "x", key + "x", 1, 60).Concat(Enqueue(schema, "y", key + "y", 1, 60))).ToList();
        await Eventually.Until(() => Task.FromResult(TestJobs.StartsOf(key + "x").Count), n => n >= 8, Timeout, "jobs of shard x to start");

        var stopped = DateTime.UtcNow;
        var restarted = DateTime.MaxValue;
        await pairs.X.StopAsync("b");
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            var late = TestJobs.StartsOf(key + "x").Where(at => at > stopped + ProbeInterval + TimeSpan.FromMilliseconds(500)).ToList();
            Assert.True(late.Count == 0, $"{late.Count} jobs of shard x started more than ProbeInterval + 0.5 s after its master stopped, the first {(late.Count > 0 ? (late[0] - stopped).TotalSeconds : 0):0.00} s after");
            Assert.True(TestJobs.StartsOf(key + "y").Count(at => at > stopped + TimeSpan.FromSeconds(1)) > 5, "shard y kept running while x was closed");

            var state = (await schema.Store.GetShardStatesAsync()).Single(s => s.Shard == "x");
            Assert.Equal(ShardMode.Closed, state.Mode);
            Assert.Contains("gate-x-b unreachable", state.Reason, StringComparison.Ordinal);
        }
        finally
        {
            restarted = DateTime.UtcNow; // when it was asked to start: it cannot be back before (StartAsync returns after Testcontainers' wait, later)
            await pairs.X.StartAsync("b", Timeout);
        }

        await schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);
        var after = TestJobs.StartsOf(key + "x").Where(at => at > stopped + TimeSpan.FromSeconds(1)).ToList();
        Assert.True(after.Count > 0, "no job of shard x was left to run after it reopened: the test did not close it in time");
        var resumed = after.Min();
        Assert.True(resumed >= restarted + HoldTime - TimeSpan.FromMilliseconds(200), $"shard x resumed {(resumed - restarted).TotalSeconds:0.00} s after its master restarted, before the hold time");
        Assert.Equal(300, TestJobs.StartsOf(key + "x").Count + TestJobs.StartsOf(key + "y").Count);
        Assert.All(ids, id => Assert.Null(schema.ParameterOf(id, "RetryCount")));

        var events = await schema.Store.GetShardEventsAsync("x");
        Assert.Equal([ShardMode.Open, ShardMode.Closed, ShardMode.Open], events.Reverse().Select(e => e.To));
    }

    [Fact]
    public async Task Connections_crossing_high_water_close_the_shard_and_it_reopens_only_below_low_water_after_the_hold_time()
    {
        await using var schema = await NewSchemaAsync();
        await using var host = new TestHost(schema, 2, Shards().With(
            ("OfflineTasks:Gate:Shards:x:Thresholds:ConnectionsRatio:High", "0.2"), ("OfflineTasks:Gate:Shards:x:Thresholds:ConnectionsRatio:Low", "0.1")));
        await host.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);

        var idle = new List<MySqlConnection>();
        try
        {
            // max_connections is 100 on the test pair: 20 idle connections on b cross 0.20.
            Open(idle, 20);
            var closed = await WaitForModeAsync(schema, "x", ShardMode.Closed);
            Assert.Matches(@"^Threads_connected/max_connections 0\.2\d >= 0\.2 on gate-x-b \(sample age \d+\.\d s\)$", closed.Reason);

            // Between the marks (0.13 or so): it stays closed.
            Close(idle, 7);
            await Task.Delay(HoldTime + (ProbeInterval * 3));
            var between = (await schema.Store.GetShardStatesAsync()).Single(s => s.Shard == "x");
            Assert.Equal(ShardMode.Closed, between.Mode);
            Assert.Contains("not below low-water 0.1 on gate-x-b", between.Holding, StringComparison.Ordinal);

            // Below low-water: reopens, after the hold time.
            Close(idle, idle.Count);
            var calmFrom = DateTimeOffset.UtcNow;
            var reopened = await WaitForModeAsync(schema, "x", ShardMode.Open);
            Assert.True(reopened.ChangedAt >= calmFrom + HoldTime - TimeSpan.FromMilliseconds(100), "reopened before the hold time");
            Assert.Contains("below its low-water mark for", reopened.Reason, StringComparison.Ordinal);
        }
        finally
        {
            Close(idle, idle.Count);
        }
    }

    [Fact]
    public async Task A_hung_master_closes_its_shard_within_the_probe_timeout_without_holding_up_the_other_shard()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        await using var host = new TestHost(schema, 2, Shards());
        await host.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);
        await WaitForModeAsync(schema, "y", ShardMode.Open);

        // docker pause: the server's processes are frozen, as on a hung host.
        pairs.X.Pause("b");
        try
        {
            var closed = await WaitForModeAsync(schema, "x", ShardMode.Closed, TimeSpan.FromSeconds(10));
            Assert.Contains("gate-x-b", closed.Reason, StringComparison.Ordinal);

            // A job of x is parked; shard y's jobs run while x's master hangs.
            var parked = Enqueue(schema, "x", key + "x", 1, 1);
            var ids = Enqueue(schema, "y", key, 20, 1);
            var started = Stopwatch.StartNew();
            await schema.WaitForStateAsync(ids, SucceededState.StateName, TimeSpan.FromSeconds(10));
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"20 jobs of shard y took {started.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(ParkedState.StateName, schema.StateOf(parked[0]));
        }
        finally
        {
            pairs.X.Unpause("b");
        }

        await WaitForModeAsync(schema, "x", ShardMode.Open);
    }

    [Fact]
    public async Task When_the_probing_process_dies_another_takes_over_and_the_shard_states_stay_fresh()
    {
        await using var schema = await NewSchemaAsync();
        var environment = Environment(Shards());
        using var first = await WorkerProcess.StartAsync(schema, 2, environment);
        await Eventually.Until(() => Leader(schema, "prober"), h => h is not null, Timeout, "a prober");
        using var second = await WorkerProcess.StartAsync(schema, 2, environment);
        await WaitForModeAsync(schema, "x", ShardMode.Open);

        var leader = await Leader(schema, "prober");
        Assert.EndsWith($":{first.Pid}", leader, StringComparison.Ordinal);
        first.KillHard();
        var killed = Stopwatch.StartNew();
        var oldest = TimeSpan.Zero;
        var holder = leader;
        while (killed.Elapsed < TimeSpan.FromSeconds(8))
        {
            var age = (await schema.Store.GetShardStatesAsync()).Max(s => s.Age);
            oldest = age > oldest ? age : oldest;
            holder = await Leader(schema, "prober");
            await Task.Delay(100);
        }

        Assert.EndsWith($":{second.Pid}", holder, StringComparison.Ordinal);
        Assert.True(oldest < TimeSpan.FromSeconds(5), $"the shard states were {oldest.TotalSeconds:0.0} s old at worst (stale after 5 s)");
        Assert.All(await schema.Store.GetShardStatesAsync(), s => Assert.Equal(ShardMode.Open, s.Mode));
    }

    [Fact]
    public async Task A_reloaded_threshold_takes_effect_without_a_restart_and_an_invalid_reload_keeps_the_previous_settings()
    {
        await using var schema = await NewSchemaAsync();
        await using var host = new TestHost(schema, 2, Shards());
        await host.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);
        var idle = new List<MySqlConnection>();
        try
        {
            Open(idle, 20);
            await Task.Delay(ProbeInterval * 4);
            Assert.Equal(ShardMode.Open, (await schema.Store.GetShardStatesAsync()).Single(s => s.Shard == "x").Mode);

            // Invalid: low-water above high-water. Rejected; the gate keeps its settings and the shard stays open.
            host.Configuration["OfflineTasks:Gate:Shards:x:Thresholds:ConnectionsRatio:High"] = "0.2";
            host.Configuration["OfflineTasks:Gate:Shards:x:Thresholds:ConnectionsRatio:Low"] = "0.5";
            ((Microsoft.Extensions.Configuration.IConfigurationRoot)host.Configuration).Reload();
            await Task.Delay(ProbeInterval * 4);
            Assert.Equal(ShardMode.Open, (await schema.Store.GetShardStatesAsync()).Single(s => s.Shard == "x").Mode);

            host.Configuration["OfflineTasks:Gate:Shards:x:Thresholds:ConnectionsRatio:Low"] = "0.1";
            ((Microsoft.Extensions.Configuration.IConfigurationRoot)host.Configuration).Reload();
            var closed = await WaitForModeAsync(schema, "x", ShardMode.Closed);
            Assert.Contains(">= 0.2 on gate-x-b", closed.Reason, StringComparison.Ordinal);
        }
        finally
        {
            Close(idle, idle.Count);
        }

        await WaitForModeAsync(schema, "x", ShardMode.Open);
    }

    private static async Task<TestSchema> NewSchemaAsync()
    {
        var schema = new TestSchema();
        await schema.InitializeAsync();
        return schema;
    }

    private static List<string> Enqueue(TestSchema schema, string shard, string key, int count, int sleepMs) =>
        Enumerable.Range(0, count).Select(_ => schema.Client.Enqueue(() => TestJobs.OnShardAsync(shard, key, sleepMs))).ToList();

    private static Task<string?> Leader(TestSchema schema, string role) =>
        schema.ScalarAsync<string?>("SELECT (SELECT holder_name FROM {s}.leader WHERE role = $1)", role);

    private static Dictionary<string, string> Environment(IEnumerable<KeyValuePair<string, string?>> keys)
    {
        var env = keys.ToDictionary(k => k.Key.Replace(":", "__", StringComparison.Ordinal), k => k.Value!);
        env["OfflineTasks__Gate__ProbeInterval"] = ProbeInterval.ToString();
        env["OfflineTasks__Gate__ProbeTimeout"] = "00:00:00.5";
        env["OfflineTasks__Gate__HoldTime"] = HoldTime.ToString();
        env["OfflineTasks__Gate__LeaderLease"] = "00:00:02";
        env["OfflineTasks__Gate__StaleAfter"] = "00:00:05";
        return env;
    }

    private static async Task<ShardState> WaitForModeAsync(TestSchema schema, string shard, ShardMode mode, TimeSpan? within = null) =>
        (await Eventually.Until(
            async () => (await schema.Store.GetShardStatesAsync()).FirstOrDefault(s => s.Shard == shard),
            s => s is not null && s.Mode == mode,
            within ?? Timeout,
            $"shard {shard} to be {mode}"))!;

    private void Open(List<MySqlConnection> connections, int count)
    {
        for (var i = 0; i < count; i++)
        {
            connections.Add(pairs.X.OpenAppConnectionAsync("b").GetAwaiter().GetResult());
        }
    }

    private static void Close(List<MySqlConnection> connections, int count)
    {
        for (var i = 0; i < count && connections.Count > 0; i++)
        {
            connections[^1].Dispose();
            connections.RemoveAt(connections.Count - 1);
        }
    }
}
