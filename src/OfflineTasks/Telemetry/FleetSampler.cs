using Microsoft.Extensions.Logging;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Internal;
using OfflineTasks.Storage;

namespace OfflineTasks.Telemetry;

/// <summary>
/// Samples the fleet's queues once per <see cref="TelemetryOptions.SampleInterval"/> and evaluates the built-in
/// alerts. Every process runs one; only the holder of the fleet's <c>telemetry</c> role (a lease in PostgreSQL)
/// counts (index-only scans of partial indexes), stores the gauges for every process to export, and moves the
/// alerts' state machines, whose state is stored too, so a restart or a new leader neither fires an alert again
/// nor loses it. The others read the stored sample.
/// </summary>
internal sealed class FleetSampler : LeaderService
{
    internal const string Role = "telemetry";
    private readonly PostgresJobStorage _storage;
    private readonly TelemetrySettingsMonitor _settings;
    private readonly OfflineTasksMetrics _metrics;
    private readonly OperationsNotifier _notifier;
    private readonly Func<IReadOnlyCollection<string>> _queues;
    private readonly Func<IReadOnlyDictionary<string, ShardMode>>? _shards;
    private Dictionary<string, AlertState> _alerts = new(StringComparer.Ordinal);
    private TelemetrySettings _round;

    /// <param name="storage">The job storage.</param>
    /// <param name="settings">Sample interval, lease and alert rules.</param>
    /// <param name="metrics">Where the sample is published for export.</param>
    /// <param name="notifier">Where alert changes go.</param>
    /// <param name="queues">The queues to report even when empty.</param>
    /// <param name="shards">The gate's shards and their modes (for parked jobs), or null without a gate.</param>
    /// <param name="time">The clock of the alerts' dwell times.</param>
    /// <param name="logger">The log.</param>
    public FleetSampler(PostgresJobStorage storage, TelemetrySettingsMonitor settings, OfflineTasksMetrics metrics, OperationsNotifier notifier,
        Func<IReadOnlyCollection<string>> queues, Func<IReadOnlyDictionary<string, ShardMode>>? shards, TimeProvider time, ILogger<FleetSampler> logger)
        : base(storage, Role, time, logger)
    {
        _storage = storage;
        _settings = settings;
        _metrics = metrics;
        _notifier = notifier;
        _queues = queues;
        _shards = shards;
        _round = settings.Current;
    }

    /// <summary>Raised after each completed round (sampled or read), for tests and tools.</summary>
    public event Action? Sampled;

