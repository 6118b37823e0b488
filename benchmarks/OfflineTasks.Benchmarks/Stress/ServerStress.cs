using System.Diagnostics;
using MySqlConnector;

namespace OfflineTasks.Benchmarks.Stress;

/// <summary>The connections <see cref="ServerStress.IsCalmAsync(CalmProbe, CancellationToken)"/> reads on, kept open between polls.</summary>
public sealed class CalmProbe : IAsyncDisposable
{
    internal MySqlConnection? Server { get; set; }

    internal MySqlConnection? Peer { get; set; }

    internal async Task ResetAsync()
    {
        foreach (var connection in new[] { Server, Peer })
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }

        Server = null;
        Peer = null;
    }

    public ValueTask DisposeAsync() => new(ResetAsync());
}

/// <summary>The low-water marks a stressed server must be back under before it counts as calm (the gate's defaults).</summary>
/// <param name="ThreadsRunning">Threads_running, not counting the statement that reads it.</param>
/// <param name="ConnectionsRatio">Threads_connected / max_connections.</param>
public sealed record CalmMarks(double ThreadsRunning = 20, double ConnectionsRatio = 0.60);

/// <summary>
/// One real stress on one master of a local pair: applied, then undone. <see cref="ApplyAsync"/> returns the onset
/// (the moment the server is in the stressed state, at the latest); <see cref="UndoAsync"/> undoes it and returns the
/// moment the server was first seen calm again (every signal below its low-water mark, and both masters
/// replicating), polled every few milliseconds. A stress is bounded: it undoes itself after its maximum duration,
/// and at process exit or Ctrl-C. It acts only on loopback servers (<see cref="MariaDbServer"/>).
/// </summary>
public abstract class ServerStress : IAsyncDisposable
{
    private static readonly TimeSpan CalmPoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan CalmTimeout = TimeSpan.FromSeconds(90);
    private static readonly object Gate = new();
    private static readonly HashSet<ServerStress> Active = [];
    private readonly TimeSpan _maxDuration;
    private CancellationTokenSource? _bound;
    private int _applied;

