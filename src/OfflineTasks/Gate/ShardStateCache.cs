using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Internal;
using OfflineTasks.Storage;

namespace OfflineTasks.Gate;

/// <summary>
/// This process's copy of the fleet's shard states: read from PostgreSQL when the prober announces a change
/// (LISTEN) and at least once per probe interval, so every process learns of a closed shard within moments.
/// </summary>
/// <remarks>
/// The prober announces a closing shard (<see cref="ShardClosing"/>) a moment before it writes it; the announcement
/// is applied at once, without a read, and holds until a read shows the closure (or for
/// <see cref="AnnouncementHold"/>, should the write never come: the prober lost its role meanwhile).
/// </remarks>
internal sealed class ShardStateCache : IHostedService, IAsyncDisposable
{
    private readonly OfflineTasksStore _store;
    private readonly GateSettingsMonitor _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<ShardStateCache> _logger;
    private readonly AsyncSignal _wake;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, (ShardClosing Closing, long At, DateTimeOffset AtUtc)> _announced = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private int _stopped;
    private Task _loops = Task.CompletedTask;
    private View _view;
    private IReadOnlyDictionary<string, ShardState> _read = new Dictionary<string, ShardState>(StringComparer.Ordinal);

    /// <summary>How long an announced closure holds without a read that shows it.</summary>
    internal static readonly TimeSpan AnnouncementHold = TimeSpan.FromSeconds(2);

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
            Resilience.RetryForever("Listening for shard state changes", _time, _logger), Notified, _logger);
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

    private void Notified(string? payload)
    {
        if (ShardClosing.Parse(payload) is { } closing)
        {
            Announce(closing);
        }
        else
        {
            _wake.Set();
        }
    }

    /// <summary>Applies a closure the prober announced ahead of writing it.</summary>
    internal void Announce(ShardClosing closing)
    {
        lock (_lock)
        {
            _announced[closing.Shard] = (closing, _time.GetTimestamp(), _time.GetUtcNow());
            Publish(Current.ReadAt, Current.Loaded, Current.OldestAge);
        }
    }

    /// <summary>Takes <paramref name="snapshot"/> as the current states (read just now).</summary>
    internal void Apply(ShardStateSnapshot snapshot)
    {
        lock (_lock)
        {
            _read = snapshot.States.ToDictionary(s => s.Shard, StringComparer.Ordinal);
            Publish(_time.GetTimestamp(), true, _read.Count == 0 ? TimeSpan.Zero : _read.Values.Max(s => s.Age));
        }
    }

    // Under _lock: the states as read, with the closures announced since that a read does not show yet.
    private void Publish(long readAt, bool loaded, TimeSpan oldest)
    {
        var states = new Dictionary<string, ShardState>(_read, StringComparer.Ordinal);
        foreach (var (shard, (closing, at, atUtc)) in _announced.ToList())
        {
            if (!states.TryGetValue(shard, out var state) || Strictness(state.Mode) >= Strictness(closing.Mode) || _time.GetElapsedTime(at) > AnnouncementHold)
            {
                _announced.Remove(shard); // the read shows it (or it never came)
                continue;
            }

            states[shard] = state with { Mode = closing.Mode, Reason = closing.Reason, Holding = closing.Reason, ReasonKind = closing.ReasonKind, ChangedAt = atUtc };
        }

        var previous = Current;
        var allOpen = states.Values.All(s => s.Mode == ShardMode.Open);
        Volatile.Write(ref _view, new View(states, readAt, loaded, allOpen, oldest));
        var changed = !previous.Loaded || states.Count != previous.States.Count || states.Values.Any(s =>
            !previous.States.TryGetValue(s.Shard, out var p) || p.Mode != s.Mode || p.ChangedAt != s.ChangedAt);
        if (changed)
        {
            Changed?.Invoke();
        }
    }

    private static int Strictness(ShardMode mode) => mode switch
    {
        ShardMode.Open => 0,
        ShardMode.LightOnly => 1,
        _ => 2,
    };

    /// <summary>One read of the shard states.</summary>
    /// <param name="States">By shard.</param>
    /// <param name="ReadAt">When they were read (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="Loaded">False until the first successful read.</param>
    /// <param name="AllOpen">Whether every stored state was open when read.</param>
    /// <param name="OldestAge">The age of the oldest state when read.</param>
    internal sealed record View(IReadOnlyDictionary<string, ShardState> States, long ReadAt, bool Loaded, bool AllOpen, TimeSpan OldestAge);
}
