using System.Collections.Concurrent;
using System.Globalization;
using Hangfire;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;
using OfflineTasks.Internal;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Moves the parked jobs of a reopened shard back to <see cref="EnqueuedState"/>, in their original queue and oldest
/// first, at the pace of the reopening ramp (<see cref="RampOptions"/>), and reports jobs parked past the deadline.
/// Every process runs one; only the holder of the fleet's <c>releaser</c> role (a lease in PostgreSQL) releases. Each
/// release is one Hangfire state change that expects the job to be Parked, under Hangfire's job lock, and leaves the
/// shard's parked set in the same transaction: the set is the source of truth, so a releaser that dies mid-release
/// loses nothing and a successor that carries on duplicates nothing. Releasing stops as soon as the shard closes again
/// (and a job released just as it closed is parked again by the election filter).
/// </summary>
internal sealed class ParkedJobReleaser : LeaderService
{
    internal const string Role = "releaser";

    /// <summary>How long one round releases before it renews the role and looks again (a round never outlasts the lease).</summary>
    private static readonly TimeSpan MaxRound = TimeSpan.FromSeconds(1);

    private const int MaxBatch = 500;
    private const int DeadlineScanBatch = 100;

    private readonly JobStorage _storage;
    private readonly IBackgroundJobStateChanger _stateChanger;
    private readonly ShardGate _gate;
    private readonly OfflineTasksStore _store;
    private readonly OfflineTasksMetrics _metrics;
    private readonly Dictionary<string, Reopening> _reopenings = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenClosed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private GateSettings _round;
    private bool _moreWork;
    private long _lastDeadlineScan;

    public ParkedJobReleaser(OfflineTasksStore store, JobStorage storage, IBackgroundJobStateChanger stateChanger, ShardGate gate, OfflineTasksMetrics metrics,
        TimeProvider time, ILogger<ParkedJobReleaser> logger)
        : base(store, Role, time, logger)
    {
        _store = store;
        _storage = storage;
        _stateChanger = stateChanger;
        _gate = gate;
        _metrics = metrics;
        _round = gate.Settings;
        _gate.Changed += Wake;
    }

    /// <summary>Raised after each round this process led, for tests and tools.</summary>
    public event Action? Released;