    static ServerStress()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ReleaseAll();
        Console.CancelKeyPress += (_, _) => ReleaseAll();
    }

    protected ServerStress(MariaDbServer server, TimeSpan? maxDuration)
    {
        Server = server;
        _maxDuration = maxDuration ?? TimeSpan.FromMinutes(2);
    }

    /// <summary>The stressed master.</summary>
    public MariaDbServer Server { get; }

    /// <summary>What the stress is, e.g. <c>threads_running</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The low-water marks <see cref="UndoAsync"/> waits for.</summary>
    public CalmMarks Marks { get; init; } = new();

    /// <summary>Applies the stress; returns its onset (UTC).</summary>
    public async Task<DateTimeOffset> ApplyAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _applied, 1) == 1)
        {
            throw new InvalidOperationException($"{Name} on {Server} is applied already");
        }

        lock (Gate)
        {
            Active.Add(this);
        }

        try
        {
            var onset = await ApplyCoreAsync(cancellationToken);
            _bound = new CancellationTokenSource(_maxDuration);
            _bound.Token.Register(() => _ = UndoAsync(CancellationToken.None));
            return onset;
        }
        catch
        {
            await UndoAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>Undoes the stress and waits until the server is calm; returns when it was first seen calm (UTC).</summary>
    public async Task<DateTimeOffset> UndoAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _applied, 0) == 0)
        {
            return DateTimeOffset.UtcNow;
        }

        _bound?.Dispose();
        var undone = UndoCoreAsync();
        var calm = await WaitUntilCalmAsync(cancellationToken);
        await undone;
        lock (Gate)
        {
            Active.Remove(this);
        }

        return calm;
    }

    public async ValueTask DisposeAsync()
    {
        await UndoAsync(CancellationToken.None);
        GC.SuppressFinalize(this);
    }

    /// <summary>Puts the server in the stressed state; returns the onset.</summary>
    protected abstract Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken);

    /// <summary>Takes the stress away (need not wait for the server to be calm).</summary>
    protected abstract Task UndoCoreAsync();

    /// <summary>Takes the stress away at once, synchronously, at process exit.</summary>
    protected abstract void Release();

    /// <summary>
    /// Whether the server is calm: it answers, Threads_running (less this statement) and the connection ratio are
    /// below their low-water marks, and both masters of the pair replicate. Reads on the connections it is given
    /// (opening them when they are null or broken): one round trip on each master.
    /// </summary>
    public async Task<bool> IsCalmAsync(CalmProbe probe, CancellationToken cancellationToken = default)
    {
        try
        {
            probe.Server ??= await Server.OpenAsync(2, cancellationToken);
            await using (var command = probe.Server.CreateCommand())
            {
                command.CommandText = "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_RUNNING') - 1, "
                    + "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') / @@GLOBAL.max_connections";
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                if (Convert.ToDouble(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture) >= Marks.ThreadsRunning
                    || Convert.ToDouble(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture) >= Marks.ConnectionsRatio)
                {
                    return false;
                }
            }

            if (!await MariaDbServer.ReplicatingAsync(probe.Server, cancellationToken))
            {
                return false;
            }

            probe.Peer ??= await new MariaDbServer(Server.PairDirectory, Server.PeerNode, PeerPort()).OpenAsync(2, cancellationToken);
            return await MariaDbServer.ReplicatingAsync(probe.Peer, cancellationToken);
        }
        catch (Exception e) when (e is MySqlException or InvalidOperationException or IOException)
        {
            await probe.ResetAsync();
            return false;
        }
    }

    /// <summary>
    /// Ends the statements running on <paramref name="connections"/> with <c>KILL QUERY</c> over a connection of its
    /// own; one that cannot be killed (the server busy) is logged, and ends by itself when its connection closes.
    /// </summary>
    protected static void KillQueries(MariaDbServer server, IEnumerable<MySqlConnection> connections)
    {
        using var admin = new MySqlConnection(server.ConnectionString(10));
        admin.Open();
        foreach (var connection in connections)
        {
            try
            {
                using var kill = admin.CreateCommand();
                kill.CommandText = $"KILL QUERY {connection.ServerThread}";
                kill.ExecuteNonQuery();
            }
            catch (MySqlException e)
            {
                Console.Error.WriteLine($"stress: KILL QUERY {connection.ServerThread} on {server} failed: {e.Message}");
            }
        }
    }

    private int PeerPort()
    {
        var config = File.ReadAllLines(Path.Combine(Server.PairDirectory, Server.PeerNode, "my.cnf"));
        var line = config.First(l => l.StartsWith("port=", StringComparison.Ordinal));
        return int.Parse(line["port=".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<DateTimeOffset> WaitUntilCalmAsync(CancellationToken cancellationToken)
    {
        await using var probe = new CalmProbe();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < CalmTimeout)
        {
            var asked = DateTimeOffset.UtcNow;
            if (await IsCalmAsync(probe, cancellationToken))
            {
                return asked;
            }

            await Task.Delay(CalmPoll, cancellationToken);
        }

        throw new TimeoutException($"{Server} was not calm within {CalmTimeout.TotalSeconds:0} s after undoing {Name}");
    }

    private static void ReleaseAll()
    {
        List<ServerStress> active;
        lock (Gate)
        {
            active = [.. Active];
            Active.Clear();
        }

        foreach (var stress in active)
        {
            try
            {
                stress.Release();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"stress: could not undo {stress.Name} on {stress.Server}: {e.Message}");
            }
        }
    }
}

/// <summary>Threads_running pushed up by <c>N</c> connections each running <c>SELECT SLEEP</c> at once.</summary>
public sealed class ThreadsRunningStress(MariaDbServer server, int count, TimeSpan? maxDuration = null) : ServerStress(server, maxDuration)
{
    private readonly List<MySqlConnection> _connections = [];
    private readonly List<Task> _sleeps = [];

    public override string Name => "threads_running";

    /// <summary>How many statements run at once.</summary>
    public int Count => count;

    protected override async Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        // Connecting is preparation; the stress starts when the statements are sent.
        for (var i = 0; i < count; i++)
        {
            _connections.Add(await Server.OpenAsync(600, cancellationToken));
        }

