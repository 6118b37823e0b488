using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Gate;
using OfflineTasks.Server;
using OfflineTasks.Storage;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate;

/// <summary>What the gate tells workers, from a given set of shard states, under a fake clock.</summary>
public sealed class ShardGateDecisionTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTime _time = new(T0);
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1");
    private readonly GateSettingsMonitor _settings;
    private readonly ShardStateCache _cache;
    private readonly ShardGate _gate;

    public ShardGateDecisionTests()
    {
        var options = new GateOptions
        {
            StaleAfter = TimeSpan.FromSeconds(10),
            Deferral = new DeferralOptions { InitialDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(60), Deadline = TimeSpan.FromMinutes(30) },
        };
        foreach (var shard in new[] { "users-1", "users-2", "users-3" })
        {
            options.Shards[shard] = new ShardOptions { Masters = [new MasterOptions { Name = shard + "a", User = "p" }, new MasterOptions { Name = shard + "b", User = "p" }] };
        }

        _settings = new GateSettingsMonitor(Options.Create(options), null, null, NullLogger<GateSettingsMonitor>.Instance, _ => null);
        _cache = new ShardStateCache(new PostgresJobStorage(_dataSource, "gate_test"), _settings, _time, Options.Create(new PostgresStorageOptions()), NullLoggerFactory.Instance);
        _gate = new ShardGate(_cache, _settings, _time, NullLogger<ShardGate>.Instance);
    }

    public void Dispose() => _dataSource.Dispose();

    private static ShardState State(string shard, ShardMode mode, DateTimeOffset changedAt, int? limit = null, string reason = "Threads_running 45 >= 40 on users-1b (sample age 0.1 s)") =>
        new(shard, mode, reason, changedAt, limit, null, "{}", changedAt, TimeSpan.FromMilliseconds(100));

    private void Load(int liveServers, params ShardState[] states) =>
        _cache.Apply(new ShardStateSnapshot(states, new Dictionary<string, string>(), liveServers));

    private ValueTask<GateDecision> Check(string shard, bool light = false, DateTimeOffset? deferredSince = null) =>
        _gate.CheckAsync(new GateRequest(1, shard, light, 0, deferredSince), CancellationToken.None);

    [Fact]
    public async Task An_open_shard_lets_the_job_run()
    {
        Load(1, State("users-1", ShardMode.Open, T0));

        Assert.True((await Check("users-1")).IsOpen);
    }

    [Fact]
    public async Task A_closed_shard_defers_with_its_reason_and_a_delay_that_grows_with_the_closure_up_to_the_maximum()
    {
        Load(1, State("users-1", ShardMode.Closed, T0));
        _time.Advance(TimeSpan.FromSeconds(4));

        var early = await Check("users-1");
        Assert.False(early.IsOpen);
        Assert.Equal("shard users-1 closed for 4.0 s: Threads_running 45 >= 40 on users-1b (sample age 0.1 s)", early.Reason);
        Assert.InRange(early.RetryAfter, TimeSpan.FromSeconds(4 * 0.8), TimeSpan.FromSeconds(4 * 1.2)); // 2 s + 4 s / 2, ±20 %

        _time.Advance(TimeSpan.FromSeconds(36));
        Load(1, State("users-1", ShardMode.Closed, T0)); // refreshed, still closed since T0
        var later = await Check("users-1");
        Assert.InRange(later.RetryAfter, TimeSpan.FromSeconds(22 * 0.8), TimeSpan.FromSeconds(22 * 1.2)); // 2 s + 40 s / 2

        _time.Advance(TimeSpan.FromMinutes(10));
        Load(1, State("users-1", ShardMode.Closed, T0));
        Assert.InRange((await Check("users-1")).RetryAfter, TimeSpan.FromSeconds(48), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_state_no_prober_refreshed_counts_as_closed()
    {
        Load(1, State("users-1", ShardMode.Open, T0));
        _time.Advance(TimeSpan.FromSeconds(11));

        var decision = await Check("users-1");

        Assert.False(decision.IsOpen);
        Assert.Equal("shard users-1 state is 11.1 s old (over 10 s): no prober has refreshed it, so its load is unknown", decision.Reason);
        Assert.Equal(["users-1", "users-2", "users-3"], _gate.Filter(new Dictionary<string, int>()).ClosedShards);
    }

    [Fact]
    public async Task A_light_only_shard_runs_light_jobs_and_defers_the_rest()
    {
        Load(1, State("users-1", ShardMode.LightOnly, T0, reason: "replication IO thread not running on users-1a"));

        Assert.True((await Check("users-1", light: true)).IsOpen);
        var heavy = await Check("users-1");
        Assert.False(heavy.IsOpen);
        Assert.StartsWith("shard users-1 open for light jobs only for 0.0 s: replication IO thread", heavy.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_for_a_shard_that_is_not_configured_waits_and_says_why()
    {
        Load(1);

        var decision = await Check("orders-9");

        Assert.False(decision.IsOpen);
        Assert.Equal("shard orders-9 is not configured (no OfflineTasks:Gate:Shards:orders-9); the job waits until it is", decision.Reason);
    }

    [Fact]
    public async Task A_job_deferred_past_the_deadline_is_reported_in_its_reason()
    {
        Load(1, State("users-1", ShardMode.Closed, T0));
        _time.Advance(TimeSpan.FromMinutes(1));
        Load(1, State("users-1", ShardMode.Closed, T0));

        var within = await Check("users-1", deferredSince: _time.GetUtcNow() - TimeSpan.FromMinutes(29));
        var past = await Check("users-1", deferredSince: _time.GetUtcNow() - TimeSpan.FromMinutes(31));

        Assert.DoesNotContain("DEADLINE", within.Reason, StringComparison.Ordinal);
        Assert.EndsWith("; DEADLINE PASSED: deferred for 31 min in all, over the deadline of 30 min", past.Reason, StringComparison.Ordinal);
        Assert.False(past.IsOpen);
    }

    [Fact]
    public void The_claim_filter_skips_closed_shards_and_splits_a_ramp_limit_over_the_live_servers()
    {
        Load(3,
            State("users-1", ShardMode.Closed, T0),
            State("users-2", ShardMode.Open, T0, limit: 8),
            State("users-3", ShardMode.LightOnly, T0));

        // users-2: a fleet-wide limit of 8 over 3 servers is 3 here; 1 runs, so 2 more.
        var filter = _gate.Filter(new Dictionary<string, int> { ["users-2"] = 1 });
        Assert.Equal(["users-1"], filter.ClosedShards);
        Assert.Equal(["users-3"], filter.LightOnlyShards);
        Assert.Equal(["users-2"], filter.CappedShards);
        Assert.Equal([2], filter.Caps);

        // At its share: skipped like a closed shard.
        Assert.Equal(["users-1", "users-2"], _gate.Filter(new Dictionary<string, int> { ["users-2"] = 3 }).ClosedShards);
    }

    [Fact]
    public void The_ramp_doubles_every_interval_and_ends_after_its_duration()
    {
        var ramp = new RampSettings(2, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));

        Assert.Equal([2, 2, 4, 8, 16, 32, null], new[] { 0.0, 1.9, 2, 4, 6, 9.9, 10 }.Select(s => ramp.LimitAt(TimeSpan.FromSeconds(s))));
    }
}