    protected override (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule()
    {
        _round = _gate.Settings;
        return (_moreWork ? TimeSpan.Zero : _round.ProbeInterval, _round.LeaderLease, _round.Shards.Count > 0);
    }

    protected override void RoundFailed(Exception e) =>
        Logger.LogWarning("Releasing parked jobs failed; the next round carries on from the parked sets: {Error}", e.Message);

    protected override Task OnStoppedAsync()
    {
        _gate.Changed -= Wake;
        return Task.CompletedTask;
    }

    protected override async Task<bool> LeadAsync(bool tookOver, CancellationToken stopping)
    {
        var settings = _round;
        if (tookOver)
        {
            _reopenings.Clear();
            _seenClosed.Clear();
            _reported.Clear();
        }

        var deadline = Time.GetTimestamp() + (long)(MaxRound.TotalSeconds * Time.TimestampFrequency);
        _moreWork = false;
        foreach (var shard in settings.Shards.Keys)
        {
            if (!_gate.Check(shard, light: true).IsOpen)
            {
                _reopenings.Remove(shard);
                _seenClosed.Add(shard);
                continue;
            }

            var reopening = await ReopeningAsync(shard, stopping).ConfigureAwait(false);
            _moreWork |= await ReleaseAsync(shard, reopening, settings.Ramp, deadline, stopping).ConfigureAwait(false);
        }

        if (Time.GetElapsedTime(_lastDeadlineScan) >= settings.ProbeInterval * 5)
        {
            _lastDeadlineScan = Time.GetTimestamp();
            ReportDeadlines(settings);
        }

        Released?.Invoke();
        return true;
    }

    /// <summary>Since when the shard has been open, how many jobs were released since, and the reason the releases carry.</summary>
    private async Task<Reopening> ReopeningAsync(string shard, CancellationToken stopping)
    {
        var since = _gate.ChangedAt(shard) ?? DateTimeOffset.MinValue;
        if (_reopenings.TryGetValue(shard, out var known) && known.Since == since)
        {
            return known;
        }

        var events = await _store.GetShardEventsAsync(shard, 2, stopping).ConfigureAwait(false);
        var what = _gate.Check(shard).IsOpen ? "reopened" : "is open for light jobs";
        var reason = events.Count == 2 && events[1].To != ShardMode.Open
            ? string.Create(CultureInfo.InvariantCulture, $"shard {shard} {what} after {(events[0].At - events[1].At).TotalSeconds:0} s")
            : $"shard {shard} {what}";

        // A shard this leader saw closed starts its ramp afresh. Otherwise (the leader just took over, or the process
        // just started) it does not know how much was released before: it counts the ramp's allowance so far as used
        // and carries on at the current rate.
        var used = _seenClosed.Remove(shard) ? 0 : _round.Ramp.AllowedBy(Time.GetUtcNow() - since) ?? 0;
        var reopening = new Reopening(since, used, reason);
        _reopenings[shard] = reopening;
        return reopening;
    }

    /// <summary>Releases what the ramp allows now; true when jobs are left that the ramp or the round's time held back.</summary>
    private async Task<bool> ReleaseAsync(string shard, Reopening reopening, RampSettings ramp, long deadline, CancellationToken stopping)
    {
        var keys = _gate.Check(shard).IsOpen ? new[] { ParkedState.SetKey(shard, false), ParkedState.SetKey(shard, true) } : [ParkedState.SetKey(shard, true)];
        var more = false;
        foreach (var key in keys)
        {
            while (!stopping.IsCancellationRequested)
            {
                var allowed = ramp.AllowedBy(Time.GetUtcNow() - reopening.Since);
                var budget = allowed is { } a ? (int)Math.Min(MaxBatch, Math.Floor(a - reopening.Released)) : MaxBatch;
                if (budget <= 0)
                {
                    more = true; // the ramp holds the rest back for now
                    break;
                }

                var members = Oldest(key, budget);
                if (members.Count == 0)
                {
                    break;
                }

                var (released, stopped) = await ReleaseBatchAsync(shard, key, members, reopening.Reason, stopping).ConfigureAwait(false);
                reopening.Released += released;
                _metrics.JobsReleased(shard, released);
                if (stopped)
                {
                    return false; // the shard closed again: nothing more until it reopens
                }

                if (Time.GetTimestamp() >= deadline)
                {
                    return true;
                }
            }
        }

        return more;
    }

    private List<string> Oldest(string key, int count)
    {
        using var connection = _storage.GetConnection();
        var members = connection is JobStorageConnection batched
            ? batched.GetFirstByLowestScoreFromSet(key, 0, double.MaxValue, count)
            : [connection.GetFirstByLowestScoreFromSet(key, 0, double.MaxValue)];
        members.RemoveAll(m => m is null);
        return members;
    }

    /// <summary>Moves <paramref name="members"/> back to their queues, <see cref="RampSettings.Parallelism"/> at a time; stops when the shard closes.</summary>
    private async Task<(int Released, bool Stopped)> ReleaseBatchAsync(string shard, string key, List<string> members, string reason, CancellationToken stopping)
    {
        var light = key == ParkedState.SetKey(shard, true);
        var work = new ConcurrentQueue<string>(members);
        var released = 0;
        var stopped = 0;
        var workers = Math.Min(_round.Ramp.Parallelism, members.Count);
        var tasks = new Task[workers];
        for (var i = 0; i < workers; i++)
        {
            // Hangfire's storage API blocks: each worker holds a thread and a connection of its own for the batch.
            tasks[i] = Task.Factory.StartNew(() =>
            {
                using var connection = _storage.GetConnection();
                while (!stopping.IsCancellationRequested && Volatile.Read(ref stopped) == 0 && work.TryDequeue(out var member))
                {
                    if (!_gate.Check(shard, light).IsOpen)
                    {
                        Volatile.Write(ref stopped, 1);
                        return;
                    }

                    var (jobId, queue) = ParkedState.ParseSetValue(member);
                    var applied = _stateChanger.ChangeState(new StateChangeContext(_storage, connection, jobId,
                        new EnqueuedState(queue) { Reason = reason }, ParkedState.StateName));
                    switch (applied)
                    {
                        case EnqueuedState:
                            Interlocked.Increment(ref released);
                            break;
                        case ParkedState:
                            Volatile.Write(ref stopped, 1); // parked again: the shard closed as it was released
                            break;
                        case null:
                            RemoveStale(connection, key, member, jobId);
                            break;
                        default:
                            break; // e.g. Failed because its type is gone: Hangfire's own outcome, and out of the set
                    }
                }
            }, stopping, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        return (released, stopped == 1);
    }

    /// <summary>A member whose job is not Parked (deleted meanwhile, or a set left inconsistent by hand) leaves the set.</summary>
    private void RemoveStale(IStorageConnection connection, string key, string member, string jobId)
    {
        var state = connection.GetStateData(jobId);
        if (ParkedState.Membership(jobId, state) is { } current && current.Key == key && current.Value == member)
        {
            return; // still parked here: the state change lost a race and the next round tries again
        }

        using var transaction = connection.CreateWriteTransaction();
        transaction.RemoveFromSet(key, member);
        transaction.Commit();
        Logger.LogWarning("Removed job {JobId} from {Key}: it is {State}, not parked", jobId, key, state?.Name ?? "gone");
    }

    /// <summary>Notes in the history of each job parked past the deadline (once per job) that it is, logs an error and counts it.</summary>
    private void ReportDeadlines(GateSettings settings)
    {
        var cutoff = ParkedState.Score((Time.GetUtcNow() - settings.ParkingDeadline).UtcDateTime);
        using var connection = _storage.GetConnection();
        if (connection is not JobStorageConnection c)
        {
            return;
        }

        foreach (var shard in settings.Shards.Keys)
        {
            foreach (var light in new[] { false, true })
            {
                var key = ParkedState.SetKey(shard, light);
                foreach (var member in c.GetFirstByLowestScoreFromSet(key, 0, cutoff, DeadlineScanBatch))
                {
                    if (member is null || !_reported.Add(member))
                    {
                        continue;
                    }

                    var (jobId, _) = ParkedState.ParseSetValue(member);
                    var data = connection.GetStateData(jobId);
                    if (ParkedState.Membership(jobId, data) is null || data!.Data.ContainsKey("DeadlinePassed"))
                    {
                        continue;
                    }

                    var d = data.Data;
                    var first = global::Hangfire.Common.JobHelper.DeserializeDateTime(d["FirstParkedAt"]);
                    var count = int.Parse(d.TryGetValue("ParkCount", out var n) ? n : "1", CultureInfo.InvariantCulture);
                    var parkedFor = Time.GetUtcNow().UtcDateTime - first;
                    var text = string.Create(CultureInfo.InvariantCulture,
                        $"DEADLINE PASSED: parked for {parkedFor.TotalMinutes:0.#} min, over the deadline of {settings.ParkingDeadline.TotalMinutes:0.#} min; it stays parked until shard {shard} reopens. {data.Reason}");
                    var parked = new ParkedState(shard, light, d.TryGetValue("Queue", out var q) ? q : "default", text,
                        d.TryGetValue("ReasonKind", out var k) ? k : "unknown", count, first, Time.GetUtcNow().UtcDateTime, deadlinePassed: true);
                    if (_stateChanger.ChangeState(new StateChangeContext(_storage, connection, jobId, parked, ParkedState.StateName)) is ParkedState)
                    {
                        Logger.LogError("Job {JobId} of shard {Shard} has been parked for {ParkedFor}, past the deadline of {Deadline}; it stays parked",
                            jobId, shard, parkedFor, settings.ParkingDeadline);
                        _metrics.ParkDeadlineExceeded(shard);
                    }
                }
            }
        }
    }

    /// <summary>A shard's current opening, as this leader releases it.</summary>
    private sealed class Reopening(DateTimeOffset since, double released, string reason)
    {
        public DateTimeOffset Since { get; } = since;

        public double Released { get; set; } = released;

        public string Reason { get; } = reason;
    }
}
