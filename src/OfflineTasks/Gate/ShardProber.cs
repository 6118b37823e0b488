using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Alerts;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Internal;
using OfflineTasks.Telemetry;
using Polly;
using Polly.Timeout;

namespace OfflineTasks.Gate;

/// <summary>
/// Probes every master of every shard and writes each shard's state for the whole fleet. Every worker process runs
/// one, but only the holder of the fleet's <c>prober</c> role (a lease in PostgreSQL) probes, so the load on MySQL
/// does not grow with processes or slots; when the holder dies, another process takes over once the lease has
/// expired.
/// </summary>
/// <remarks>
/// Each shard has its own schedule: an open shard's masters are probed every <see cref="GateOptions.ProbeInterval"/>,
/// a closed or light-only one's every <see cref="GateOptions.RecoveryProbeInterval"/> (so the end of a stress is
/// seen soon after it ends), and a round is also held at the exact moment a calm shard's hold time runs out, so it
/// reopens then and not up to a round later. A round probes only the shards that are due. A master that does not
/// answer within <see cref="GateOptions.ProbeTimeout"/> counts as unknown in that round (its shard closes); one that
/// failed is probed again on the next round, with no pause, so its recovery is seen at once.
/// </remarks>
internal sealed class ShardProber : LeaderService
{
    internal const string Role = "prober";

    /// <summary>The reason kind of a shard that was removed from the configuration.</summary>
    internal const string NotConfigured = "not_configured";
    private readonly IShardStateStore _store;
    private readonly GateSettingsMonitor _settings;
    private readonly IMySqlStatusClientFactory _clients;
    private readonly OfflineTasksMetrics? _metrics;
    private readonly OperationsNotifier? _notifier;
    private readonly Dictionary<string, Probe> _probes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ShardPolicyState> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _due = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Written> _written = new(StringComparer.Ordinal);
    private GateSettings? _probesBuiltFor;
    private GateSettings _round;
    private bool _ledLastRound;

    public ShardProber(IShardStateStore store, GateSettingsMonitor settings, IMySqlStatusClientFactory clients, TimeProvider time, ILogger<ShardProber> logger,
        OfflineTasksMetrics? metrics = null, OperationsNotifier? notifier = null)
        : base(store, Role, time, logger)
    {
        _store = store;
        _settings = settings;
        _clients = clients;
        _metrics = metrics;
        _notifier = notifier;
        _round = settings.Current;
    }

