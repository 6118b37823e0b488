using System.Globalization;
using Microsoft.Extensions.Logging;
using OfflineTasks.Server;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Gate;

/// <summary>
/// The gate as workers see it, over this process's copy of the shard states. At claim time it names the shards
/// whose jobs must stay unclaimed (closed, stale, light-only, or at their ramp limit); just before a claimed job
/// runs it defers the job if its shard closed in the meantime, with a delay that grows with how long the shard
/// has been closed, and reports jobs deferred past the deadline.
/// </summary>
internal sealed class ShardGate : IJobGate, IClaimFilterProvider
{
    private readonly ShardStateCache _cache;
    private readonly GateSettingsMonitor _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<ShardGate> _logger;
    private readonly OfflineTasksMetrics? _metrics;
    private readonly Random _random = new();

    public ShardGate(ShardStateCache cache, GateSettingsMonitor settings, TimeProvider time, ILogger<ShardGate> logger, OfflineTasksMetrics? metrics = null)
    {
        _cache = cache;
        _settings = settings;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    public event Action? Changed
    {
        add => _cache.Changed += value;
        remove => _cache.Changed -= value;
    }

    public ValueTask<GateDecision> CheckAsync(GateRequest request, CancellationToken cancellationToken)
    {
        var settings = _settings.Current;
        var (mode, reason, closedFor, kind) = Assess(settings, _cache.Current, request.ShardKey);
        if (mode == ShardMode.Open || (mode == ShardMode.LightOnly && request.Light))
        {
            return ValueTask.FromResult(GateDecision.Open);
        }

        _metrics?.JobDeferred(request.ShardKey, kind);
        var delay = Delay(settings.Deferral, closedFor);
        if (request.DeferredSince is { } since && _time.GetUtcNow() - since is var waited && waited > settings.Deferral.Deadline)
        {
            reason += string.Create(CultureInfo.InvariantCulture,
                $"; DEADLINE PASSED: deferred for {waited.TotalMinutes:0.#} min in all, over the deadline of {settings.Deferral.Deadline.TotalMinutes:0.#} min");
            _logger.LogError("Job {JobId} on shard {Shard} has been deferred for {Waited} ({Count} deferrals), past the deadline of {Deadline}: {Reason}",
                request.JobId, request.ShardKey, waited, request.DeferCount + 1, settings.Deferral.Deadline, reason);
        }

        return ValueTask.FromResult(GateDecision.Defer(delay, reason));
    }

    public ClaimFilter Filter(IReadOnlyDictionary<string, int> runningByShard)
    {
        var settings = _settings.Current;
        var view = _cache.Current;
        List<string>? closed = null, lightOnly = null, capped = null;
        List<int>? caps = null;
        foreach (var shard in settings.Shards.Keys)
        {
            var (mode, state, _) = Classify(settings, view, shard);
            if (mode == ShardMode.Closed)
            {
                (closed ??= []).Add(shard);
                continue;
            }

            if (mode == ShardMode.LightOnly)
            {
                (lightOnly ??= []).Add(shard);
            }

            if (state?.ConcurrencyLimit is { } limit)
            {
                // The fleet-wide ramp limit, split evenly over the live worker servers.
                var mine = Math.Max(1, (limit + view.LiveServers - 1) / view.LiveServers);
                var left = mine - runningByShard.GetValueOrDefault(shard);
                if (left <= 0)
                {
                    (closed ??= []).Add(shard);
                }
                else
                {
                    (capped ??= []).Add(shard);
                    (caps ??= []).Add(left);
                }
            }
        }

        return closed is null && lightOnly is null && capped is null
            ? ClaimFilter.None
            : new ClaimFilter(closed?.ToArray() ?? [], lightOnly?.ToArray() ?? [], capped?.ToArray() ?? [], caps?.ToArray() ?? []);
    }

    /// <summary>The shard's mode as this process sees it, and where that comes from; no text, for the claim path.</summary>
    private (ShardMode Mode, ShardState? State, TimeSpan Age) Classify(GateSettings settings, ShardStateCache.View view, string shard)
    {
        if (!settings.Shards.ContainsKey(shard) || !view.States.TryGetValue(shard, out var state))
        {
            return (ShardMode.Closed, null, TimeSpan.Zero);
        }

        var age = state.Age + _time.GetElapsedTime(view.ReadAt);
        return (age > settings.StaleAfter ? ShardMode.Closed : state.Mode, state, age);
    }

    /// <summary>The shard's mode as this process sees it, why, for how long, and the reason's kind (a metric tag).</summary>
    private (ShardMode Mode, string Reason, TimeSpan ClosedFor, string Kind) Assess(GateSettings settings, ShardStateCache.View view, string shard)
    {
        var (mode, state, age) = Classify(settings, view, shard);
        if (!settings.Shards.ContainsKey(shard))
        {
            return (mode, $"shard {shard} is not configured (no {GateOptions.SectionName}:Shards:{shard}); the job waits until it is", TimeSpan.Zero, "not_configured");
        }

        if (state is null)
        {
            return (mode, view.Loaded ? $"shard {shard} not probed yet" : $"shard {shard}: shard states not read yet", TimeSpan.Zero, "unknown");
        }

        if (age > settings.StaleAfter)
        {
            return (mode, string.Create(CultureInfo.InvariantCulture,
                $"shard {shard} state is {age.TotalSeconds:0.0} s old (over {settings.StaleAfter.TotalSeconds:0.#} s): no prober has refreshed it, so its load is unknown"), age, "stale");
        }

        var closedFor = _time.GetUtcNow() - state.ChangedAt;
        if (closedFor < TimeSpan.Zero)
        {
            closedFor = TimeSpan.Zero;
        }

        var what = mode == ShardMode.LightOnly ? "open for light jobs only" : "closed";
        return (mode, string.Create(CultureInfo.InvariantCulture, $"shard {shard} {what} for {closedFor.TotalSeconds:0.0} s: {state.Reason}"), closedFor,
            state.ReasonKind.Length > 0 ? state.ReasonKind : "unknown");
    }

    private TimeSpan Delay(DeferralSettings deferral, TimeSpan closedFor)
    {
        var ticks = Math.Min(deferral.InitialDelay.Ticks + (closedFor.Ticks / 2), deferral.MaxDelay.Ticks);
        double jitter;
        lock (_random)
        {
            jitter = 1 + ((_random.NextDouble() * 0.4) - 0.2);
        }

        return TimeSpan.FromTicks(Math.Min((long)(ticks * jitter), deferral.MaxDelay.Ticks));
    }
}
