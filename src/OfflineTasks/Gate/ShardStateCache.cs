using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Internal;
using OfflineTasks.Storage;

namespace OfflineTasks.Gate;

/// <summary>
/// This process's copy of the fleet's shard states: read from PostgreSQL when the prober announces a change
/// (LISTEN) and at least once per probe interval, so every process learns of a closed shard within moments.
/// </summary>
internal sealed class ShardStateCache : IHostedService, IAsyncDisposable
{
    private readonly OfflineTasksStore _store;
    private readonly GateSettingsMonitor _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<ShardStateCache> _logger;
    private readonly AsyncSignal _wake;
    private readonly CancellationTokenSource _stopping = new();
    private int _stopped;
    private Task _loops = Task.CompletedTask;
    private View _view;

    public ShardStateCache(OfflineTasksStore store, GateSettingsMonitor settings, TimeProvider time, ILogger<ShardStateCache> logger)
    {
        _store = store;
        _settings = settings;
        _time = time;
        _logger = logger;
        _wake = new AsyncSignal(time);
        _view = new View(new Dictionary<string, ShardState>(StringComparer.Ordinal), time.GetTimestamp(), false, false, TimeSpan.Zero);
    }

    /// <summary>The states as last read, when (a <see cref="TimeProvider"/> timestamp), and whether a read has succeeded yet.</summary>
    public View Current => Volatile.Read(ref _view);

    /// <summary>Raised when a shard's mode changed (or a shard appeared or went).</summary>
    public event Action? Changed;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("Could not read the shard states yet; every shard counts as closed until they are read: {Error}", e.Message);
        }

        var stopping = _stopping.Token;
        var listener = new NotificationListener(_store.DataSource, _store.ShardStateChannel,
            Resilience.RetryForever("Listening for shard state changes", _time, _logger), _wake.Set, _logger);
        _loops = Task.WhenAll(
            Task.Run(() => listener.RunAsync(stopping), CancellationToken.None),
            Task.Run(() => RefreshLoopAsync(stopping), CancellationToken.None));
        await WaitUntilFreshAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Holds the start (and so the Hangfire server, which starts after this) until every configured shard has a fresh
    /// state, at most <see cref="GateOptions.StaleAfter"/>: a process that starts after the fleet was down finds only
    /// stale states, which count as closed, and its workers would park every sharded job they fetch until the first
    /// probe (a park and a release each). The prober, started just before, writes fresh states within a round.
    /// </summary>
    private async Task WaitUntilFreshAsync(CancellationToken cancellationToken)
    {
        var settings = _settings.Current;
        var started = _time.GetTimestamp();
        while (!Fresh(settings) && _time.GetElapsedTime(started) < settings.StaleAfter)
        {
            _wake.Reset();
            try
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogDebug("Reading the shard states at start failed: {Error}", e.Message);
            }

            if (!Fresh(settings))
            {
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
            }
        }

        if (!Fresh(settings))
        {
            _logger.LogWarning("No fresh shard state after {StaleAfter}: until the prober writes one, every shard counts as closed and its jobs are parked", settings.StaleAfter);
        }
    }

    private bool Fresh(GateSettings settings)
    {
        var view = Current;
        var elapsed = _time.GetElapsedTime(view.ReadAt);
        return view.Loaded && settings.Shards.Keys.All(shard => view.States.TryGetValue(shard, out var state) && state.Age + elapsed <= settings.StaleAfter);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    // The container may dispose this twice (it is registered as itself and as a hosted service).
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    private async Task RefreshLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                _wake.Reset();
                await RefreshAsync(stopping).ConfigureAwait(false);
                await _wake.WaitAsync(_settings.Current.ProbeInterval, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.LogWarning("Reading the shard states failed; they go stale (and count as closed) after {StaleAfter}: {Error}",
                    _settings.Current.StaleAfter, e.Message);
                try
                {
                    await Task.Delay(_settings.Current.ProbeInterval, _time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken) =>
        Apply(await ((Gate.IShardStateStore)_store).ReadStatesAsync(cancellationToken).ConfigureAwait(false));

    /// <summary>Takes <paramref name="snapshot"/> as the current states (read just now).</summary>
    internal void Apply(ShardStateSnapshot snapshot)
    {
        var states = snapshot.States.ToDictionary(s => s.Shard, StringComparer.Ordinal);
        var previous = Current;
        var allOpen = states.Values.All(s => s.Mode == ShardMode.Open);
        var oldest = states.Count == 0 ? TimeSpan.Zero : states.Values.Max(s => s.Age);
        Volatile.Write(ref _view, new View(states, _time.GetTimestamp(), true, allOpen, oldest));
        var changed = !previous.Loaded || states.Count != previous.States.Count || states.Values.Any(s =>
            !previous.States.TryGetValue(s.Shard, out var p) || p.Mode != s.Mode || p.ChangedAt != s.ChangedAt);
        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>One read of the shard states.</summary>
    /// <param name="States">By shard.</param>
    /// <param name="ReadAt">When they were read (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="Loaded">False until the first successful read.</param>
    /// <param name="AllOpen">Whether every stored state was open when read.</param>
    /// <param name="OldestAge">The age of the oldest state when read.</param>
    internal sealed record View(IReadOnlyDictionary<string, ShardState> States, long ReadAt, bool Loaded, bool AllOpen, TimeSpan OldestAge);
}
