using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Telemetry;

/// <summary>
/// Every instrument of the <c>OfflineTasks</c> Meter, in one place (docs/metrics.md lists them). Per-process
/// instruments are recorded by the Hangfire filters (jobs performed, parked), the releaser and the prober; the
/// fleet-wide gauges (queue depth, oldest age, parked jobs, shard states and signals, alert states) report the
/// leader's shared sample.
/// Tags are low-cardinality only: never a job id.
/// </summary>
internal sealed class OfflineTasksMetrics : IDisposable
{
    /// <summary>The Meter's name.</summary>
    public const string MeterName = OfflineTasksMeter.Name;

    private const string System = "hangfire";
    private readonly Meter _meter;
    private readonly Histogram<double> _processDuration;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<long>> _performed = new(StringComparer.Ordinal);
    private readonly Counter<long> _parked;
    private readonly Counter<long> _released;
    private readonly Counter<long> _deadlineExceeded;
    private readonly Histogram<double> _probeDuration;
    private readonly Counter<long> _probeErrors;
    private readonly Dictionary<(string Shard, DateTimeOffset At), List<MasterSignals>> _signals = [];
    private FleetSnapshot _fleet = FleetSnapshot.Empty;

    public OfflineTasksMetrics()
    {
        _meter = new Meter(MeterName, typeof(OfflineTasksMetrics).Assembly.GetName().Version?.ToString());
        _processDuration = _meter.CreateHistogram<double>("messaging.process.duration", "s", "How long a job ran in this process.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300, 1800] });
        // Counted in the process and observed at collection: one Interlocked add per job instead of a tagged measurement.
        _meter.CreateObservableCounter("offlinetasks.jobs.performed", ObservePerformed, "{job}", "Job performances ended in this process, by outcome: succeeded, failed, parked.");
        _parked = _meter.CreateCounter<long>("offlinetasks.jobs.parked", "{job}", "Jobs parked by this process, by shard, reason kind and where (creation, enqueue, processing, start, checkpoint).");
        _released = _meter.CreateCounter<long>("offlinetasks.jobs.released", "{job}", "Parked jobs moved back to their queue by the releaser, by shard.");
        _deadlineExceeded = _meter.CreateCounter<long>("offlinetasks.jobs.park_deadline_exceeded", "{job}", "Jobs found parked for longer than the parking deadline, by shard.");
        _probeDuration = _meter.CreateHistogram<double>("offlinetasks.probe.duration", "s", "One status read of a MySQL master (the prober, on the leader).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _probeErrors = _meter.CreateCounter<long>("offlinetasks.probe.errors", "{error}", "Failed status reads of a MySQL master, by failure kind.");

        _meter.CreateObservableGauge("offlinetasks.queue.depth", ObserveDepth, "{job}", "Jobs of a queue by state (enqueued, fetched), and scheduled, processing and failed jobs, fleet-wide (sampled by the leader; aggregate with max, not sum).");
        _meter.CreateObservableGauge("offlinetasks.queue.oldest_age", () => Fleet(FleetGauge.QueueOldestAge, "queue"), "s", "Age of the oldest enqueued job of a queue, fleet-wide.");
        _meter.CreateObservableGauge("offlinetasks.jobs", () => FleetByState(FleetGauge.Jobs), "{job}", "Scheduled, processing and failed jobs, fleet-wide (sampled by the leader; aggregate with max).");
        _meter.CreateObservableGauge("offlinetasks.shard.parked", () => Fleet(FleetGauge.ShardParked, "shard"), "{job}", "Parked jobs of a shard (held back by the gate), fleet-wide.");
        _meter.CreateObservableGauge("offlinetasks.shard.state", ObserveShardStates, description: "1 for the shard's current state (open, closed, light_only), 0 for the others.");
        _meter.CreateObservableGauge("offlinetasks.mysql.up", () => Signals(s => s.Up ? 1 : 0), description: "1 when the last probe read the master's status.");
        _meter.CreateObservableGauge("offlinetasks.mysql.connections.usage", () => Signals(s => s.ConnectionsRatio), "1", "Threads_connected / max_connections of a master.");
        _meter.CreateObservableGauge("offlinetasks.mysql.threads.running", () => Signals(s => s.ThreadsRunning), "{thread}", "Threads_running of a master (the probe's own statement excluded).");
        _meter.CreateObservableGauge("offlinetasks.mysql.replication.lag", () => Signals(s => s.LagSeconds), "s", "Replication lag of a master behind its peer.");
        _meter.CreateObservableGauge("offlinetasks.mysql.read_only", () => Signals(s => s.ReadOnly is { } r ? (r ? 1 : 0) : null), description: "1 when read_only is on.");
        _meter.CreateObservableGauge("offlinetasks.mysql.replication.running", ObserveReplication, description: "1 when the master's replication thread (io, sql) runs.");
        _meter.CreateObservableGauge("offlinetasks.alert.state", ObserveAlerts, description: "1 while the built-in alert fires, 0 otherwise.");
    }

    /// <summary>The shard states to export (this process's copy of the prober's); null without a gate.</summary>
    public Func<IEnumerable<ShardState>>? ShardSource { get; set; }

    /// <summary>The alert rules in force; null without alerts.</summary>
    public Func<IReadOnlyList<AlertRule>>? AlertRuleSource { get; set; }

    /// <summary>The leader's latest shared sample.</summary>
    public FleetSnapshot FleetSample
    {
        get => Volatile.Read(ref _fleet);
        set => Volatile.Write(ref _fleet, value);
    }

    /// <summary>A job's performance ended: <paramref name="outcome"/> is succeeded, failed or parked.</summary>
    public void JobPerformed(string outcome, TimeSpan duration, string? errorType)
    {
        Interlocked.Increment(ref _performed.GetOrAdd(outcome, static _ => new StrongBox<long>()).Value);
        if (_processDuration.Enabled)
        {
            var tags = new TagList { { "messaging.system", System }, { "messaging.operation.name", "process" }, { "outcome", outcome } };
            if (errorType is not null)
            {
                tags.Add("error.type", errorType);
            }

            _processDuration.Record(duration.TotalSeconds, tags);
        }
    }

    /// <summary>A job was parked; <paramref name="reason"/> is load, degraded, unknown, stale or not_configured; <paramref name="where"/> is creation, enqueue, processing or checkpoint.</summary>
    public void JobParked(string shard, string reason, string where)
    {
        if (_parked.Enabled)
        {
            _parked.Add(1, new TagList { { "shard", shard }, { "reason", reason }, { "where", where } });
        }
    }

    /// <summary>The releaser moved <paramref name="count"/> parked jobs of <paramref name="shard"/> back to their queues.</summary>
    public void JobsReleased(string shard, int count)
    {
        if (count > 0 && _released.Enabled)
        {
            _released.Add(count, new TagList { { "shard", shard } });
        }
    }

    /// <summary>A job of <paramref name="shard"/> was found parked past the parking deadline.</summary>
    public void ParkDeadlineExceeded(string shard)
    {
        if (_deadlineExceeded.Enabled)
        {
            _deadlineExceeded.Add(1, new TagList { { "shard", shard } });
        }
    }

    public void Probed(string shard, string master, TimeSpan duration, MySqlStatusFailure? failure)
    {
        if (_probeDuration.Enabled)
        {
            _probeDuration.Record(duration.TotalSeconds, new TagList { { "shard", shard }, { "master", master } });
        }

        if (failure is { } f && _probeErrors.Enabled)
        {
            _probeErrors.Add(1, new TagList { { "shard", shard }, { "master", master }, { "failure", FailureTag(f) } });
        }
    }

    public void Dispose() => _meter.Dispose();

    private static string FailureTag(MySqlStatusFailure failure) => failure switch
    {
        MySqlStatusFailure.Unreachable => "unreachable",
        MySqlStatusFailure.AccessDenied => "access_denied",
        MySqlStatusFailure.Timeout => "timeout",
        MySqlStatusFailure.Unreadable => "unreadable",
        _ => "other",
    };

    private IEnumerable<Measurement<long>> ObservePerformed()
    {
        foreach (var (outcome, count) in _performed)
        {
            yield return new Measurement<long>(Volatile.Read(ref count.Value), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    private IEnumerable<Measurement<double>> ObserveDepth()
    {
        foreach (var g in FleetSample.Gauges)
        {
            if (g.Metric == FleetGauge.QueueDepth)
            {
                yield return new Measurement<double>(g.Value, new KeyValuePair<string, object?>("queue", g.Subject), new KeyValuePair<string, object?>("state", g.State));
            }
        }
    }

    private IEnumerable<Measurement<double>> FleetByState(string metric)
    {
        foreach (var g in FleetSample.Gauges)
        {
            if (g.Metric == metric)
            {
                yield return new Measurement<double>(g.Value, new KeyValuePair<string, object?>("state", g.State));
            }
        }
    }

    private IEnumerable<Measurement<double>> Fleet(string metric, string tag)
    {
        foreach (var g in FleetSample.Gauges)
        {
            if (g.Metric == metric)
            {
                yield return new Measurement<double>(g.Value, new KeyValuePair<string, object?>(tag, g.Subject));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveShardStates()
    {
        foreach (var state in ShardSource?.Invoke() ?? [])
        {
            foreach (var (mode, name) in new[] { (ShardMode.Open, "open"), (ShardMode.Closed, "closed"), (ShardMode.LightOnly, "light_only") })
            {
                yield return new Measurement<int>(state.Mode == mode ? 1 : 0, new KeyValuePair<string, object?>("shard", state.Shard), new KeyValuePair<string, object?>("state", name));
            }
        }
    }

    private IEnumerable<Measurement<double>> Signals(Func<MasterSignals, double?> value)
    {
        foreach (var s in CurrentSignals())
        {
            if (value(s) is { } v)
            {
                yield return new Measurement<double>(v, new KeyValuePair<string, object?>("shard", s.Shard), new KeyValuePair<string, object?>("master", s.Master));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveReplication()
    {
        foreach (var s in CurrentSignals())
        {
            if (s.Up)
            {
                yield return new Measurement<int>(s.IoRunning ? 1 : 0, new("shard", s.Shard), new("master", s.Master), new("thread", "io"));
                yield return new Measurement<int>(s.SqlRunning ? 1 : 0, new("shard", s.Shard), new("master", s.Master), new("thread", "sql"));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveAlerts()
    {
        var states = FleetSample.Alerts;
        foreach (var rule in AlertRuleSource?.Invoke() ?? [])
        {
            var firing = states.TryGetValue(rule.Name, out var state) && state.IsFiring;
            var subject = rule.Kind == AlertKind.ShardParked ? "shard" : "queue";
            yield return new Measurement<int>(firing ? 1 : 0, new("alert", rule.Name), new("kind", rule.KindTag), new(subject, rule.Subject));
        }
    }

    private List<MasterSignals> CurrentSignals()
    {
        var all = new List<MasterSignals>();
        lock (_signals)
        {
            var seen = new HashSet<(string, DateTimeOffset)>();
            foreach (var state in ShardSource?.Invoke() ?? [])
            {
                var key = (state.Shard, state.UpdatedAt);
                seen.Add(key);
                if (!_signals.TryGetValue(key, out var parsed))
                {
                    parsed = MasterSignals.Parse(state.Shard, state.Signals);
                    _signals[key] = parsed;
                }

                all.AddRange(parsed);
            }

            foreach (var stale in _signals.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                _signals.Remove(stale);
            }
        }

        return all;
    }

    /// <summary>One master's latest signals, read back from the shard state's JSON.</summary>
    private sealed record MasterSignals(string Shard, string Master, bool Up, double? ConnectionsRatio, double? ThreadsRunning, double? LagSeconds, bool? ReadOnly,
        bool IoRunning, bool SqlRunning)
    {
        public static List<MasterSignals> Parse(string shard, string json)
        {
            var list = new List<MasterSignals>();
            using var doc = JsonDocument.Parse(json);
            foreach (var master in doc.RootElement.EnumerateObject())
            {
                var m = master.Value;
                double? Number(string name) => m.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : null;
                bool? Flag(string name) => m.TryGetProperty(name, out var p) && p.ValueKind is JsonValueKind.True or JsonValueKind.False ? p.GetBoolean() : null;
                list.Add(new MasterSignals(shard, master.Name, Flag("reachable") ?? false, Number("connections_ratio"), Number("threads_running"), Number("lag_seconds"),
                    Flag("read_only"), Flag("io_running") ?? false, Flag("sql_running") ?? false));
            }

            return list;
        }
    }
}
