using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Internal;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;
using Polly;

namespace OfflineTasks.Server;

/// <summary>
/// The worker server of one process: one fetch loop that claims up to the number of free slots in one
/// statement, runs each job in its own DI scope, writes outcomes back in batches, keeps every job's lease
/// alive with one heartbeat per interval, and runs the scheduler, rescuer and pruner. Register it with
/// <c>AddOfflineTasksServer()</c>; it starts and stops with the host.
/// </summary>
public sealed class JobServer : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan ClaimLinger = TimeSpan.FromMilliseconds(1);
    private readonly PostgresJobStorage _storage;
    private readonly IServiceProvider _services;
    private readonly JobServerOptions _options;
    private readonly PostgresStorageOptions _storageOptions;
    private readonly TimeProvider _time;
    private readonly ILogger<JobServer> _logger;
    private readonly IJobGate? _gate;
    private readonly IClaimFilterProvider? _claimFilter;
    private readonly OfflineTasksMetrics? _metrics;
    private readonly Dictionary<string, int> _runningByShard = new(StringComparer.Ordinal);
    private int _resetCursors;
    private readonly JobInvoker _invoker = new();
    private readonly Random _random = new();
    private readonly IReadOnlyList<string> _queues;
    private readonly AsyncSignal _wake;
    private readonly ConcurrentDictionary<long, Task> _running = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CompletionBatcher _completions;
    private readonly CancellationTokenSource _completionAbort = new();
    private CancellationTokenSource _jobsAbort = new();
    private Npgsql.NpgsqlConnection? _fetchConnection;
    private readonly Dictionary<string, ClaimCursor> _cursors = new(StringComparer.Ordinal);
    private DateTimeOffset _cursorsResetAt;
    private bool _rescanFromHead;
    private int _notified = 1;
    private Task _loops = Task.CompletedTask;
    private Task _completionLoop = Task.CompletedTask;
    private bool _started;

    /// <summary>Creates the server; it does nothing until <see cref="StartAsync"/>.</summary>
    public JobServer(
        PostgresJobStorage storage,
        IServiceProvider services,
        IOptions<JobServerOptions> options,
        IOptions<PostgresStorageOptions> storageOptions,
        ILogger<JobServer> logger,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storageOptions);
        _storage = storage;
        _services = services;
        _options = options.Value;
        _storageOptions = storageOptions.Value;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _gate = services.GetService<IJobGate>();
        _claimFilter = services.GetService<IClaimFilterProvider>();
        _metrics = services.GetService<OfflineTasksMetrics>();
        if (_claimFilter is not null)
        {
            _claimFilter.Changed += OnShardsChanged;
        }
        _queues = _options.EffectiveQueues;
        _wake = new AsyncSignal(_time);
        ServerId = Guid.NewGuid();
        Name = _options.Name ?? $"{Environment.MachineName}:{Environment.ProcessId}";
        _completions = new CompletionBatcher(_storage, ServerId, ServerResilience.RetryForever("Writing job outcomes", _time, _logger), _time, _logger);
    }

    /// <summary>This server's id in the server table and in job rows it holds.</summary>
    public Guid ServerId { get; }

    /// <summary>This server's name, as shown in job histories.</summary>
    public string Name { get; }

    /// <summary>Jobs running right now.</summary>
    public int RunningCount => _running.Count;

    /// <summary>Migrates (if configured), registers the server and starts its loops. Returns once it is claiming.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_storageOptions.MigrateOnStart)
        {
            await new Migrator(_storage.DataSource, _storage.Schema, _services.GetService<ILogger<Migrator>>())
                .MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        await _storage.RegisterServerAsync(ServerId, Name, _queues, _options.WorkerCount, _options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        _started = true;
        var stopping = _stopping.Token;
        var listener = new NotificationListener(_storage, _storage.NotificationChannel, ServerResilience.RetryForever("Listening for new jobs", _time, _logger), OnNotification, _logger);
        _completionLoop = _completions.RunAsync(_completionAbort.Token);
        _loops = Task.WhenAll(
            Task.Run(() => FetchLoopAsync(stopping), CancellationToken.None),
            Task.Run(() => listener.RunAsync(stopping), CancellationToken.None),
            Task.Run(() => HeartbeatLoopAsync(stopping), CancellationToken.None),
            Task.Run(() => MaintenanceLoopAsync(stopping), CancellationToken.None));
        _logger.LogInformation("Worker server {Name} started: {Slots} slots, queues [{Queues}], schema {Schema}",
            Name, _options.WorkerCount, string.Join(", ", _queues), _storage.Schema);
    }

    /// <summary>
    /// Stops claiming, lets running jobs finish within <see cref="JobServerOptions.ShutdownTimeout"/>, then cancels the
    /// rest through their CancellationToken (they are handed back without using an attempt), writes every outcome
    /// and unregisters.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            return;
        }

        _started = false;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await IgnoreCancellation(_loops).ConfigureAwait(false);

        var running = _running.Values.ToArray();
        if (running.Length > 0)
        {
            _logger.LogInformation("Waiting up to {Grace} for {Count} running jobs", _options.ShutdownTimeout, running.Length);
            var all = Task.WhenAll(running);
            if (!await Completes(all, _options.ShutdownTimeout).ConfigureAwait(false))
            {
                _logger.LogWarning("{Count} jobs still running after the grace period: cancelling them", _running.Count);
                await _jobsAbort.CancelAsync().ConfigureAwait(false);
                await Completes(all, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
        }

        _completions.Complete();
        if (!await Completes(_completionLoop, TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            await _completionAbort.CancelAsync().ConfigureAwait(false);
            await IgnoreCancellation(_completionLoop).ConfigureAwait(false);
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            await _storage.UnregisterServerAsync(ServerId, Name, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning("Could not unregister worker server {Name}; its lease will expire instead: {Error}", Name, e.Message);
        }

        _logger.LogInformation("Worker server {Name} stopped", Name);
    }

    /// <summary>Stops the server if it is running and releases its resources.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_claimFilter is not null)
        {
            _claimFilter.Changed -= OnShardsChanged;
        }

        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _completionAbort.Dispose();
        _jobsAbort.Dispose();
    }

    private void OnShardsChanged()
    {
        // A shard reopened (or its ramp grew): its jobs may be behind the claim cursors.
        Volatile.Write(ref _resetCursors, 1);
        OnNotification();
    }

    private void OnNotification()
    {
        Volatile.Write(ref _notified, 1);
        _wake.Set();
    }

    private async Task FetchLoopAsync(CancellationToken stopping)
    {
        try
        {
            await FetchAsync(stopping).ConfigureAwait(false);
        }
        finally
        {
            if (_fetchConnection is not null)
            {
                await _fetchConnection.DisposeAsync().ConfigureAwait(false);
                _fetchConnection = null;
            }
        }
    }

    private async Task FetchAsync(CancellationToken stopping)
    {
        var retry = ServerResilience.RetryForever("Claiming jobs", _time, _logger);
        var mayHaveWork = true;
        var nextPoll = _time.GetUtcNow();
        var batchThreshold = _options.WorkerCount;
        while (!stopping.IsCancellationRequested)
        {
            _wake.Reset();
            if (Interlocked.Exchange(ref _notified, 0) == 1 || _time.GetUtcNow() >= nextPoll)
            {
                mayHaveWork = true;
            }

            var free = _options.WorkerCount - _running.Count;
            if (mayHaveWork && free > 0 && free < batchThreshold)
            {
                // Short jobs free their slots within moments of each other: wait a little for more of them, so
                // claims stay batched instead of shrinking to one or two rows each.
                free = await LingerForSlotsAsync(batchThreshold, stopping).ConfigureAwait(false);
            }

            if (free > 0 && mayHaveWork)
            {
                List<ClaimedJob> claimed;
                try
                {
                    claimed = await retry.ExecuteAsync(async (n, ct) => await ClaimAsync(n, ct).ConfigureAwait(false), free, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }

                foreach (var job in claimed)
                {
                    Start(job);
                }

                mayHaveWork = claimed.Count == free || _rescanFromHead;
                if (!mayHaveWork)
                {
                    nextPoll = _time.GetUtcNow() + _options.PollInterval;
                }

                if (claimed.Count > 0)
                {
                    continue;
                }
            }

            // Wait for a free slot (when there may be work), a notification, or the backstop poll.
            var wait = mayHaveWork ? _options.PollInterval : nextPoll - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await _wake.WaitAsync(wait, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    private async Task<int> LingerForSlotsAsync(int wanted, CancellationToken stopping)
    {
        var until = _time.GetUtcNow() + ClaimLinger;
        while (true)
        {
            _wake.Reset();
            var free = _options.WorkerCount - _running.Count;
            var left = until - _time.GetUtcNow();
            if (free >= wanted || left <= TimeSpan.Zero)
            {
                return free;
            }

            await _wake.WaitAsync(left, stopping).ConfigureAwait(false);
        }
    }

    private async Task<List<ClaimedJob>> ClaimAsync(int free, CancellationToken cancellationToken)
    {
        _fetchConnection ??= await _storage.OpenFetchConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Each queue is claimed from a cursor just after the last job claimed, so the index entries of jobs
            // claimed before are not scanned again. Jobs that become available behind a cursor (higher priority,
            // an earlier due time, a released claim) are found by a scan from the head: right after the range
            // ahead of the cursor runs dry, and at least every poll interval.
            var now = _time.GetUtcNow();
            if (now >= _cursorsResetAt || Interlocked.Exchange(ref _resetCursors, 0) == 1)
            {
                _cursors.Clear();
                _cursorsResetAt = now + _options.PollInterval;
            }

            _rescanFromHead = false;

            // Outcomes are written by the CompletionBatcher on a connection of its own, so a claim (committed
            // asynchronously) never waits for the WAL flush of a durable outcome write: while one flush is slow, the
            // loop keeps claiming and the next outcome batch grows instead (group commit).
            ClaimFilter filter;
            lock (_runningByShard)
            {
                filter = _claimFilter?.Filter(_runningByShard) ?? ClaimFilter.None;
            }

            List<ClaimedJob>? all = null;
            foreach (var queue in _queues)
            {
                var want = free - (all?.Count ?? 0);
                ClaimCursor? after = _cursors.TryGetValue(queue, out var cursor) ? cursor : null;
                var (_, claimed) = await _storage.WriteAndClaimAsync(
                    _fetchConnection, ServerId, [], queue, want, after, filter, cancellationToken).ConfigureAwait(false);
                _metrics?.JobsClaimed(queue, claimed.Count);
                if (claimed.Count < want && after is not null)
                {
                    _cursors.Remove(queue);
                    _rescanFromHead = true;
                }
                else if (claimed.Count > 0)
                {
                    _cursors[queue] = claimed.Max(j => j.Position);
                }

                if (all is null)
                {
                    all = claimed;
                }
                else
                {
                    all.AddRange(claimed);
                }

                if (all.Count == free)
                {
                    break;
                }
            }

            return all ?? [];
        }
        catch
        {
            // A broken connection is replaced on the next try.
            await _fetchConnection.DisposeAsync().ConfigureAwait(false);
            _fetchConnection = null;
            throw;
        }
    }

    private void Start(ClaimedJob job)
    {
        var abort = _jobsAbort.Token;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _running[job.Id] = gate.Task;
        if (job.ShardKey is { } shard)
        {
            lock (_runningByShard)
            {
                _runningByShard[shard] = _runningByShard.GetValueOrDefault(shard) + 1;
            }
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                var outcome = await RunAsync(job, abort).ConfigureAwait(false);
                _completions.Post(outcome);
                _metrics?.JobFinished(job.Queue, OutcomeTag(outcome), Stopwatch.GetElapsedTime(started), outcome.Error?.ExceptionType);
            }
            finally
            {
                if (job.ShardKey is { } shard)
                {
                    lock (_runningByShard)
                    {
                        if (_runningByShard[shard] <= 1)
                        {
                            _runningByShard.Remove(shard);
                        }
                        else
                        {
                            _runningByShard[shard]--;
                        }
                    }
                }

                _running.TryRemove(job.Id, out _);
                gate.TrySetResult();
                _wake.Set();
            }
        }, CancellationToken.None);
    }

    /// <summary>Runs one job and returns its outcome. Never throws.</summary>
    private async Task<JobOutcome> RunAsync(ClaimedJob job, CancellationToken abort)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (job.ShardKey is { } shard && _gate is not null)
            {
                var decision = await _gate.CheckAsync(new GateRequest(job.Id, shard, job.Light, job.DeferCount, job.DeferredSince), abort).ConfigureAwait(false);
                if (!decision.IsOpen)
                {
                    return Deferral(job, decision.RetryAfter, decision.Reason ?? "shard closed");
                }
            }

            var context = new JobContext(job.Id, job.Queue, job.ShardKey, job.Attempt, job.MaxAttempts, job.DeferCount, abort);
            var scope = _services.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                await _invoker.InvokeAsync(scope.ServiceProvider, job, context, abort).ConfigureAwait(false);
            }

            if (context.Deferral is { } deferral)
            {
                _metrics?.JobDeferred(job.ShardKey, "job");
                return Deferral(job, deferral.Delay, deferral.Reason);
            }

            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("Job {JobId} succeeded in {Elapsed:0.0} ms", job.Id, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            return JobOutcome.Succeeded(job.Id);
        }
        catch (JobLoadException e)
        {
            _logger.LogError("Job {JobId} cannot run and has failed: {Reason}", job.Id, e.Message);
            return new JobOutcome(job.Id, JobState.Failed, null, false, false, Error(job, e), "cannot run: " + e.Message);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            _logger.LogWarning("Job {JobId} was cancelled: handed back without using an attempt", job.Id);
            return new JobOutcome(job.Id, JobState.Available, TimeSpan.Zero, true, false, null,
                $"cancelled on worker server {Name} (shutdown past the grace period, or lease lost); handed back without using an attempt");
        }
        catch (Exception e)
        {
            var error = Error(job, e);
            if (job.Attempt < job.MaxAttempts)
            {
                var delay = RetryBackoff.Delay(job.Attempt, _options.RetryBaseDelay, _options.RetryMaxDelay, _random);
                _logger.LogWarning("Job {JobId} attempt {Attempt}/{MaxAttempts} failed, retrying in {Delay}: {Error}",
                    job.Id, job.Attempt, job.MaxAttempts, delay, e.Message);
                return new JobOutcome(job.Id, JobState.Scheduled, delay, false, false, error,
                    $"attempt {job.Attempt} of {job.MaxAttempts} failed with {e.GetType().Name}: {e.Message}; retry in {delay.TotalSeconds:0.###} s");
            }

            _logger.LogError(e, "Job {JobId} failed on its last attempt ({Attempt}/{MaxAttempts})", job.Id, job.Attempt, job.MaxAttempts);
            return new JobOutcome(job.Id, JobState.Failed, null, false, false, error,
                $"attempt {job.Attempt} of {job.MaxAttempts} failed with {e.GetType().Name}: {e.Message}; no attempt left");
        }
    }

    private static string OutcomeTag(JobOutcome outcome) => outcome switch
    {
        { Deferred: true } => "deferred",
        { NextState: JobState.Succeeded } => "succeeded",
        { NextState: JobState.Failed } => "failed",
        { NextState: JobState.Scheduled } => "retried",
        _ => "cancelled",
    };

    private static JobOutcome Deferral(ClaimedJob job, TimeSpan delay, string reason) =>
        new(job.Id, delay > TimeSpan.Zero ? JobState.Scheduled : JobState.Available, delay, true, true, null,
            $"deferred for {delay.TotalSeconds:0.###} s: {reason}");

    private static JobError Error(ClaimedJob job, Exception e) =>
        new(job.Attempt, e.GetType().FullName ?? e.GetType().Name, e.Message, e.ToString());

    private async Task HeartbeatLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _time, stopping).ConfigureAwait(false);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                timeout.CancelAfter(_options.HeartbeatInterval);
                if (!await _storage.HeartbeatAsync(ServerId, _options.LeaseDuration, timeout.Token).ConfigureAwait(false))
                {
                    await OnLeaseLostAsync(stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Heartbeat of worker server {Name} failed; jobs stay leased until {Lease} after the last one: {Error}",
                    Name, _options.LeaseDuration, e.Message);
            }
        }
    }

    private async Task OnLeaseLostAsync(CancellationToken stopping)
    {
        // Another server rescued our jobs after our lease expired (we were paused or cut off). Their runs here
        // are now duplicates: cancel them, and register again to claim new work.
        _logger.LogError("Worker server {Name} lost its lease; cancelling its {Count} running jobs, which other servers now own", Name, _running.Count);
        var old = Interlocked.Exchange(ref _jobsAbort, new CancellationTokenSource());
        await old.CancelAsync().ConfigureAwait(false);
        await _storage.RegisterServerAsync(ServerId, Name, _queues, _options.WorkerCount, _options.LeaseDuration, stopping).ConfigureAwait(false);
    }

    private async Task MaintenanceLoopAsync(CancellationToken stopping)
    {
        var now = _time.GetUtcNow();
        var nextRescue = now;
        var nextPrune = now + _options.PruneInterval;
        var rescueInterval = TimeSpan.FromTicks(Math.Max(_options.HeartbeatInterval.Ticks, TimeSpan.FromMilliseconds(250).Ticks));
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await PromoteDueAsync(stopping).ConfigureAwait(false);
                now = _time.GetUtcNow();
                if (now >= nextRescue)
                {
                    nextRescue = now + rescueInterval;
                    var (released, failed, queues) = await _storage.RescueAsync(stopping).ConfigureAwait(false);
                    if (released + failed > 0)
                    {
                        _logger.LogWarning("Rescued {Released} jobs from dead worker servers ({Failed} had no attempt left and failed)", released, failed);
                        await _storage.NotifyAsync(queues, stopping).ConfigureAwait(false);
                    }
                }

                if (now >= nextPrune)
                {
                    nextPrune = now + _options.PruneInterval;
                    await PruneAsync(stopping).ConfigureAwait(false);
                }

                await Task.Delay(_options.SchedulerInterval, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Scheduler/rescuer/pruner pass failed, trying again in {Interval}: {Error}", _options.SchedulerInterval, e.Message);
                try
                {
                    await Task.Delay(_options.SchedulerInterval, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task PromoteDueAsync(CancellationToken stopping)
    {
        const int batch = 1000;
        for (var i = 0; i < 100; i++)
        {
            var (count, queues) = await _storage.PromoteDueAsync(batch, stopping).ConfigureAwait(false);
            await _storage.NotifyAsync(queues, stopping).ConfigureAwait(false);
            if (count < batch)
            {
                return;
            }
        }
    }

    private async Task PruneAsync(CancellationToken stopping)
    {
        var total = 0;
        for (var i = 0; i < 1000; i++)
        {
            var deleted = await _storage.PruneAsync(_options.RetentionPeriod, _options.PruneBatchSize, stopping).ConfigureAwait(false);
            total += deleted;
            if (deleted < _options.PruneBatchSize)
            {
                break;
            }

            // Small batches with a pause between them keep the pruner from competing with claims.
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, stopping).ConfigureAwait(false);
        }

        if (total > 0)
        {
            _logger.LogInformation("Pruned {Count} finished jobs older than {Retention}", total, _options.RetentionPeriod);
        }
    }

    private async Task<bool> Completes(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception)
        {
            return true;
        }
    }

    private static async Task IgnoreCancellation(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
