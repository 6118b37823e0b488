using OfflineTasks.Gate;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate;

/// <summary>A MariaDB master-master pair in containers (shard c), shared by the container failure tests and restored after each.</summary>
public sealed class ContainerPair() : ContainerPairFixture("ctr");

/// <summary>
/// The gate against failures that only containers produce sharply: a master frozen (<c>docker pause</c>), a master
/// down (<c>docker stop</c>), and the masters partitioned from each other (<c>docker network disconnect</c>) while both
/// stay reachable. Real PostgreSQL, Hangfire's real server, the project's MariaDB image through Testcontainers.MySql.
/// </summary>
public sealed class ContainerFailureTests(ContainerPair fixture) : IClassFixture<ContainerPair>, IAsyncLifetime
{
    private const string Shard = "c";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly ContainerMariaDbPair _pair = fixture.Pair;
    private readonly TestSchema _schema = new();

    public Task InitializeAsync() => _schema.InitializeAsync();

    public async Task DisposeAsync()
    {
        // Each test leaves the pair as it found it: running, connected, replicating.
        foreach (var master in new[] { "a", "b" })
        {
            if (DockerCli.Run("inspect", "-f", "{{.State.Paused}}", _pair.Id(master)) == "true")
            {
                _pair.Unpause(master);
            }

            if (DockerCli.Run("inspect", "-f", "{{.State.Running}}", _pair.Id(master)) != "true")
            {
                await _pair.StartAsync(master, Timeout);
            }

            if (!_pair.IsConnected(master))
            {
                _pair.Reconnect(master);
            }
        }

        await _schema.DisposeAsync();
    }

    private TestHost Host() => new(_schema, 1, _pair.GateKeys(Shard));

    private async Task<ShardState> WaitForModeAsync(ShardMode mode, Func<ShardState, bool>? also = null) =>
        (await Eventually.Until(
            async () => (await _schema.Store.GetShardStatesAsync()).FirstOrDefault(s => s.Shard == Shard),
            s => s is not null && s.Mode == mode && (also is null || also(s)),
            Timeout,
            $"shard {Shard} to be {mode}"))!;

    [Fact]
    public async Task A_partition_between_the_masters_closes_the_shard_saying_replication_broke_and_it_reopens_after_reconnecting()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForModeAsync(ShardMode.Open);

        // a can no longer reach b, nor b a; the gate still reaches both (their ports are published on another network).
        _pair.Partition("a");
        var closed = await WaitForModeAsync(ShardMode.Closed);
        Assert.Contains("replication IO thread not running on ctr-", closed.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("unreachable", closed.Reason, StringComparison.Ordinal);
        Assert.Equal("degraded", closed.ReasonKind);

        _pair.Reconnect("a");
        var reopened = await WaitForModeAsync(ShardMode.Open);
        var events = await _schema.Store.GetShardEventsAsync(Shard);
        Assert.Equal([ShardMode.Open, ShardMode.Closed, ShardMode.Open], events.Reverse().Select(e => e.To));
        Assert.True(reopened.ChangedAt > closed.ChangedAt);
    }

    [Fact]
    public async Task A_paused_master_closes_the_shard_as_unknown_and_it_reopens_once_unpaused()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForModeAsync(ShardMode.Open);

        _pair.Pause("b");
        var closed = await WaitForModeAsync(ShardMode.Closed);
        Assert.Contains("ctr-b", closed.Reason, StringComparison.Ordinal);
        Assert.Equal("unknown", closed.ReasonKind);

        _pair.Unpause("b");
        await WaitForModeAsync(ShardMode.Open);
    }

    [Fact]
    public async Task A_stopped_master_closes_the_shard_as_unreachable_and_it_reopens_when_it_is_back()
    {
        await using var host = Host();
        await host.StartAsync();
        await WaitForModeAsync(ShardMode.Open);

        await _pair.StopAsync("a");
        var closed = await WaitForModeAsync(ShardMode.Closed, s => s.Reason.Contains("ctr-a unreachable", StringComparison.Ordinal));
        Assert.Contains($"127.0.0.1:{_pair.Port("a")}", closed.Reason, StringComparison.Ordinal);

        await _pair.StartAsync("a", Timeout);
        await WaitForModeAsync(ShardMode.Open);
    }
}