        var seconds = 600; // bounded by the stress's maximum duration, which kills them sooner
        var onset = DateTimeOffset.UtcNow;
        foreach (var connection in _connections)
        {
            var command = connection.CreateCommand();
            command.CommandText = $"SELECT SLEEP({seconds})";
            _sleeps.Add(Sleep(command));
        }

        return onset;
    }

    private static async Task Sleep(MySqlCommand command)
    {
        try
        {
            await using (command)
            {
                await command.ExecuteScalarAsync();
            }
        }
        catch (MySqlException)
        {
            // killed
        }
    }

    protected override async Task UndoCoreAsync()
    {
        await Task.Run(Release);
        await Task.WhenAll(_sleeps);
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        _connections.Clear();
        _sleeps.Clear();
    }

    protected override void Release() => KillQueries(Server, _connections);
}

/// <summary>Threads_connected raised to <c>ratio</c> of max_connections by idle connections.</summary>
public sealed class ConnectionsStress(MariaDbServer server, double ratio = 0.85, double highWater = 0.80, TimeSpan? maxDuration = null)
    : ServerStress(server, maxDuration)
{
    private readonly List<MySqlConnection> _connections = [];

    public override string Name => "connections";

    protected override async Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        long connected, max;
        await using (var admin = await Server.OpenAsync(5, cancellationToken))
        {
            connected = await MariaDbServer.StatusAsync(admin, "THREADS_CONNECTED", cancellationToken) - 1;
            max = long.Parse(await MariaDbServer.ScalarAsync(admin, "SELECT @@GLOBAL.max_connections", cancellationToken) ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        }

        var target = (int)Math.Ceiling(ratio * max) - (int)connected;
        var atHigh = (int)Math.Ceiling(highWater * max) - (int)connected; // the connection that takes the server to high-water
        var onset = DateTimeOffset.MinValue;
        var opened = 0;
        var gate = new SemaphoreSlim(8);
        await Task.WhenAll(Enumerable.Range(0, Math.Max(0, target)).Select(async _ =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                var connection = await Server.OpenAsync(5, cancellationToken);
                lock (_connections)
                {
                    _connections.Add(connection);
                    if (++opened == atHigh)
                    {
                        onset = DateTimeOffset.UtcNow;
                    }
                }
            }
            finally
            {
                gate.Release();
            }
        }));
        return onset == DateTimeOffset.MinValue ? DateTimeOffset.UtcNow : onset;
    }

    protected override async Task UndoCoreAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        _connections.Clear();
    }

    protected override void Release()
    {
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
    }
}

/// <summary>Replication stopped on the master (<c>STOP SLAVE</c>): the pair is no longer redundant.</summary>
public sealed class ReplicationStress(MariaDbServer server, TimeSpan? maxDuration = null) : ServerStress(server, maxDuration)
{
    public override string Name => "stop_slave";

    protected override async Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        await using var admin = await Server.OpenAsync(5, cancellationToken);
        var onset = DateTimeOffset.UtcNow;
        await MariaDbServer.ScalarAsync(admin, "STOP SLAVE", cancellationToken);
        return onset;
    }

    protected override async Task UndoCoreAsync() => await Server.ScalarAsync("START SLAVE");

    protected override void Release()
    {
        using var admin = new MySqlConnection(Server.ConnectionString(2));
        admin.Open();
        using var start = admin.CreateCommand();
        start.CommandText = "START SLAVE";
        start.ExecuteNonQuery();
    }
}

/// <summary>The master shut down (SIGTERM, as an init system stops it); undone by starting it again with the script.</summary>
public sealed class ShutdownStress(MariaDbServer server, TimeSpan? maxDuration = null) : ServerStress(server, maxDuration)
{
    public override string Name => "shutdown";

    protected override async Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        var pid = Server.Pid();
        var onset = DateTimeOffset.UtcNow;
        Signals.Send(pid, Signals.Term);
        var clock = Stopwatch.StartNew();
        while (Signals.State(pid) is { } state && state != 'Z' && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20, cancellationToken);
        }

        return onset;
    }

    protected override Task UndoCoreAsync() => Task.Run(() => Server.Script("start-one", Server.Node));

    protected override void Release() => Server.Script("start-one", Server.Node);
}