    protected override (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule()
    {
        _round = _settings.Current;
        return (_round.SampleInterval, _round.LeaderLease, true);
    }

    protected override void RoundFailed(Exception e) =>
        Logger.LogWarning("Telemetry round failed; queue gauges and alerts are not updated until it works again: {Error}", e.Message);

    protected override async Task FollowAsync(CancellationToken cancellationToken)
    {
        _metrics.FleetSample = await _storage.ReadFleetAsync(cancellationToken).ConfigureAwait(false);
        Sampled?.Invoke();
    }

    protected override async Task<bool> LeadAsync(bool tookOver, CancellationToken stopping)
    {
        var settings = _round;
        if (tookOver)
        {
            // Carry on the alerts where the previous leader (or this process, before a restart) left them.
            _alerts = new Dictionary<string, AlertState>((await _storage.ReadFleetAsync(stopping).ConfigureAwait(false)).Alerts, StringComparer.Ordinal);
            Logger.LogInformation("This process now samples the fleet's queues and evaluates its {Count} alert rules", settings.Rules.Count);
        }

        var modes = _shards?.Invoke();
        var notOpen = modes?.Where(m => m.Value != ShardMode.Open).Select(m => m.Key).ToList() ?? [];
        var counts = await _storage.CountQueuesAsync(notOpen, stopping).ConfigureAwait(false);
        var gauges = Gauges(counts, settings, modes);
        var now = Time.GetUtcNow();
        var alerts = new Dictionary<string, AlertState>(StringComparer.Ordinal);
        var changes = new List<AlertChange>();
        foreach (var rule in settings.Rules)
        {
            var value = Value(gauges, rule);
            var (next, change) = AlertStateMachine.Next(_alerts.GetValueOrDefault(rule.Name) ?? AlertState.Initial(now), rule, value, now);
            alerts[rule.Name] = next;
            if (change is not null)
            {
                changes.Add(change);
            }
        }

        if (!await _storage.WriteFleetAsync(Role, Id, settings.LeaderLease, counts.Now, gauges, alerts, stopping).ConfigureAwait(false))
        {
            return false;
        }

        _alerts = alerts;
        _metrics.FleetSample = new FleetSnapshot(gauges, alerts, counts.Now);
        foreach (var change in changes)
        {
            Notify(change);
        }

        Sampled?.Invoke();
        return true;
    }

    private void Notify(AlertChange change)
    {
        if (change.Fired)
        {
            Logger.LogWarning("{Text}", change.Text);
        }
        else
        {
            Logger.LogInformation("{Text}", change.Text);
        }

        var rule = change.Rule;
        _notifier.Post(new Notice("alert", change.Text, change.At, new Dictionary<string, object?>
        {
            ["alert"] = rule.Name,
            ["state"] = change.Fired ? "firing" : "resolved",
            ["alert_kind"] = rule.KindTag,
            [rule.Kind == AlertKind.ShardParked ? "shard" : "queue"] = rule.Subject,
            ["value"] = change.Value,
            ["high"] = rule.High,
            ["low"] = rule.Low,
            ["for_seconds"] = rule.For.TotalSeconds,
        }));
    }

    private List<FleetGauge> Gauges(QueueCounts counts, TelemetrySettings settings, IReadOnlyDictionary<string, ShardMode>? modes)
    {
        var queues = new SortedSet<string>(_queues(), StringComparer.Ordinal);
        foreach (var rule in settings.Rules.Where(r => r.Kind != AlertKind.ShardParked))
        {
            queues.Add(rule.Subject);
        }

        queues.UnionWith(counts.Available.Keys);
        queues.UnionWith(counts.Scheduled.Keys);
        queues.UnionWith(counts.Processing.Keys);
        queues.UnionWith(counts.Failed.Keys);
        var gauges = new List<FleetGauge>(queues.Count * 5);
        foreach (var queue in queues)
        {
            var (available, oldest) = counts.Available.GetValueOrDefault(queue);
            gauges.Add(new FleetGauge(FleetGauge.QueueDepth, queue, "available", available));
            gauges.Add(new FleetGauge(FleetGauge.QueueDepth, queue, "scheduled", counts.Scheduled.GetValueOrDefault(queue)));
            gauges.Add(new FleetGauge(FleetGauge.QueueDepth, queue, "processing", counts.Processing.GetValueOrDefault(queue)));
            gauges.Add(new FleetGauge(FleetGauge.QueueDepth, queue, "failed", counts.Failed.GetValueOrDefault(queue)));
            var age = oldest is { } o ? Math.Max(0, (counts.Now - o).TotalSeconds) : 0;
            gauges.Add(new FleetGauge(FleetGauge.QueueOldestAge, queue, "", Math.Round(age, 3)));
        }

        if (modes is not null)
        {
            var shards = new SortedSet<string>(modes.Keys, StringComparer.Ordinal);
            shards.UnionWith(counts.Shards.Keys);
            foreach (var shard in shards)
            {
                var (available, deferred) = counts.Shards.GetValueOrDefault(shard);
                gauges.Add(new FleetGauge(FleetGauge.ShardParked, shard, "", available + deferred));
            }
        }

        return gauges;
    }

    private static double Value(List<FleetGauge> gauges, AlertRule rule)
    {
        var (metric, state) = rule.Kind switch
        {
            AlertKind.QueueDepth => (FleetGauge.QueueDepth, "available"),
            AlertKind.OldestAge => (FleetGauge.QueueOldestAge, ""),
            _ => (FleetGauge.ShardParked, ""),
        };
        foreach (var g in gauges)
        {
            if (g.Metric == metric && g.Subject == rule.Subject && g.State == state)
            {
                return g.Value;
            }
        }

        return 0;
    }
}
