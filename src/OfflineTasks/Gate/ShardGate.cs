using System.Globalization;

namespace OfflineTasks.Gate;

/// <summary>
/// The gate's decisions over this process's copy of the shard states (<see cref="ShardStateCache"/>): a shard is open
/// only while its state is fresh and says so. An unknown shard, a shard not probed yet and a state older than
/// <see cref="GateOptions.StaleAfter"/> all count as closed (fail closed). Decisions cost two dictionary look-ups and
/// a clock read; the reason is written only when the answer is "closed".
/// </summary>
internal sealed class ShardGate : IShardGate
{
    private readonly ShardStateCache _cache;
    private readonly GateSettingsMonitor _settings;
    private readonly TimeProvider _time;
    private Coverage? _coverage;

    public ShardGate(ShardStateCache cache, GateSettingsMonitor settings, TimeProvider time)
    {
        _cache = cache;
        _settings = settings;
        _time = time;
    }

    /// <summary>Raised when a shard's mode changed.</summary>
    public event Action? Changed
    {
        add => _cache.Changed += value;
        remove => _cache.Changed -= value;
    }

    /// <summary>The settings in force.</summary>
    public GateSettings Settings => _settings.Current;

    /// <summary>When <paramref name="shard"/> entered its current mode, as last read; null when it has no state.</summary>
    public DateTimeOffset? ChangedAt(string shard) => _cache.Current.States.TryGetValue(shard, out var state) ? state.ChangedAt : null;

    /// <summary>This process's copy of the shard states, as last read.</summary>
    internal ShardStateCache.View Snapshot => _cache.Current;

    /// <summary>Whether <paramref name="shard"/> is configured.</summary>
    public bool IsKnown(string shard) => _settings.Current.Shards.ContainsKey(shard);

    /// <summary>
    /// True when every configured shard is open and fresh and no other shard state (e.g. of a removed shard) is
    /// closed: then no job can be held back, whatever its shard, and its shard need not even be looked up.
    /// </summary>
    public bool AllOpen
    {
        get
        {
            var settings = _settings.Current;
            var view = _cache.Current;
            if (!view.Loaded || !view.AllOpen || view.OldestAge + _time.GetElapsedTime(view.ReadAt) > settings.StaleAfter)
            {
                return false;
            }

            var coverage = Volatile.Read(ref _coverage);
            if (coverage is null || !ReferenceEquals(coverage.Settings, settings) || !ReferenceEquals(coverage.View, view))
            {
                coverage = new Coverage(settings, view, settings.Shards.Keys.All(view.States.ContainsKey));
                Volatile.Write(ref _coverage, coverage);
            }

            return coverage.Covered;
        }
    }

    public ShardDecision Check(string shard, bool light = false)
    {
        ArgumentNullException.ThrowIfNull(shard);
        var settings = _settings.Current;
        var view = _cache.Current;
        view.States.TryGetValue(shard, out var state);
        if (!settings.Shards.ContainsKey(shard))
        {
            return new ShardDecision(shard, ShardMode.Closed, false,
                state?.Reason ?? $"unknown shard {shard}: it is not configured (no {GateOptions.SectionName}:Shards:{shard}); its jobs wait until it is",
                state?.ChangedAt, ShardProber.NotConfigured);
        }

        if (state is null)
        {
            return new ShardDecision(shard, ShardMode.Closed, false,
                view.Loaded ? $"shard {shard} not probed yet: its load is unknown" : $"shard {shard}: the shard states have not been read yet, so its load is unknown",
                null, "unknown");
        }

        var age = state.Age + _time.GetElapsedTime(view.ReadAt);
        if (age <= settings.StaleAfter && (state.Mode == ShardMode.Open || (state.Mode == ShardMode.LightOnly && light)))
        {
            return new ShardDecision(shard, state.Mode, true, null, null, "");
        }

        return Closed(settings, shard, state, age);
    }

    public void ThrowIfClosed(string shard, bool light = false)
    {
        var decision = Check(shard, light);
        if (!decision.IsOpen)
        {
            throw new ShardClosedException(decision);
        }
    }

    private ShardDecision Closed(GateSettings settings, string shard, ShardState state, TimeSpan age)
    {
        if (age > settings.StaleAfter)
        {
            return new ShardDecision(shard, ShardMode.Closed, false, string.Create(CultureInfo.InvariantCulture,
                $"shard {shard} state is {age.TotalSeconds:0.0} s old (over {settings.StaleAfter.TotalSeconds:0.#} s): no prober has refreshed it, so its load is unknown"),
                null, "stale");
        }

        var closedFor = _time.GetUtcNow() - state.ChangedAt;
        var what = state.Mode == ShardMode.LightOnly ? "open for light jobs only" : "closed";
        return new ShardDecision(shard, state.Mode, false,
            string.Create(CultureInfo.InvariantCulture, $"shard {shard} {what} for {Math.Max(0, closedFor.TotalSeconds):0.0} s: {state.Reason}"),
            state.ChangedAt, state.ReasonKind.Length > 0 ? state.ReasonKind : "unknown");
    }

    /// <summary>Whether a read of the states has a state for every shard of the settings.</summary>
    private sealed record Coverage(GateSettings Settings, ShardStateCache.View View, bool Covered);
}