/// <summary>The master frozen with SIGSTOP, as a hung host: connections are accepted by the kernel, nothing answers.</summary>
public sealed class FreezeStress(MariaDbServer server, TimeSpan? maxDuration = null) : ServerStress(server, maxDuration)
{
    private int _pid;

    public override string Name => "freeze";

    /// <summary>The frozen mariadbd's pid.</summary>
    public int Pid => _pid;

    protected override Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        _pid = Server.Pid();
        var onset = DateTimeOffset.UtcNow;
        Signals.Send(_pid, Signals.Stop);
        return Task.FromResult(onset);
    }

    protected override Task UndoCoreAsync()
    {
        Release();
        return Task.CompletedTask;
    }

    protected override void Release() => Signals.Send(_pid, Signals.Cont);
}

/// <summary>One segment of <see cref="NoiseStress"/>: above or below the high-water mark, for how long.</summary>
public readonly record struct NoiseSegment(bool Above, TimeSpan Length);

/// <summary>
/// Threads_running kept hovering around the high-water mark: random segments of 200–1000 ms alternately
/// <c>margin</c> above and <c>margin</c> below it (still above low-water), for a given time. Started by
/// <see cref="ServerStress.ApplyAsync"/>; <see cref="Completion"/> ends when the time is up (then undo it).
/// </summary>
public sealed class NoiseStress(MariaDbServer server, TimeSpan duration, int seed, double highWater = 40, int margin = 5, TimeSpan? maxDuration = null)
    : ServerStress(server, maxDuration ?? duration + TimeSpan.FromMinutes(1))
{
    private readonly List<MySqlConnection> _connections = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<NoiseSegment> _segments = [];
    private Task _run = Task.CompletedTask;

    public override string Name => "noise";

    /// <summary>Ends when the noise has run its time.</summary>
    public Task Completion => _run;

    /// <summary>The segments played so far.</summary>
    public IReadOnlyList<NoiseSegment> Segments => _segments;

    /// <summary>Statements running in a segment below and above the mark (the server's own running threads make up the rest).</summary>
    public (int Below, int Above) Statements { get; private set; }

    protected override async Task<DateTimeOffset> ApplyCoreAsync(CancellationToken cancellationToken)
    {
        long idle;
        await using (var admin = await Server.OpenAsync(5, cancellationToken))
        {
            idle = await MariaDbServer.StatusAsync(admin, "THREADS_RUNNING", cancellationToken) - 1;
        }

        var below = Math.Max(0, (int)highWater - margin - (int)idle);
        var above = (int)highWater + margin - (int)idle;
        Statements = (below, above);
        for (var i = 0; i < above; i++)
        {
            _connections.Add(await Server.OpenAsync(600, cancellationToken));
        }

        var onset = DateTimeOffset.UtcNow;
        var hold = (int)Math.Ceiling(duration.TotalSeconds) + 5;
        var baseSleeps = _connections.Take(below).Select(c => Sleep(c, hold)).ToList();
        _run = Task.Run(async () =>
        {
            var random = new Random(seed);
            var clock = Stopwatch.StartNew();
            var up = random.Next(2) == 0;
            while (clock.Elapsed < duration && !_stop.IsCancellationRequested)
            {
                var length = TimeSpan.FromMilliseconds(random.Next(200, 1001));
                if (clock.Elapsed + length > duration)
                {
                    length = duration - clock.Elapsed;
                }

                if (up)
                {
                    await Task.WhenAll(_connections.Skip(below).Select(c => Sleep(c, length.TotalSeconds)));
                }
                else
                {
                    await Task.Delay(length, _stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                }

                _segments.Add(new NoiseSegment(up, length));
                up = !up;
            }
        }, CancellationToken.None);
        _ = baseSleeps;
        return onset;
    }

    private static async Task Sleep(MySqlConnection connection, double seconds)
    {
        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = FormattableString.Invariant($"SELECT SLEEP({seconds:0.###})");
            await command.ExecuteScalarAsync();
        }
        catch (MySqlException)
        {
            // killed
        }
    }

    protected override async Task UndoCoreAsync()
    {
        await _stop.CancelAsync();
        Release();
        await _run;
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        _connections.Clear();
    }

    protected override void Release() => KillQueries(Server, _connections);
}
