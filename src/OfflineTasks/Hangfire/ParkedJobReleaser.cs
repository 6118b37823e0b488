using System.Collections.Concurrent;
using System.Globalization;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using Microsoft.Extensions.Logging;
using OfflineTasks.Alerts;
using OfflineTasks.Gate;
using OfflineTasks.Internal;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Moves the parked jobs of a reopened shard back to <see cref="EnqueuedState"/>, in their original queue and oldest
/// first, at the pace of the reopening ramp (<see cref="RampOptions"/>), and reports jobs parked past the deadline.
/// Every process runs one; only the holder of the fleet's <c>releaser</c> role (a lease in PostgreSQL) releases. It
/// releases in batches: up to 400 jobs move from Parked to Enqueued on a few write transactions of many jobs each,
/// through Hangfire's state machine (elections, filters and state handlers run as in any state change), under a lock
/// on the shard's parked sets rather than one lock and three commits per job, so releasing outruns the workers that
/// run the jobs. A job leaves the parked set in the transaction that enqueues it: the set is the source of truth, so a
/// releaser that dies mid-release loses nothing and a successor that carries on duplicates nothing. Other changes of
/// a parked job (an operator's requeue or delete) are kept apart from the batches by <see cref="ParkedChangeFilter"/>.
/// Releasing stops as soon as the shard closes again: a batch built as it closed is not committed.
/// </summary>
internal sealed class ParkedJobReleaser : LeaderService
{
    internal const string Role = "releaser";

    /// <summary>How long one round releases before it renews the role and looks again (a round never outlasts the lease).</summary>
    private static readonly TimeSpan MaxRound = TimeSpan.FromSeconds(1);

    /// <summary>The most jobs one batch releases.</summary>
    private const int MaxBatch = 400;

    /// <summary>How many write transactions a batch runs at once (each on a connection of its own).</summary>
    private const int Transactions = 16;

    /// <summary>The fewest jobs a batch puts in one transaction (a small batch runs fewer transactions).</summary>
    private const int MinPerTransaction = 10;

    /// <summary>How long a batch waits for the shard's parked sets while another process changes them.</summary>
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a job marked as changing by another state change is left alone (a change that died leaves its mark).</summary>
    private static readonly TimeSpan ChangingFor = TimeSpan.FromSeconds(30);

    /// <summary>The least a round waits for the ramp to allow more: a few jobs per batch rather than a batch per job.</summary>
    private static readonly TimeSpan MinRampWait = TimeSpan.FromMilliseconds(50);

    private const int DeadlineScanBatch = 100;

    private readonly JobStorage _storage;
    private readonly BackgroundJobStateChanger _stateChanger;
    private readonly StateMachine _stateMachine;
    private readonly ShardGate _gate;
    private readonly OfflineTasksStore _store;
    private readonly OfflineTasksMetrics _metrics;
    private readonly OperationsNotifier? _notifier;
    private readonly Dictionary<string, Reopening> _reopenings = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenClosed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private GateSettings _round;
    private TimeSpan? _next;
    private long _lastDeadlineScan;

    public ParkedJobReleaser(OfflineTasksStore store, JobStorage storage, IJobFilterProvider filters, ShardGate gate, OfflineTasksMetrics metrics,
        TimeProvider time, ILogger<ParkedJobReleaser> logger, OperationsNotifier? notifier = null)
        : base(store, Role, time, logger)
    {
        _notifier = notifier;
        _store = store;
        _storage = storage;
        _stateChanger = new BackgroundJobStateChanger(filters);
        _stateMachine = new StateMachine(filters);
        _gate = gate;
        _metrics = metrics;
        _round = gate.Settings;
        _gate.Changed += Wake;
    }

