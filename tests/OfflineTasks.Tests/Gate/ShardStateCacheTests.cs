using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Gate;
using OfflineTasks.Storage;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Gate;

/// <summary>
/// A closure the prober announces ahead of writing it is applied at once, holds against reads that do not show it
/// yet, gives way to the read that does, and lapses when the write never comes.
/// </summary>
public sealed class ShardStateCacheTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);
    private readonly FakeTime _time = new(Start);
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1"); // never opened
    private readonly ShardStateCache _cache;
    private readonly GateSettingsMonitor _settings;

    public ShardStateCacheTests()
    {
        _settings = new GateSettingsMonitor(Options.Create(new GateOptions()), null, null, NullLogger<GateSettingsMonitor>.Instance, _ => null);
        _cache = new ShardStateCache(new OfflineTasksStore(_dataSource), _settings, _time, NullLogger<ShardStateCache>.Instance);
    }

    [Fact]
    public void An_announced_closure_applies_at_once_and_holds_until_a_read_shows_it()
    {
        _cache.Apply(Snapshot(ShardMode.Open));
        var changes = 0;
        _cache.Changed += () => changes++;

        _cache.Announce(new ShardClosing("users-1", ShardMode.Closed, "load", "Threads_running 53 >= 40 on users-1a"));

        var announced = _cache.Current.States["users-1"];
        Assert.Equal(ShardMode.Closed, announced.Mode);
        Assert.Equal("Threads_running 53 >= 40 on users-1a", announced.Reason);
        Assert.Equal("load", announced.ReasonKind);
        Assert.False(_cache.Current.AllOpen);
        Assert.Equal(1, changes);

        _cache.Apply(Snapshot(ShardMode.Open)); // read before the prober's write committed
        Assert.Equal(ShardMode.Closed, _cache.Current.States["users-1"].Mode);

        _cache.Apply(Snapshot(ShardMode.Closed, "as written")); // the write
        Assert.Equal("as written", _cache.Current.States["users-1"].Reason);

        _cache.Apply(Snapshot(ShardMode.Open)); // reopened later: the announcement is gone
        Assert.Equal(ShardMode.Open, _cache.Current.States["users-1"].Mode);
    }

    [Fact]
    public void An_announced_closure_that_is_never_written_lapses()
    {
        _cache.Apply(Snapshot(ShardMode.Open));
        _cache.Announce(new ShardClosing("users-1", ShardMode.Closed, "load", "closing"));

        _time.Advance(ShardStateCache.AnnouncementHold + TimeSpan.FromMilliseconds(1));
        _cache.Apply(Snapshot(ShardMode.Open));

        Assert.Equal(ShardMode.Open, _cache.Current.States["users-1"].Mode);
        Assert.True(_cache.Current.AllOpen);
    }

    [Fact]
    public void An_announcement_round_trips_through_its_payload()
    {
        var closing = new ShardClosing("users-1", ShardMode.LightOnly, "degraded", "users-1a unreachable:\tgone\nfor good");

        var parsed = ShardClosing.Parse(closing.Payload());

        Assert.Equal(closing with { Reason = "users-1a unreachable: gone for good" }, parsed);
        Assert.Null(ShardClosing.Parse(""));
        Assert.Null(ShardClosing.Parse(null));
    }

    private ShardStateSnapshot Snapshot(ShardMode mode, string reason = "") =>
        new([new ShardState("users-1", mode, reason, _time.GetUtcNow(), null, "{}", _time.GetUtcNow(), TimeSpan.Zero)], new Dictionary<string, string>());

    public async ValueTask DisposeAsync()
    {
        await _cache.DisposeAsync();
        _settings.Dispose();
        await _dataSource.DisposeAsync();
    }
}