    protected override (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule()
    {
        _round = _settings.Current;
        return (_round.ProbeInterval, _round.LeaderLease, _round.Shards.Count > 0);
    }

    /// <summary>While leading, the next round is when the first shard is due; otherwise a probe interval.</summary>
    protected override TimeSpan NextRoundIn(TimeSpan interval, TimeSpan elapsed)
    {
        if (!_ledLastRound || _due.Count == 0)
        {
            return interval - elapsed;
        }

        var next = _due.Values.Min() - Time.GetUtcNow();
        return next < interval - elapsed ? next : interval - elapsed;
    }

    protected override void RoundFailed(Exception e) =>
        Logger.LogWarning("Probe round failed; shard states go stale (and close) if this lasts {StaleAfter}: {Error}", _round.StaleAfter, e.Message);

    // Not leading: hold no connection to any MySQL server.
    protected override Task FollowAsync(CancellationToken cancellationToken)
    {
        _ledLastRound = false;
        _due.Clear();
        return CloseProbesAsync();
    }

    protected override Task OnStoppedAsync() => CloseProbesAsync();

    protected override async Task<bool> LeadAsync(bool tookOver, CancellationToken stopping)
    {
        var settings = _round;
        _ledLastRound = false;
        var stored = tookOver ? await _store.ReadStatesAsync(stopping).ConfigureAwait(false) : null;
        await EnsureProbesAsync(settings).ConfigureAwait(false);
        var started = Time.GetUtcNow();
        var switches = await _store.ReadSwitchesAsync(started, stopping).ConfigureAwait(false);
        if (stored is not null)
        {
            // Carry on the hysteresis where the previous prober left it, and the switches it had applied.
            _states.Clear();
            _due.Clear();
            _written.Clear();
            foreach (var state in stored.States)
            {
                _states[state.Shard] = ShardPolicyJson.Read(state, stored.Policies.GetValueOrDefault(state.Shard));
                _written[state.Shard] = new Written(state.Mode, state.ChangedAt, switches.GetValueOrDefault(state.Shard));
            }

            Logger.LogInformation("This process now probes the fleet's {Count} shards ({Shards})", settings.Shards.Count, string.Join(", ", settings.Shards.Keys));
        }

        var switched = settings.Shards.Keys.Where(name => _written.GetValueOrDefault(name)?.Switch != switches.GetValueOrDefault(name)).ToHashSet(StringComparer.Ordinal);
        var due = settings.Shards.Values.Where(shard => !_due.TryGetValue(shard.Name, out var at) || at <= started + DueSlack || switched.Contains(shard.Name)).ToList();
        var samples = await Task.WhenAll(due.SelectMany(shard => shard.Masters).Select(m => _probes[m.Name].RunAsync(Time, stopping))).ConfigureAwait(false);
        var now = Time.GetUtcNow();
        if (_metrics is not null)
        {
            foreach (var sample in samples.Where(s => s.Duration > TimeSpan.Zero))
            {
                _metrics.Probed(sample.Master.Shard, sample.Master.Name, sample.Duration, sample.Failure);
            }
        }

        var writes = new List<ShardStateWrite>(settings.Shards.Count);
        var events = new List<ShardEvent>();
        foreach (var shard in due)
        {
            var mine = samples.Where(s => s.Master.Shard == shard.Name).ToList();
            if (mine.Any(s => s.Stalled))
            {
                // This process was stalled, not the servers: nothing learned; the shard keeps its state, probed again next round.
                _due[shard.Name] = started + settings.RecoveryProbeInterval;
                continue;
            }

            var previous = _states.GetValueOrDefault(shard.Name);
            var next = previous is null || previous.Kind == NotConfigured
                ? ShardPolicy.Evaluate(new ShardPolicyState(ShardMode.Open, "first probe: no signal at its high-water mark", now, null, null), shard, mine, now)
                : ShardPolicy.Evaluate(previous, shard, mine, now);
            Record(shard.Name, previous, next, switches.GetValueOrDefault(shard.Name), now, writes, events, ShardPolicyJson.Signals(mine));
            _due[shard.Name] = NextProbe(settings, shard, next, started);
        }

        // A shard removed from the configuration stays in the table, closed: jobs of it that are still parked or
        // queued must not run unchecked, and its name stays visible until it is configured again.
        foreach (var (name, previous) in _states.Where(s => !settings.Shards.ContainsKey(s.Key)).ToList())
        {
            var next = previous.Kind == NotConfigured
                ? previous
                : new ShardPolicyState(ShardMode.Closed,
                    $"unknown shard {name}: it is no longer configured (no {GateOptions.SectionName}:Shards:{name}); its jobs stay parked until it is configured again",
                    now, null, null, NotConfigured);
            Record(name, previous, next, null, now, writes, events, "{}");
        }

        // A shard that closes is announced to every process first, and written a moment later: by the time the closure
        // is on record (and its event stamped), every process has stopped starting its jobs.
        var closing = events.Where(e => Restricts(e.From, e.To))
            .Select(e => new ShardClosing(e.Shard, e.To, KindOf(e.Shard), e.Reason)).ToList();
        if (closing.Count > 0)
        {
            await _store.AnnounceClosingAsync(Role, Id, closing, stopping).ConfigureAwait(false);
            await Task.Delay(AnnouncementLead, Time, stopping).ConfigureAwait(false);
        }

        var reported = events.Select(e => new ShardEventWrite(e, ShardNotice(e))).ToList();
        if (!await _store.WriteStatesAsync(Role, Id, settings.LeaderLease, writes, reported, stopping).ConfigureAwait(false))
        {
            _due.Clear();
            return false;
        }

        _ledLastRound = true;
        foreach (var name in switched.Where(n => _written.TryGetValue(n, out var w) && w.Switch == switches.GetValueOrDefault(n)))
        {
            Announce(name, switches.GetValueOrDefault(name), now);
        }

        // Stored with the round; to chat, all but a shard's first opening.
        foreach (var e in reported.Where(e => e.Event.From is not null || e.Event.To != ShardMode.Open))
        {
            _notifier?.Post(e.Notice, stored: true);
        }

        return true;
    }

    /// <summary>The operations event that reports <paramref name="e"/>.</summary>
    private Notice ShardNotice(ShardEvent e)
    {
        var what = e.To switch { ShardMode.Closed => "closed", ShardMode.LightOnly => "open for light jobs only", _ => e.From is null ? "open" : "reopened" };
        return new Notice("shard", $"Shard {e.Shard} {what}: {e.Reason}", e.At, new Dictionary<string, object?>
        {
            ["shard"] = e.Shard,
            ["state"] = ShardModeNames.Name(e.To),
            ["previous"] = e.From is { } from ? ShardModeNames.Name(from) : null,
            ["reason"] = e.Reason,
            ["reason_kind"] = KindOf(e.Shard),
        });
    }

    /// <summary>How long a master's probes may keep timing out late (this process stalled) before that counts as a timeout.</summary>
    internal static readonly TimeSpan StalledGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a closure is announced before it is written and stamped: time for every process to apply the
    /// announcement, even a busy one (on a saturated 2-core machine a worker process applied it up to 20 ms after the
    /// announcement went out). Reaction does not wait for it: processes stop at the announcement.
    /// </summary>
    internal static readonly TimeSpan AnnouncementLead = TimeSpan.FromMilliseconds(50);

    /// <summary>Whether going from <paramref name="from"/> to <paramref name="to"/> lets fewer jobs run.</summary>
    private static bool Restricts(ShardMode? from, ShardMode to) =>
        to != ShardMode.Open && (from is null or ShardMode.Open || (from == ShardMode.LightOnly && to == ShardMode.Closed));

    /// <summary>A shard due within this much of a round's start is probed in it rather than in a round of its own just after.</summary>
    private static readonly TimeSpan DueSlack = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// When <paramref name="shard"/> is probed next: a probe interval after this round started while it is open; a
    /// recovery interval while it is closed or light-only, or at the moment its hold time runs out if that is sooner.
    /// </summary>
    private static DateTimeOffset NextProbe(GateSettings settings, ShardSettings shard, ShardPolicyState state, DateTimeOffset roundStarted)
    {
        if (state.Mode == ShardMode.Open)
        {
            return roundStarted + settings.ProbeInterval;
        }

        var next = roundStarted + settings.RecoveryProbeInterval;
        return state.CalmSince is { } calm && calm + shard.HoldTime < next ? calm + shard.HoldTime : next;
    }

    /// <summary>
    /// Records a round's outcome for <paramref name="shard"/>: <paramref name="next"/> is what the gate measured (kept
    /// for the hysteresis, and shown under a switch); what is written is the switch's mode when an operator forced the
    /// shard, else the measured one. An event is logged when the written mode changes.
    /// </summary>
    private void Record(string shard, ShardPolicyState? previous, ShardPolicyState next, ShardSwitch? forced, DateTimeOffset now, List<ShardStateWrite> writes,
        List<ShardEvent> events, string signals)
    {
        _states[shard] = next;
        var was = _written.GetValueOrDefault(shard);
        var mode = forced?.Mode ?? next.Mode;
        var reason = forced is null ? next.Reason : forced.Describe(Measured(next));
        var since = was is null ? next.ChangedAt : was.Mode == mode ? was.Since : now;
        if (was is null || was.Mode != mode || (previous is not null && (previous.Kind == NotConfigured) != (next.Kind == NotConfigured)))
        {
            events.Add(new ShardEvent(0, shard, now, was?.Mode ?? previous?.Mode, mode, reason));
            Log(shard, was?.Mode ?? previous?.Mode, mode, reason);
        }

        _written[shard] = new Written(mode, since, forced);
        writes.Add(new ShardStateWrite(shard, mode, reason, since, signals, ShardPolicyJson.Policy(next, forced)));
    }

    /// <summary>The kind of reason of what was last written for <paramref name="shard"/>: <c>switch</c> under a switch, else the measured one.</summary>
    private string KindOf(string shard) =>
        _written.GetValueOrDefault(shard)?.Switch is not null ? ShardSwitch.Kind : _states.GetValueOrDefault(shard)?.Kind ?? "";

    /// <summary>What the gate measures, as shown beside a switch.</summary>
    private static string Measured(ShardPolicyState state) => state.Mode switch
    {
        ShardMode.Open => "open",
        ShardMode.LightOnly => "open for light jobs only: " + state.Reason,
        _ => "closed: " + state.Reason,
    };

    /// <summary>Logs and posts to the operations channel that <paramref name="shard"/>'s switch took effect or ended.</summary>
    private void Announce(string shard, ShardSwitch? forced, DateTimeOffset now)
    {
        var text = forced is null
            ? $"Switch on shard {shard} cleared: the gate decides again"
            : $"Switch on shard {shard}: {forced.Describe(Measured(_states[shard]))}";
        Logger.LogWarning("{Switch}", text);
        _notifier?.Post(new Notice("switch", text, now, new Dictionary<string, object?>
        {
            ["shard"] = shard,
            ["state"] = forced is null ? "cleared" : forced.Mode == ShardMode.Open ? "forced_open" : "forced_closed",
            ["actor"] = forced?.Actor,
            ["reason"] = forced?.Reason,
            ["until"] = forced?.Until,
        }));
    }

    private void Log(string shard, ShardMode? from, ShardMode mode, string reason)
    {
        switch (mode)
        {
            case ShardMode.Closed:
                Logger.LogWarning("Shard {Shard} closed: {Reason}", shard, reason);
                break;
            case ShardMode.LightOnly:
                Logger.LogWarning("Shard {Shard} open for light jobs only: {Reason}", shard, reason);
                break;
            default:
                Logger.LogInformation("Shard {Shard} {What}: {Reason}", shard, from is null ? "open" : "reopened", reason);
                break;
        }
    }

    private async Task EnsureProbesAsync(GateSettings settings)
    {
        if (ReferenceEquals(settings, _probesBuiltFor))
        {
            return;
        }

        await CloseProbesAsync().ConfigureAwait(false);
        _due.Clear();
        foreach (var shard in settings.Shards.Values)
        {
            foreach (var master in shard.Masters)
            {
                _probes[master.Name] = new Probe(master, _clients.Create(master), settings, Time, Logger);
            }
        }

        _probesBuiltFor = settings;
    }

    private async Task CloseProbesAsync()
    {
        foreach (var probe in _probes.Values)
        {
            await probe.DisposeAsync().ConfigureAwait(false);
        }

        _probes.Clear();
        _probesBuiltFor = null;
    }

    /// <summary>
    /// One master's client behind a timeout: a hung or stalled server costs at most the probe timeout and counts as
    /// unknown. There is no circuit breaker: a master that failed is probed again on the next round, so its recovery
    /// is seen at once; against a dead master that is one refused connection per round, and against a hung one
    /// the client keeps a single read outstanding (it does not open more connections).
    /// </summary>
    private sealed class Probe : IAsyncDisposable
    {
        private readonly MySqlEndpoint _master;
        private readonly IMySqlStatusClient _client;
        private readonly ResiliencePipeline<MySqlServerStatus> _pipeline;
        private readonly TimeSpan _timeout;
        private readonly ILogger _logger;
        private long? _stalledSince;

        public Probe(MySqlEndpoint master, IMySqlStatusClient client, GateSettings settings, TimeProvider time, ILogger logger)
        {
            _master = master;
            _client = client;
            _timeout = settings.ProbeTimeout;
            _logger = logger;
            _pipeline = new ResiliencePipelineBuilder<MySqlServerStatus> { TimeProvider = time }
                .AddTimeout(settings.ProbeTimeout)
                .Build();
        }

        /// <summary>
        /// Reads the master's status once. A timeout that fired far later than the probe timeout says that this
        /// process, not the server, was stalled (its timers and continuations ran late: CPU or thread pool
        /// starvation); that read is repeated once at once rather than closing the shard on it. A hung server times
        /// out on time and is not read twice.
        /// </summary>
        public async Task<MasterSample> RunAsync(TimeProvider time, CancellationToken stopping)
        {
            var sample = await ReadAsync(time, stopping).ConfigureAwait(false);
            if (!Late(sample))
            {
                _stalledSince = null;
                return sample;
            }

            _logger.LogWarning("The probe of {Master} timed out only after {Elapsed:0} ms (timeout {Timeout:0} ms): this process was stalled; probing it again",
                _master, sample.Duration.TotalMilliseconds, _timeout.TotalMilliseconds);
            sample = await ReadAsync(time, stopping).ConfigureAwait(false);
            if (!Late(sample))
            {
                _stalledSince = null;
                return sample;
            }

            // Stalled twice: no news of the server. Its shard keeps its state this round, for at most StalledGrace;
            // after that (the process stays starved) the timeout counts as one (unknown: the shard closes).
            _stalledSince ??= time.GetTimestamp();
            return time.GetElapsedTime(_stalledSince.Value) < StalledGrace ? sample with { Stalled = true } : sample;
        }

        /// <summary>A timeout that fired well after the probe timeout.</summary>
        private bool Late(MasterSample sample) => sample.Failure == MySqlStatusFailure.Timeout && sample.Duration > _timeout * 1.5;

        private async Task<MasterSample> ReadAsync(TimeProvider time, CancellationToken stopping)
        {
            var at = time.GetUtcNow();
            var started = time.GetTimestamp();
            try
            {
                var status = await _pipeline.ExecuteAsync(static async (client, ct) => await client.ReadStatusAsync(ct).ConfigureAwait(false), _client, stopping)
                    .ConfigureAwait(false);
                return MasterSample.Read(_master, at, time.GetElapsedTime(started), status);
            }
            catch (MySqlStatusException e)
            {
                return MasterSample.Failed(_master, at, time.GetElapsedTime(started), e.Failure, e.Message, e.ErrorCode);
            }
            catch (TimeoutRejectedException e)
            {
                return MasterSample.Failed(_master, at, time.GetElapsedTime(started), MySqlStatusFailure.Timeout,
                    $"{_master}: no answer within the probe timeout of {e.Timeout.TotalMilliseconds:0} ms");
            }
            catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                return MasterSample.Failed(_master, at, time.GetElapsedTime(started), MySqlStatusFailure.Other, $"{_master}: {e.Message}");
            }
        }

        public ValueTask DisposeAsync() => _client.DisposeAsync();
    }

    /// <summary>What the prober last wrote for a shard: its mode, since when, and under which switch.</summary>
    private sealed record Written(ShardMode Mode, DateTimeOffset Since, ShardSwitch? Switch);
}
