using Hangfire;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Internal;
using OfflineTasks.Storage;

namespace OfflineTasks.Telemetry;

/// <summary>
/// Samples the fleet's queues once per <see cref="TelemetryOptions.SampleInterval"/> and evaluates the built-in
/// alerts. Every process runs one; only the holder of the fleet's <c>telemetry</c> role (a lease in PostgreSQL)
/// counts, through Hangfire's monitoring API (enqueued and fetched jobs per queue, the oldest enqueued job,
/// scheduled, processing and failed jobs) and the parked sets, stores the gauges for every process to export, and
/// moves the alerts' state machines, whose state is stored too, so a restart or a new leader neither fires an alert
/// again nor loses it. The others read the stored sample: no scrape ever queries the database.
/// </summary>
internal sealed class FleetSampler : LeaderService
{
    internal const string Role = "telemetry";

    /// <summary>How many of a sample's counts run at once.</summary>
    private const int SampleParallelism = 3;
    private readonly OfflineTasksStore _store;
    private readonly JobStorage _jobs;
    private readonly TelemetrySettingsMonitor _settings;
    private readonly OfflineTasksMetrics _metrics;
    private readonly OperationsNotifier _notifier;
    private readonly Func<IReadOnlyCollection<string>> _shards;
    private readonly GateSettingsMonitor _gate;
    private Dictionary<string, AlertState> _alerts = new(StringComparer.Ordinal);
    private TelemetrySettings _round;

    /// <param name="store">OfflineTasks' tables (the shared sample, the role).</param>
    /// <param name="jobs">Hangfire's storage.</param>
    /// <param name="settings">Sample interval, lease, queues and alert rules.</param>
    /// <param name="metrics">Where the sample is published for export.</param>
    /// <param name="notifier">Where alert changes go.</param>
    /// <param name="shards">The shards whose parked jobs are counted (configured and removed ones).</param>
    /// <param name="gate">The gate's settings, whose reloads the leader announces.</param>
    /// <param name="time">The clock of the alerts' dwell times.</param>
    /// <param name="logger">The log.</param>
    public FleetSampler(OfflineTasksStore store, JobStorage jobs, TelemetrySettingsMonitor settings, OfflineTasksMetrics metrics, OperationsNotifier notifier,
        Func<IReadOnlyCollection<string>> shards, GateSettingsMonitor gate, TimeProvider time, ILogger<FleetSampler> logger)
        : base(store, Role, time, logger)
    {
        _gate = gate;
        settings.Changed += OnTelemetryReloaded;
        gate.Changed += OnGateReloaded;
        _store = store;
        _jobs = jobs;
        _settings = settings;
        _metrics = metrics;
        _notifier = notifier;
        _shards = shards;
        _round = settings.Current;
    }

    /// <summary>Raised after each completed round (sampled or read), for tests and tools.</summary>
    public event Action? Sampled;

