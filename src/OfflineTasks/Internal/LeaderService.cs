using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;

namespace OfflineTasks.Internal;

/// <summary>
/// A background loop that every process runs but only the holder of a fleet-wide role (a lease in PostgreSQL) does
/// the work of: each round it takes or renews the role, then either leads or follows, and waits out the rest of its
/// interval. When the holder dies, another process takes the role over once the lease has expired; at shutdown the
/// holder gives it up at once.
/// </summary>
internal abstract class LeaderService : IHostedService, IAsyncDisposable
{
    private readonly ILeadership _leadership;
    private readonly string _role;
    private readonly CancellationTokenSource _stopping = new();
    private readonly AsyncSignal _wake;
    private Task _loop = Task.CompletedTask;
    private int _leading;
    private int _stopped;

    protected LeaderService(ILeadership leadership, string role, TimeProvider time, ILogger logger)
    {
        _leadership = leadership;
        _role = role;
        Time = time;
        Logger = logger;
        _wake = new AsyncSignal(time);
    }

    /// <summary>This process's identity in the leader table.</summary>
    public Guid Id { get; } = Guid.NewGuid();

    /// <summary>Whether this process holds the role right now.</summary>
    public bool IsLeading => Volatile.Read(ref _leading) == 1;

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    /// <summary>Starts the next round now rather than at the end of the interval (e.g. when there is new work).</summary>
    protected void Wake() => _wake.Set();

    /// <summary>The current round's interval and lease, and whether there is anything to do at all.</summary>
    protected abstract (TimeSpan Interval, TimeSpan Lease, bool Active) Schedule();

    /// <summary>One round as the holder; <paramref name="tookOver"/> on the first round after taking the role. Returns false if the role was lost meanwhile.</summary>
    protected abstract Task<bool> LeadAsync(bool tookOver, CancellationToken cancellationToken);

    /// <summary>One round while another process holds the role.</summary>
    protected virtual Task FollowAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Logs a failed round (the loop goes on).</summary>
    protected abstract void RoundFailed(Exception e);

    /// <summary>How long to wait before the next round, given the round's interval and how long the round took. Default: the rest of the interval.</summary>
    protected virtual TimeSpan NextRoundIn(TimeSpan interval, TimeSpan elapsed) => interval - elapsed;

    /// <summary>Releases what the service holds, after the loop has stopped.</summary>
    protected virtual Task OnStoppedAsync() => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
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
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (Interlocked.Exchange(ref _leading, 0) == 1)
        {
            try
            {
                // Hand the role over at once rather than after the lease.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), Time);
                await _leadership.ResignAsync(_role, Id, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Logger.LogWarning("Could not give up the {Role} role; another process takes it over when its lease expires: {Error}", _role, e.Message);
            }
        }

        await OnStoppedAsync().ConfigureAwait(false);
    }

    // The container may dispose this twice (it is registered as itself and as a hosted service).
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    private async Task RunAsync(CancellationToken stopping)
    {
        var name = $"{Environment.MachineName}:{Environment.ProcessId}";
        while (!stopping.IsCancellationRequested)
        {
            _wake.Reset();
            var (interval, lease, active) = Schedule();
            var started = Time.GetTimestamp();
            try
            {
                if (active)
                {
                    await RoundAsync(name, lease, stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                RoundFailed(e);
            }

            var wait = NextRoundIn(interval, Time.GetElapsedTime(started));
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await _wake.WaitAsync(wait, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task RoundAsync(string name, TimeSpan lease, CancellationToken stopping)
    {
        var lead = await _leadership.TryLeadAsync(_role, Id, name, lease, stopping).ConfigureAwait(false);
        if (lead is null)
        {
            if (Interlocked.Exchange(ref _leading, 0) == 1)
            {
                Logger.LogWarning("Lost the {Role} role to another process", _role);
            }

            await FollowAsync(stopping).ConfigureAwait(false);
            return;
        }

        var tookOver = lead == true || Interlocked.Exchange(ref _leading, 1) == 0;
        Volatile.Write(ref _leading, 1);
        if (!await LeadAsync(tookOver, stopping).ConfigureAwait(false))
        {
            Logger.LogWarning("Lost the {Role} role during a round (paused past the lease?); the round was not stored", _role);
            Volatile.Write(ref _leading, 0);
        }
    }
}
