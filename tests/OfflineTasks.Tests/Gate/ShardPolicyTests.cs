using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Gate;

public sealed class ShardPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static readonly ShardSettings Shard = new(
        "users-1",
        [Endpoint("users-1a"), Endpoint("users-1b")],
        new ResolvedThresholds(new Mark(0.80, 0.60), new Mark(40, 20), new Mark(5, 2)),
        TimeSpan.FromSeconds(5),
        DegradedPolicy.Close);

    private static MySqlEndpoint Endpoint(string name) => new("users-1", name, "127.0.0.1", 3306, "probe", null, null, TimeSpan.FromSeconds(1));

    private static MasterSample Healthy(string name, DateTimeOffset at, long connected = 10, long running = 2, double? lag = 0, bool io = true, bool sql = true) =>
        MasterSample.Read(Endpoint(name), at, TimeSpan.FromMilliseconds(3),
            new MySqlServerStatus(connected, running, 100, false, [new ReplicationChannelStatus("127.0.0.1", 3307, io, sql, lag, null)]));

    private static MasterSample[] Pair(DateTimeOffset at, long connectedOnB = 10, long runningOnB = 2, double? lagOnB = 0, bool ioOnB = true) =>
        [Healthy("users-1a", at), Healthy("users-1b", at, connectedOnB, runningOnB, lagOnB, ioOnB)];

    private static readonly ShardPolicyState Open = new(ShardMode.Open, "first probe", T0, null, null);

    [Fact]
    public void Stays_open_while_every_signal_is_below_high_water()
    {
        var state = ShardPolicy.Evaluate(Open, Shard, Pair(T0, connectedOnB: 79, runningOnB: 39, lagOnB: 4.9), T0);
        Assert.Equal(ShardMode.Open, state.Mode);
    }

    [Fact]
    public void Closes_when_connections_cross_high_water_and_says_which_signal_value_threshold_master_and_age()
    {
        var state = ShardPolicy.Evaluate(Open, Shard, Pair(T0, connectedOnB: 91), T0.AddMilliseconds(200));

        Assert.Equal(ShardMode.Closed, state.Mode);
        Assert.Equal(T0.AddMilliseconds(200), state.ChangedAt);
        Assert.Equal("Threads_connected/max_connections 0.91 >= 0.8 on users-1b (sample age 0.2 s)", state.Reason);
    }

    [Fact]
    public void Reopens_only_after_every_signal_stays_below_low_water_for_the_hold_time()
    {
        var closed = ShardPolicy.Evaluate(Open, Shard, Pair(T0, connectedOnB: 90), T0);

        // Between the marks: still closed, and the hold time does not start.
        var between = ShardPolicy.Evaluate(closed, Shard, Pair(T0.AddSeconds(1), connectedOnB: 70), T0.AddSeconds(1));
        Assert.Equal(ShardMode.Closed, between.Mode);
        Assert.Null(between.CalmSince);
        Assert.Contains("not below low-water 0.6 on users-1b", between.Holding, StringComparison.Ordinal);

        // Below low-water: the hold time starts; 4.9 s later still closed.
        var calm = ShardPolicy.Evaluate(between, Shard, Pair(T0.AddSeconds(2), connectedOnB: 50), T0.AddSeconds(2));
        Assert.Equal(ShardMode.Closed, calm.Mode);
        Assert.Equal(T0.AddSeconds(2), calm.CalmSince);
        var almost = ShardPolicy.Evaluate(calm, Shard, Pair(T0.AddSeconds(6.9), connectedOnB: 50), T0.AddSeconds(6.9));
        Assert.Equal(ShardMode.Closed, almost.Mode);

        var reopened = ShardPolicy.Evaluate(almost, Shard, Pair(T0.AddSeconds(7), connectedOnB: 50), T0.AddSeconds(7));
        Assert.Equal(ShardMode.Open, reopened.Mode);
        Assert.Equal(T0.AddSeconds(7), reopened.ChangedAt);
        Assert.Contains("below its low-water mark for 5.0 s", reopened.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_blip_above_low_water_restarts_the_hold_time()
    {
        var closed = ShardPolicy.Evaluate(Open, Shard, Pair(T0, runningOnB: 45), T0);
        var calm = ShardPolicy.Evaluate(closed, Shard, Pair(T0.AddSeconds(1), runningOnB: 5), T0.AddSeconds(1));
        var blip = ShardPolicy.Evaluate(calm, Shard, Pair(T0.AddSeconds(4), runningOnB: 25), T0.AddSeconds(4));
        var calmAgain = ShardPolicy.Evaluate(blip, Shard, Pair(T0.AddSeconds(5), runningOnB: 5), T0.AddSeconds(5));
        var notYet = ShardPolicy.Evaluate(calmAgain, Shard, Pair(T0.AddSeconds(7), runningOnB: 5), T0.AddSeconds(7));

        Assert.Equal(ShardMode.Closed, notYet.Mode);
        Assert.Equal(T0.AddSeconds(5), notYet.CalmSince);
        Assert.Equal(ShardMode.Open, ShardPolicy.Evaluate(notYet, Shard, Pair(T0.AddSeconds(10), runningOnB: 5), T0.AddSeconds(10)).Mode);
    }

    [Fact]
    public void A_stopped_replication_thread_makes_the_pair_degraded_and_closes_it()
    {
        var state = ShardPolicy.Evaluate(Open, Shard, Pair(T0, ioOnB: false), T0);

        Assert.Equal(ShardMode.Closed, state.Mode);
        Assert.StartsWith("replication IO thread not running on users-1b from 127.0.0.1:3307", state.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreachable_master_closes_and_an_unreadable_status_fails_closed()
    {
        var down = MasterSample.Failed(Endpoint("users-1b"), T0, TimeSpan.FromMilliseconds(1), MySqlStatusFailure.Unreachable, "users-1b (127.0.0.1:3306): connection refused (error 2003)");
        var hung = MasterSample.Failed(Endpoint("users-1b"), T0, TimeSpan.FromSeconds(1), MySqlStatusFailure.Timeout, "users-1b (127.0.0.1:3306): no answer within 1 s");

        var unreachable = ShardPolicy.Evaluate(Open, Shard, [Healthy("users-1a", T0), down], T0);
        var unknown = ShardPolicy.Evaluate(Open, Shard, [Healthy("users-1a", T0), hung], T0);

        Assert.Equal(ShardMode.Closed, unreachable.Mode);
        Assert.StartsWith("users-1b unreachable: ", unreachable.Reason, StringComparison.Ordinal);
        Assert.Equal(ShardMode.Closed, unknown.Mode);
        Assert.StartsWith("status of users-1b unknown: ", unknown.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_degraded_pair_stays_open_for_light_jobs_when_the_shard_allows_it_but_load_still_closes_it()
    {
        var lenient = Shard with { WhenDegraded = DegradedPolicy.OpenForLightJobs };

        var degraded = ShardPolicy.Evaluate(Open, lenient, Pair(T0, ioOnB: false), T0);
        Assert.Equal(ShardMode.LightOnly, degraded.Mode);

        var loaded = ShardPolicy.Evaluate(degraded, lenient, Pair(T0.AddSeconds(1), connectedOnB: 95, ioOnB: false), T0.AddSeconds(1));
        Assert.Equal(ShardMode.Closed, loaded.Mode);
    }

    [Fact]
    public void Lag_at_high_water_is_a_degraded_pair_and_missing_lag_with_running_threads_counts_as_high()
    {
        Assert.Equal(ShardMode.Closed, ShardPolicy.Evaluate(Open, Shard, Pair(T0, lagOnB: 5), T0).Mode);
        Assert.Equal(ShardMode.Closed, ShardPolicy.Evaluate(Open, Shard, Pair(T0, lagOnB: null), T0).Mode);
    }

    [Fact]
    public void Too_many_connections_is_load()
    {
        var full = MasterSample.Failed(Endpoint("users-1b"), T0, TimeSpan.FromMilliseconds(1), MySqlStatusFailure.Other, "users-1b (127.0.0.1:3306): Too many connections (error 1040)", 1040);

        var state = ShardPolicy.Evaluate(Open, Shard, [Healthy("users-1a", T0), full], T0);

        Assert.Equal(ShardMode.Closed, state.Mode);
        Assert.StartsWith("Threads_connected/max_connections at 1 on users-1b: ", state.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_sample_fails_closed()
    {
        var state = ShardPolicy.Evaluate(Open, Shard, [Healthy("users-1a", T0)], T0);

        Assert.Equal(ShardMode.Closed, state.Mode);
        Assert.Contains("users-1b unknown", state.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Under_a_switch_the_stored_policy_keeps_the_measured_state_so_a_new_leader_carries_the_hysteresis_on()
    {
        var measured = ShardPolicy.Evaluate(Open, Shard, Pair(T0, ioOnB: false), T0);
        var forced = new ShardSwitch("users-1", ShardMode.Open, "backfill", "carol", T0, null);
        var json = ShardPolicyJson.Policy(measured, forced);

        // What was written: the switch's mode and reason; what a new leader rebuilds: the measured state.
        var written = new ShardState("users-1", ShardMode.Open, forced.Describe("closed: " + measured.Reason), T0.AddSeconds(9), null, "{}", T0, TimeSpan.Zero);
        var rebuilt = ShardPolicyJson.Read(written, json);

        Assert.Equal((ShardMode.Closed, measured.Reason, measured.ChangedAt, measured.Kind), (rebuilt.Mode, rebuilt.Reason, rebuilt.ChangedAt, rebuilt.Kind));
        Assert.Equal(("forced open by carol: backfill (measured: closed)", ShardSwitch.Kind), ShardPolicyJson.Holding(json));
        Assert.Equal(measured.Mode, ShardPolicyJson.Read(written with { Mode = ShardMode.Closed }, ShardPolicyJson.Policy(measured)).Mode);
    }
}
