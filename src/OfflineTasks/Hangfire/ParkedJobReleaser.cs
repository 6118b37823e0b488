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

    /// <summary>How long one release may wait (for its job's lock) before it stops holding up the others.</summary>
    private static readonly TimeSpan StuckAfter = TimeSpan.FromSeconds(5);
    private const int DeadlineScanBatch = 100;

    private readonly JobStorage _storage;
    private readonly IBackgroundJobStateChanger _stateChanger;
    private readonly ShardGate _gate;
    private readonly OfflineTasksStore _store;
    private readonly OfflineTasksMetrics _metrics;
    private readonly Dictionary<string, Reopening> _reopenings = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenClosed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private GateSettings _round;
    private TimeSpan? _next;
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
            if (await ReleaseAsync(shard, reopening, settings.Ramp, deadline, stopping).ConfigureAwait(false) is { } next && (_next is null || next < _next))
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
    private async Task<TimeSpan?> ReleaseAsync(string shard, Reopening reopening, RampSettings ramp, long deadline, CancellationToken stopping)
    {
        var keys = _gate.Check(shard).IsOpen ? new[] { ParkedState.SetKey(shard, false), ParkedState.SetKey(shard, true) } : [ParkedState.SetKey(shard, true)];
        TimeSpan? next = null;
        foreach (var key in keys)
        {
            while (!stopping.IsCancellationRequested)
            {
                var sinceOpen = Time.GetUtcNow() - reopening.Since;
                var allowed = ramp.AllowedBy(sinceOpen);
                var budget = allowed is { } a ? (int)Math.Min(MaxBatch, Math.Floor(a - reopening.Released)) : MaxBatch;

                // Jobs still being released (their state change waits for a lock) are not taken again.
                var members = Oldest(key, Math.Max(budget, 1) + _inFlight.Count).Where(m => !_inFlight.ContainsKey(m)).ToList();
                if (members.Count == 0)
                {
                    break;
                }

                if (budget <= 0)
                {
                    // The ramp holds the rest back: look again when it allows the next job.
                    var wait = ramp.UntilAllowed(sinceOpen, reopening.Released + 1);
                    next = next is { } n && n < wait ? n : wait;
                    break;
                }

                if (await ReleaseBatchAsync(shard, key, members.Take(budget).ToList(), reopening, deadline, stopping).ConfigureAwait(false))
                {
                    return null; // the shard closed again: nothing more until it reopens
                }

                if (Time.GetTimestamp() >= deadline)
                {
                    return TimeSpan.Zero;
                }
            }
        }

        return next;
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
    /// Moves <paramref name="members"/> back to their queues, <see cref="RampSettings.Parallelism"/> at a time, until the
    /// round's <paramref name="deadline"/> (the rest wait for the next round: a round must end well within the
    /// leader's lease, or another process takes the role over and releases the same jobs at the same time); returns
    /// true when the shard closed meanwhile. Each release is a blocking Hangfire state change on a thread and a
    /// connection of its own. One that waits for its job's lock (left behind by a releaser killed mid-change, until
    /// Hangfire.PostgreSql's <c>DistributedLockTimeout</c> expires it) gives its place up after
    /// <see cref="StuckAfter"/> and finishes in the background, so it neither stalls the release nor a shutdown.
    /// </summary>
    private async Task<bool> ReleaseBatchAsync(string shard, string key, List<string> members, Reopening reopening, long deadline, CancellationToken stopping)
    {
        var light = key == ParkedState.SetKey(shard, true);
        var stopped = 0;
        var places = new List<Task>(members.Count);
        var permits = new SemaphoreSlim(_round.Ramp.Parallelism);
        try
        {
            foreach (var member in members)
            {
                await permits.WaitAsync(stopping).ConfigureAwait(false);
                if (Time.GetTimestamp() >= deadline)
                {
                    permits.Release();
                    break;
                }

                if (Volatile.Read(ref stopped) == 1 || !_gate.Check(shard, light).IsOpen)
                {
                    Volatile.Write(ref stopped, 1);
                    permits.Release();
                    break;
                }

                var release = Task.Factory.StartNew(() =>
                {
                    switch (ReleaseOne(key, member, reopening.Reason))
                    {
                        case EnqueuedState:
                            reopening.Count(1);
                            _metrics.JobsReleased(shard, 1);
                            break;
                        case ParkedState:
                            Volatile.Write(ref stopped, 1); // parked again: the shard closed as it was released
                            break;
                    }
                }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                _inFlight[member] = release;
                _ = release.ContinueWith(_ => _inFlight.TryRemove(member, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                places.Add(GiveUpPlaceAsync(release, permits));
            }
        }
        finally
        {
            // Every place is given up within StuckAfter, so this ends soon even when the round is being cancelled.
            await Task.WhenAll(places).ConfigureAwait(false);
            permits.Dispose();
        }

        return stopped == 1;
    }

    /// <summary>Frees the release's place when it ends, or once it has waited <see cref="StuckAfter"/>.</summary>
    private async Task GiveUpPlaceAsync(Task release, SemaphoreSlim permits)
    {
        try
        {
            await release.WaitAsync(StuckAfter, Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Logger.LogWarning("A release waits for its job's state lock (a releaser killed mid-change leaves it until DistributedLockTimeout); carrying on with the others");
        }
        catch (Exception e)
        {
            Logger.LogWarning("Releasing a parked job failed; it stays parked and the next round tries again: {Error}", e.Message);
        }
        finally
        {
            permits.Release();
        }
    }

    /// <summary>One release: the state change from Parked to Enqueued, under the job's lock. Returns the state applied, if any.</summary>
    private IState? ReleaseOne(string key, string member, string reason)
    {
        var (jobId, queue) = ParkedState.ParseSetValue(member);
        using var connection = _storage.GetConnection();
        var applied = _stateChanger.ChangeState(new StateChangeContext(_storage, connection, jobId, new EnqueuedState(queue) { Reason = reason }, ParkedState.StateName));
        if (applied is null)
        {
            RemoveStale(connection, key, member, jobId);
        }

        // Anything else (e.g. Failed because the job's type is gone) is Hangfire's own outcome, and out of the set.
        return applied;
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
                    }
                }
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
    }
}
