using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using MySqlConnector;
using OfflineTasks.Gate;
using OfflineTasks.Hosting;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate;

/// <summary>Two real MariaDB master-master pairs (shards x and y) for the gate's end-to-end tests; the tests stop, hang and load pair x.</summary>
public sealed class GatePairs : IDisposable
{
    public GatePairs()
    {
        X = new LocalMariaDbPair("gate-x", 54421, 54422);
        Y = new LocalMariaDbPair("gate-y", 54423, 54424);
        Parallel.Invoke(X.Start, Y.Start);
    }

    public LocalMariaDbPair X { get; }

    public LocalMariaDbPair Y { get; }

    public void Dispose() => Parallel.Invoke(X.Stop, Y.Stop);
}

/// <summary>The load-feedback gate end to end: real MariaDB pairs, real PostgreSQL, a real worker server.</summary>
public sealed class ShardGateTests(GatePairs pairs) : IClassFixture<GatePairs>
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan HoldTime = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task Stopping_a_master_stops_its_shard_within_the_probe_interval_while_the_other_shard_keeps_processing()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        await using var worker = Worker(schema, slots: 4);
        await worker.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);
        await WaitForModeAsync(schema, "y", ShardMode.Open);

        var ids = await EnqueueAsync(schema, "x", key + "x", 150, sleepMs: 60);
        ids.AddRange(await EnqueueAsync(schema, "y", key + "y", 150, sleepMs: 60));
        await Eventually.Until(() => Task.FromResult(Starts(key + "x").Count), n => n >= 8, Timeout, "jobs of shard x to start");

        pairs.X.StopOne("b");
        var stopped = DateTime.UtcNow;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            var late = Starts(key + "x").Where(at => at > stopped + ProbeInterval + TimeSpan.FromMilliseconds(500)).ToList();
            Assert.True(late.Count == 0, $"{late.Count} jobs of shard x started more than ProbeInterval + 0.5 s after its master stopped, the first {(late.Count > 0 ? (late[0] - stopped).TotalSeconds : 0):0.00} s after");
            var yMeanwhile = Starts(key + "y").Count(at => at > stopped + TimeSpan.FromSeconds(1));
            Assert.True(yMeanwhile > 5, $"shard y kept processing while x was closed ({yMeanwhile} starts)");

            var state = (await schema.Storage.GetShardStatesAsync()).Single(s => s.Shard == "x");
            Assert.Equal(ShardMode.Closed, state.Mode);
            Assert.Contains("gate-x-b unreachable", state.Reason, StringComparison.Ordinal);
        }
        finally
        {
            pairs.X.StartOne("b");
        }

        var restarted = DateTime.UtcNow;
        var all = await WaitForAllAsync(schema, ids);
        var resumed = Starts(key + "x").Where(at => at > stopped + TimeSpan.FromSeconds(1)).Min();
        Assert.True(resumed >= restarted + HoldTime - TimeSpan.FromMilliseconds(200), $"shard x resumed {(resumed - restarted).TotalSeconds:0.00} s after its master restarted, before the hold time");
        Assert.All(all, j => Assert.Equal((JobState.Succeeded, 1), (j.State, j.Attempt)));
        Assert.Equal(300, Starts(key + "x").Count + Starts(key + "y").Count);

        var events = await schema.Storage.GetShardEventsAsync("x");
        Assert.Equal([ShardMode.Open, ShardMode.Closed, ShardMode.Open], events.Reverse().Select(e => e.To));
    }

    [Fact]
    public async Task Connections_crossing_high_water_close_the_shard_and_it_reopens_only_below_low_water_after_the_hold_time()
    {
        await using var schema = await NewSchemaAsync();
        await using var worker = Worker(schema, slots: 2, connections: new Watermark { High = 0.20, Low = 0.10 });
        await worker.StartAsync();
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
            await Task.Delay(HoldTime + ProbeInterval * 3);
            var between = (await schema.Storage.GetShardStatesAsync()).Single(s => s.Shard == "x");
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
    public async Task Stopping_replication_on_one_master_closes_the_shard_and_starting_it_reopens_it()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        await using var worker = Worker(schema, slots: 2);
        await worker.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);

        pairs.X.Sql("a", "STOP SLAVE");
        try
        {
            var closed = await WaitForModeAsync(schema, "x", ShardMode.Closed);
            Assert.Contains("replication IO thread not running on gate-x-a", closed.Reason, StringComparison.Ordinal);

            var ids = await EnqueueAsync(schema, "x", key, 5, sleepMs: 1);
            await Task.Delay(ProbeInterval * 3);
            Assert.Empty(Starts(key));
            Assert.All(await Task.WhenAll(ids.Select(id => schema.JobAsync(id))), j => Assert.Equal(JobState.Available, j.State));

            pairs.X.Sql("a", "START SLAVE");
            await WaitForModeAsync(schema, "x", ShardMode.Open);
            Assert.All(await WaitForAllAsync(schema, ids), j => Assert.Equal(JobState.Succeeded, j.State));
        }
        finally
        {
            pairs.X.Sql("a", "START SLAVE");
        }
    }

    [Fact]
    public async Task A_hung_master_times_the_probe_out_and_closes_the_shard_without_blocking_worker_slots()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        await using var worker = Worker(schema, slots: 2);
        await worker.StartAsync();
        await WaitForModeAsync(schema, "x", ShardMode.Open);
        await WaitForModeAsync(schema, "y", ShardMode.Open);

        var pid = pairs.X.Pid("b");
        Signal("STOP", pid);
        try
        {
            var closed = await WaitForModeAsync(schema, "x", ShardMode.Closed, TimeSpan.FromSeconds(10));
            Assert.Contains("gate-x-b", closed.Reason, StringComparison.Ordinal);

            // The worker's slots are free: shard y's jobs run while x's master hangs.
            var ids = await EnqueueAsync(schema, "y", key, 20, sleepMs: 1);
            var started = Stopwatch.StartNew();
            Assert.All(await WaitForAllAsync(schema, ids, TimeSpan.FromSeconds(10)), j => Assert.Equal(JobState.Succeeded, j.State));
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"20 jobs of shard y took {started.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            Signal("CONT", pid);
        }

        await WaitForModeAsync(schema, "x", ShardMode.Open);
    }

    [Fact]
    public async Task When_the_probing_process_dies_another_takes_over_and_the_shard_states_stay_fresh()
    {
        await using var schema = await NewSchemaAsync();
        var environment = GateEnvironment();
        using var first = await WorkerProcess.StartAsync(schema, 2, TimeSpan.FromSeconds(5), environment);
        using var second = await WorkerProcess.StartAsync(schema, 2, TimeSpan.FromSeconds(5), environment);
        await WaitForModeAsync(schema, "x", ShardMode.Open);

        var leader = await schema.ScalarAsync<string>("SELECT holder_name FROM {s}.leader WHERE role = 'prober'");
        var (dead, survivor) = leader.EndsWith($":{first.Pid}", StringComparison.Ordinal) ? (first, second) : (second, first);
        Assert.EndsWith($":{dead.Pid}", leader, StringComparison.Ordinal);

        dead.KillHard();
        var killed = Stopwatch.StartNew();
        var oldest = TimeSpan.Zero;
        string holder = leader;
        while (killed.Elapsed < TimeSpan.FromSeconds(8))
        {
            var age = (await schema.Storage.GetShardStatesAsync()).Max(s => s.Age);
            oldest = age > oldest ? age : oldest;
            holder = await schema.ScalarAsync<string>("SELECT holder_name FROM {s}.leader WHERE role = 'prober'");
            await Task.Delay(100);
        }

        Assert.EndsWith($":{survivor.Pid}", holder, StringComparison.Ordinal);
        Assert.True(oldest < TimeSpan.FromSeconds(5), $"the shard states were {oldest.TotalSeconds:0.0} s old at worst (stale after 5 s)");
        Assert.All(await schema.Storage.GetShardStatesAsync(), s => Assert.Equal(ShardMode.Open, s.Mode));
    }

    [Fact]
    public async Task A_reopened_shard_releases_its_backlog_gradually()
    {
        await using var schema = await NewSchemaAsync();
        var key = Guid.NewGuid().ToString("N");
        var ids = await EnqueueAsync(schema, "x", key, 60, sleepMs: 150);
        await using var worker = new WorkerHost(schema, o => o.WorkerCount = 4, s => s.AddOfflineTasksGate(configure: o =>
        {
            Configure(o, null);
            o.Ramp.InitialConcurrency = 1;
            o.Ramp.DoublingInterval = TimeSpan.FromSeconds(1.5);
            o.Ramp.Duration = TimeSpan.FromSeconds(3);
        }));
        await worker.StartAsync();

        Assert.All(await WaitForAllAsync(schema, ids), j => Assert.Equal((JobState.Succeeded, 0), (j.State, j.DeferCount)));
        var runs = TestJobs.RunsOf(key);
        var opened = (await schema.Storage.GetShardEventsAsync("x")).Single().At.UtcDateTime;
        int Concurrency(DateTime from, DateTime to)
        {
            var running = 0;
            var max = 0;
            foreach (var (at, value) in runs.OrderBy(r => r.At))
            {
                running += value == 1 ? 1 : -1;
                if (at >= from && at < to)
                {
                    max = Math.Max(max, running);
                }
            }

            return max;
        }

        Assert.Equal(1, Concurrency(opened, opened.AddSeconds(1.2)));
        Assert.Equal(4, Concurrency(opened.AddSeconds(3.5), DateTime.MaxValue));
    }

    private static async Task<TestSchema> NewSchemaAsync()
    {
        var schema = new TestSchema();
        await schema.InitializeAsync();
        return schema;
    }

    private void Configure(GateOptions o, Watermark? connections)
    {
        o.ProbeInterval = ProbeInterval;
        o.ProbeTimeout = TimeSpan.FromMilliseconds(500);
        o.HoldTime = HoldTime;
        o.LeaderLease = TimeSpan.FromSeconds(2);
        o.StaleAfter = TimeSpan.FromSeconds(5);
        o.Ramp.Duration = TimeSpan.Zero;
        o.Deferral.InitialDelay = TimeSpan.FromMilliseconds(500);
        o.Shards["x"] = Shard(pairs.X, connections);
        o.Shards["y"] = Shard(pairs.Y, null);
    }

    private static ShardOptions Shard(LocalMariaDbPair pair, Watermark? connections) => new()
    {
        Masters = new[] { "a", "b" }.Select(m => new MasterOptions
        {
            Name = pair.Name + "-" + m,
            Port = pair.Port(m),
            User = LocalMariaDbPair.ProbeUser,
            Password = LocalMariaDbPair.ProbePassword,
        }).ToList(),
        Thresholds = connections is null ? null : new ShardThresholdOverrides { ConnectionsRatio = connections },
    };

    private Dictionary<string, string> GateEnvironment()
    {
        var options = new GateOptions();
        Configure(options, null);
        var env = new Dictionary<string, string>
        {
            ["OfflineTasks__Gate__ProbeInterval"] = options.ProbeInterval.ToString(),
            ["OfflineTasks__Gate__ProbeTimeout"] = options.ProbeTimeout.ToString(),
            ["OfflineTasks__Gate__HoldTime"] = options.HoldTime.ToString(),
            ["OfflineTasks__Gate__LeaderLease"] = options.LeaderLease.ToString(),
            ["OfflineTasks__Gate__StaleAfter"] = options.StaleAfter.ToString(),
        };
        foreach (var (name, shard) in options.Shards)
        {
            for (var i = 0; i < shard.Masters.Count; i++)
            {
                var m = shard.Masters[i];
                var prefix = $"OfflineTasks__Gate__Shards__{name}__Masters__{i}__";
                env[prefix + "Name"] = m.Name!;
                env[prefix + "Port"] = m.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                env[prefix + "User"] = m.User;
                env[prefix + "Password"] = m.Password!;
            }
        }

        return env;
    }

    private WorkerHost Worker(TestSchema schema, int slots, Watermark? connections = null) =>
        new(schema, o => o.WorkerCount = slots, s => s.AddOfflineTasksGate(configure: o => Configure(o, connections)));

    private static async Task<List<long>> EnqueueAsync(TestSchema schema, string shard, string key, int count, int sleepMs) =>
        (await schema.Client.EnqueueManyAsync(Enumerable.Range(0, count)
            .Select(_ => Job.FromExpression(() => TestJobs.SleepAsync(key, sleepMs, CancellationToken.None), new JobOptions { ShardKey = shard }))
            .ToList())).ToList();

    private static List<DateTime> Starts(string key) => TestJobs.RunsOf(key).Where(r => r.Value == 1).Select(r => r.At).ToList();

    private static async Task<ShardState> WaitForModeAsync(TestSchema schema, string shard, ShardMode mode, TimeSpan? within = null) =>
        (await Eventually.Until(
            async () => (await schema.Storage.GetShardStatesAsync()).FirstOrDefault(s => s.Shard == shard),
            s => s is not null && s.Mode == mode,
            within ?? Timeout,
            $"shard {shard} to be {mode}"))!;

    private static async Task<JobDetails[]> WaitForAllAsync(TestSchema schema, IReadOnlyList<long> ids, TimeSpan? within = null) =>
        await Eventually.Until(
            () => Task.WhenAll(ids.Select(id => schema.JobAsync(id))),
            jobs => jobs.All(j => j.State is JobState.Succeeded or JobState.Failed),
            within ?? Timeout,
            "every job to finish");

    private void Open(List<MySqlConnection> connections, int count)
    {
        for (var i = 0; i < count; i++)
        {
            connections.Add(pairs.X.OpenAppConnection("b"));
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

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit(5_000);
    }
}