    protected override (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule()
    {
        _round = _settings.Current;
        return (_round.SampleInterval, _round.LeaderLease, _round.Enabled);
    }

    protected override Task OnStoppedAsync()
    {
        _settings.Changed -= OnTelemetryReloaded;
        _gate.Changed -= OnGateReloaded;
        return Task.CompletedTask;
    }

    // Every process follows the reloads; only the leader announces them, so the fleet reports each reload once.
    private void OnTelemetryReloaded(TelemetrySettings settings) =>
        Reloaded("telemetry", $"alert rules: {(settings.Rules.Count == 0 ? "none" : string.Join(", ", settings.Rules.Select(r => $"{r.Name} ({r.Describe()} {r.Low:0.##}/{r.High:0.##}, for {r.For.TotalSeconds:0.#} s)")))}");

    private void OnGateReloaded(GateSettings settings) =>
        Reloaded("gate", $"probe every {settings.ProbeInterval.TotalSeconds:0.###} s, hold {string.Join(", ", settings.Shards.Values.Select(s => $"{s.Name} {s.HoldTime.TotalSeconds:0.#} s"))}");

    private void Reloaded(string section, string summary)
    {
        if (IsLeading)
        {
            _notifier.Post(new Notice("config", $"Configuration reloaded ({section}): {summary}", Time.GetUtcNow(), new Dictionary<string, object?>
            {
                ["section"] = section,
                ["host"] = $"{Environment.MachineName}:{Environment.ProcessId}",
            }));
        }
    }

    protected override void RoundFailed(Exception e) =>
        Logger.LogWarning("Telemetry round failed; queue gauges and alerts are not updated until it works again: {Error}", e.Message);

    protected override async Task FollowAsync(CancellationToken cancellationToken)
    {
        _metrics.FleetSample = await _store.ReadFleetAsync(cancellationToken).ConfigureAwait(false);
        Sampled?.Invoke();
    }

    protected override async Task<bool> LeadAsync(bool tookOver, CancellationToken stopping)
    {
        var settings = _round;
        if (tookOver)
        {
            // Carry on the alerts where the previous leader (or this process, before a restart) left them.
            _alerts = new Dictionary<string, AlertState>((await _store.ReadFleetAsync(stopping).ConfigureAwait(false)).Alerts, StringComparer.Ordinal);
            Logger.LogInformation("This process now samples the fleet's queues and evaluates its {Count} alert rules", settings.Rules.Count);
        }

        var now = Time.GetUtcNow();
        var queues = settings.Queues.Union(settings.Rules.Where(r => r.Kind != AlertKind.ShardParked).Select(r => r.Subject)).Distinct().Order(StringComparer.Ordinal).ToList();
        var shards = _shards().Order(StringComparer.Ordinal).ToList();
        var gauges = await Task.Run(() => Sample(queues, shards, now), stopping).ConfigureAwait(false);
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

        if (!await _store.WriteFleetAsync(Role, Id, settings.LeaderLease, now, gauges, alerts, stopping).ConfigureAwait(false))
        {
            return false;
        }

        _alerts = alerts;
        _metrics.FleetSample = new FleetSnapshot(gauges, alerts, now);
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

    /// <summary>
    /// One sample, through Hangfire's monitoring API and the parked sets' counts. Each count is a blocking round trip
    /// of its own; they run <see cref="SampleParallelism"/> at a time, so a sample takes about as long as its slowest
    /// few counts rather than all of them in a row (the database does the same work either way).
    /// </summary>
    internal List<FleetGauge> Sample(List<string> queues, List<string> shards, DateTimeOffset now)
    {
        var monitoring = _jobs.GetMonitoringApi();
        var counts = new List<Func<FleetGauge>>((queues.Count * 3) + 3 + shards.Count);
        foreach (var queue in queues)
        {
            counts.Add(() => new FleetGauge(FleetGauge.QueueDepth, queue, "enqueued", monitoring.EnqueuedCount(queue)));
            counts.Add(() => new FleetGauge(FleetGauge.QueueDepth, queue, "fetched", monitoring.FetchedCount(queue)));
            counts.Add(() =>
            {
                var oldest = monitoring.EnqueuedJobs(queue, 0, 1).FirstOrDefault().Value?.EnqueuedAt;
                var age = oldest is { } at ? Math.Max(0, (now.UtcDateTime - DateTime.SpecifyKind(at, DateTimeKind.Utc)).TotalSeconds) : 0;
                return new FleetGauge(FleetGauge.QueueOldestAge, queue, "", Math.Round(age, 3));
            });
        }

        counts.Add(() => new FleetGauge(FleetGauge.Jobs, "", "scheduled", monitoring.ScheduledCount()));
        counts.Add(() => new FleetGauge(FleetGauge.Jobs, "", "processing", monitoring.ProcessingCount()));
        counts.Add(() => new FleetGauge(FleetGauge.Jobs, "", "failed", monitoring.FailedCount()));
        foreach (var shard in shards)
        {
            counts.Add(() =>
            {
                using var connection = (JobStorageConnection)_jobs.GetConnection();
                var parked = connection.GetSetCount(ParkedState.SetKey(shard, false)) + connection.GetSetCount(ParkedState.SetKey(shard, true));
                return new FleetGauge(FleetGauge.ShardParked, shard, "", parked);
            });
        }

        var gauges = new FleetGauge[counts.Count];
        Parallel.For(0, counts.Count, new ParallelOptions { MaxDegreeOfParallelism = SampleParallelism }, i => gauges[i] = counts[i]());
        return [.. gauges];
    }

    private static double Value(List<FleetGauge> gauges, AlertRule rule)
    {
        var (metric, state) = rule.Kind switch
        {
            AlertKind.QueueDepth => (FleetGauge.QueueDepth, "enqueued"),
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