    protected override (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule()
    {
        _round = _gate.Settings;
        return (_next is { } next && next < _round.ProbeInterval ? next : _round.ProbeInterval, _round.LeaderLease, _round.Shards.Count > 0);
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
        _next = null;
        foreach (var shard in settings.Shards.Keys)
        {
            if (!_gate.Check(shard, light: true).IsOpen)
            {
                _reopenings.Remove(shard);
                _seenClosed.Add(shard);
                continue;
            }

            var reopening = await ReopeningAsync(shard, stopping).ConfigureAwait(false);
            if (Release(shard, reopening, settings.Ramp, deadline, stopping) is { } next && (_next is null || next < _next))
            {
                _next = next;
            }
        }

        if (Time.GetElapsedTime(_lastDeadlineScan) >= settings.ProbeInterval * 5)
        {
            _lastDeadlineScan = Time.GetTimestamp();
            ReportDeadlines(settings);
        }

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

    /// <summary>
    /// Releases what the ramp allows now. Returns when to look again, if sooner than the probe interval: at once when
    /// the round's time ran out with jobs left, or when the ramp will allow the next job.
    /// </summary>
    private TimeSpan? Release(string shard, Reopening reopening, RampSettings ramp, long deadline, CancellationToken stopping)
    {
        var keys = _gate.Check(shard).IsOpen ? new[] { ParkedState.SetKey(shard, false), ParkedState.SetKey(shard, true) } : [ParkedState.SetKey(shard, true)];
        TimeSpan? next = null;
        var drained = true;
        foreach (var key in keys)
        {
            while (!stopping.IsCancellationRequested)
            {
                var sinceOpen = Time.GetUtcNow() - reopening.Since;
                var allowed = ramp.AllowedBy(sinceOpen);
                var budget = allowed is { } a ? (int)Math.Min(MaxBatch, Math.Floor(a - reopening.Released)) : MaxBatch;
                if (budget <= 0)
                {
                    if (Oldest(key, 1).Count > 0)
                    {
                        drained = false;
                        // The ramp holds the rest back: look again when it allows the next job.
                        var wait = ramp.UntilAllowed(sinceOpen, reopening.Released + 1);
                        wait = wait < MinRampWait ? MinRampWait : wait;
                        next = next is { } n && n < wait ? n : wait;
                    }

                    break;
                }

                var batch = ReleaseBatch(shard, key, budget, reopening);
                if (batch.Closed)
                {
                    Report(shard, reopening, closedAgain: true);
                    return null; // the shard closed again: nothing more until it reopens
                }

                if (batch.Taken == 0)
                {
                    break;
                }

                if (Time.GetTimestamp() >= deadline)
                {
                    return TimeSpan.Zero;
                }
            }
        }

        if (drained)
        {
            Report(shard, reopening, closedAgain: false);
        }

        return next;
    }

    /// <summary>
    /// Posts to the operations stream how many jobs this opening released since it last reported: once the shard's
    /// releasable parked jobs are all back in their queues, or when it closes again before that.
    /// </summary>
    private void Report(string shard, Reopening reopening, bool closedAgain)
    {
        var released = reopening.TakeUnreported();
        if (released == 0)
        {
            return;
        }

        var now = Time.GetUtcNow();
        var text = closedAgain
            ? string.Create(CultureInfo.InvariantCulture, $"Released {released} parked jobs of shard {shard} before it closed again ({reopening.Reason})")
            : string.Create(CultureInfo.InvariantCulture, $"Released {released} parked jobs of shard {shard} to their queues, {(now - reopening.Since).TotalSeconds:0.#} s after it opened ({reopening.Reason})");
        Logger.LogInformation("{Release}", text);
        _notifier?.Post(new Notice("release", text, now, new Dictionary<string, object?>
        {
            ["shard"] = shard,
            ["released"] = released,
            ["opened_at"] = reopening.Since,
            ["closed_again"] = closedAgain,
        }));
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

    /// <summary>
    /// Moves up to <paramref name="count"/> of the oldest jobs of the parked set <paramref name="key"/> back to their
    /// queues under the lock on the shard's parked sets (<see cref="ShardReleaseLock"/>): no other releaser releases
    /// the same jobs meanwhile, and another change of a parked job (an operator's requeue or delete) either marked its
    /// job before the batch looked (and the batch leaves it alone) or waits for the batch and finds its job released
    /// (<see cref="ParkedChangeFilter"/>). The jobs are split into up to <see cref="Transactions"/> write transactions
    /// that run at once, each on a connection of its own. Each job goes through Hangfire's state machine, elections
    /// and state handlers included, as in a state change, but without a lock and commits of its own. A transaction
    /// commits only if the shard is still open by then; a job whose type can no longer be loaded is left to Hangfire's
    /// own state change afterwards (it fails, saying why).
    /// </summary>
    private (int Taken, bool Closed) ReleaseBatch(string shard, string key, int count, Reopening reopening)
    {
        var light = key == ParkedState.SetKey(shard, true);
        var unloadable = new ConcurrentBag<(string JobId, string Queue)>();
        var released = 0;
        var closed = 0;
        List<string> taken;
        using (var guard = _store.LockParked(shard, LockTimeout))
        {
            if (!_gate.Check(shard, light).IsOpen)
            {
                return (0, true);
            }

            using (var connection = (JobStorageConnection)_storage.GetConnection())
            {
                var members = connection.GetFirstByLowestScoreFromSet(key, 0, double.MaxValue, count);
                if (members.Count == 0)
                {
                    return (0, false);
                }

                var changing = LeaveChanging(connection, shard);
                taken = members.Where(m => !changing.Contains(ParkedState.ParseSetValue(m).JobId)).ToList();
            }

            var size = Math.Max(MinPerTransaction, (taken.Count + Transactions - 1) / Transactions);
            Parallel.ForEach(taken.Chunk(size), new ParallelOptions { MaxDegreeOfParallelism = Transactions }, chunk =>
            {
                using var onThisThread = guard.WorkOnThisThread();
                if (Volatile.Read(ref closed) == 0 && ReleaseChunk(shard, key, light, chunk, reopening.Reason, unloadable) is { } n)
                {
                    Interlocked.Add(ref released, n);
                }
                else
                {
                    Volatile.Write(ref closed, 1);
                }
            });
        }

        reopening.Count(released);
        _metrics.JobsReleased(shard, released);
        foreach (var (jobId, queue) in unloadable)
        {
            using var connection = _storage.GetConnection();
            _stateChanger.ChangeState(new StateChangeContext(_storage, connection, jobId, new EnqueuedState(queue) { Reason = reopening.Reason }, ParkedState.StateName));
        }

        return (taken.Count, closed == 1);
    }

    /// <summary>
    /// The jobs of <paramref name="shard"/> that another state change marked as changing: the batch leaves them alone.
    /// Marks older than <see cref="ChangingFor"/> were left by a change that never committed, and go.
    /// </summary>
    private HashSet<string> LeaveChanging(JobStorageConnection connection, string shard)
    {
        var changingKey = ParkedState.ChangingKey(shard);
        var all = connection.GetAllItemsFromSet(changingKey);
        if (all.Count == 0)
        {
            return all;
        }

        var fresh = connection.GetFirstByLowestScoreFromSet(changingKey, ParkedState.Score((Time.GetUtcNow() - ChangingFor).UtcDateTime), double.MaxValue, all.Count)
            .ToHashSet(StringComparer.Ordinal);
        if (all.Count > fresh.Count)
        {
            using var transaction = connection.CreateWriteTransaction();
            foreach (var stale in all.Where(c => !fresh.Contains(c)))
            {
                transaction.RemoveFromSet(changingKey, stale);
            }

            transaction.Commit();
        }

        return fresh;
    }

    /// <summary>
    /// Releases <paramref name="members"/> in one write transaction; returns how many went to Enqueued, or null (and
    /// commits nothing) when the shard closed meanwhile.
    /// </summary>
    private int? ReleaseChunk(string shard, string key, bool light, string[] members, string reason, ConcurrentBag<(string JobId, string Queue)> unloadable)
    {
        using var connection = _storage.GetConnection();
        using var transaction = connection.CreateWriteTransaction();
        var released = 0;
        foreach (var member in members)
        {
            var (jobId, queue) = ParkedState.ParseSetValue(member);
            var job = connection.GetJobData(jobId);
            if (job is null || !string.Equals(job.State, ParkedState.StateName, StringComparison.OrdinalIgnoreCase))
            {
                transaction.RemoveFromSet(key, member);
                Logger.LogWarning("Removed job {JobId} from {Key}: it is {State}, not parked", jobId, key, job?.State ?? "gone");
                continue;
            }

            if (job.LoadException is not null)
            {
                unloadable.Add((jobId, queue));
                continue;
            }

            transaction.RemoveFromSet(key, member); // the Parked handler leaves that to the batch
            var context = new ApplyStateContext(_storage, connection, transaction, new BackgroundJob(jobId, job.Job, job.CreatedAt, job.ParametersSnapshot),
                new EnqueuedState(queue) { Reason = reason }, ParkedState.StateName);
            if (_stateMachine.ApplyState(context) is not EnqueuedState)
            {
                return null; // parked again by its election: the shard closed
            }

            released++;
        }

        if (!_gate.Check(shard, light).IsOpen)
        {
            return null;
        }

        transaction.Commit();
        return released;
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
            var breached = 0;
            foreach (var key in new[] { ParkedState.SetKey(shard, false), ParkedState.SetKey(shard, true) })
            {
                foreach (var member in c.GetFirstByLowestScoreFromSet(key, 0, cutoff, DeadlineScanBatch))
                {
                    if (member is null || !_reported.Add(member))
                    {
                        continue;
                    }

                    var (jobId, _) = ParkedState.ParseSetValue(member);
                    if (ParkedState.FromStateData(connection.GetStateData(jobId)) is not { DeadlinePassed: false } current)
                    {
                        continue;
                    }

                    var now = Time.GetUtcNow().UtcDateTime;
                    var parkedFor = now - current.FirstParkedAt;
                    var parked = current.PastDeadline(string.Create(CultureInfo.InvariantCulture,
                        $"DEADLINE PASSED: parked for {parkedFor.TotalMinutes:0.#} min, over the deadline of {settings.ParkingDeadline.TotalMinutes:0.#} min; it stays parked until shard {shard} reopens. {current.Reason}"),
                        now);
                    if (_stateChanger.ChangeState(new StateChangeContext(_storage, connection, jobId, parked, ParkedState.StateName)) is ParkedState)
                    {
                        Logger.LogError("Job {JobId} of shard {Shard} has been parked for {ParkedFor}, past the deadline of {Deadline}; it stays parked",
                            jobId, shard, parkedFor, settings.ParkingDeadline);
                        _metrics.ParkDeadlineExceeded(shard);
                        breached++;
                    }
                }
            }

            if (breached > 0)
            {
                _notifier?.Post(new Notice("deadline", string.Create(CultureInfo.InvariantCulture,
                    $"{breached} more jobs of shard {shard} have been parked past the deadline of {settings.ParkingDeadline.TotalMinutes:0.#} min; they stay parked until it reopens"),
                    Time.GetUtcNow(), new Dictionary<string, object?>
                    {
                        ["shard"] = shard,
                        ["jobs"] = breached,
                        ["deadline_minutes"] = settings.ParkingDeadline.TotalMinutes,
                    }));
            }
        }
    }

    /// <summary>A shard's current opening, as this leader releases it.</summary>
    private sealed class Reopening(DateTimeOffset since, double released, string reason)
    {
        private long _count;

        public DateTimeOffset Since { get; } = since;

        /// <summary>Jobs released since the shard opened (or counted as released when this leader took over).</summary>
        public double Released => released + Interlocked.Read(ref _count);

        public string Reason { get; } = reason;

        public void Count(int jobs) => Interlocked.Add(ref _count, jobs);

        private long _reported;

        /// <summary>Jobs this leader released since the last report, counted as reported now.</summary>
        public long TakeUnreported()
        {
            var count = Interlocked.Read(ref _count);
            var unreported = count - _reported;
            _reported = count;
            return unreported;
        }
    }
}
