using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using Npgsql;
using OfflineTasks.Benchmarks.Stress;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Hosting;

namespace OfflineTasks.Benchmarks.Gate;

/// <summary>
/// The gate benchmark: how fast and how calmly the fleet reacts to real stress on one MySQL shard while another keeps
/// working, and what the gate costs. Phases (each repeated <c>--reps</c> times; every figure the median, min and max
/// on stderr):
/// <list type="bullet">
/// <item><c>decision</c>: the cost of one <see cref="IShardGate.Check"/> from this process's copy of the shared state;</item>
/// <item><c>ratio</c>: no-op throughput with the gate installed over without it, in alternating rounds (the throughput benchmark's rounds);</item>
/// <item><c>probe</c>: status statements per second each MariaDB server received, from its own <c>Questions</c>
/// counter, with 1 and with 4 worker processes;</item>
/// <item><c>stress</c>: five real stresses on the first pair's master a, while jobs flow on both shards: reaction,
/// resume, jobs started while closed, fetches of parked jobs;</item>
/// <item><c>noise</c>: Threads_running hovering around high-water for a minute: flaps and time closed;</item>
/// <item><c>release</c>: a 5,000-job parked backlog released after the ramp, next to the rate the workers process
/// a 5,000-job queue.</item>
/// </list>
/// Every process of the fleet runs OfflineTasks at its default settings: this one enqueues (with the gate, as an
/// application would), the <c>gate-worker</c> children run Hangfire's server with its default worker count.
/// </summary>
internal static class GateBenchmark
{
    private static readonly TimeSpan HoldTime = new GateOptions().HoldTime;
    private static readonly TimeSpan RampDuration = new RampOptions().Duration;

    public static async Task<int> RunAsync(GateBenchSettings s)
    {
        var figures = new Dictionary<string, string>(StringComparer.Ordinal);
        Bench.Log($"gate: phases {string.Join(",", GateBenchSettings.AllPhases.Where(s.Phases.Contains))}, {s.Repetitions} repetitions, {s.WorkerProcesses} worker processes, "
            + $"{s.StressedRate}/s jobs on {GateBenchSettings.Stressed} and {s.OtherRate}/s on {GateBenchSettings.Other}; hold {HoldTime.TotalSeconds:0.#} s");

        if (s.Phases.Contains("ratio"))
        {
            figures["gated_vs_ungated"] = await RatioAsync(s);
        }

        // The enqueuer creates jobs with Hangfire's blocking client on pool threads, as request threads would.
        ThreadPool.SetMinThreads(64, 64);
        var schemas = BenchSchemas.New();
        await using var dataSource = NpgsqlDataSource.Create(s.ConnectionString);
        var storage = HangfireBench.Storage(s.ConnectionString, schemas.Hangfire);
        var recordDirectory = Directory.CreateTempSubdirectory("offlinetasks-gate-bench-").FullName;
        using var driver = await StartDriverAsync(storage, GateBenchSettings.Configuration(s.ConnectionString, schemas, s.Pairs));
        var gate = driver.Services.GetRequiredService<IShardGate>();
        using var run = new Run(s, schemas, dataSource, storage, gate, new WorkerFleet(s, schemas, recordDirectory));
        try
        {
            await Run.WaitUntilAsync(() => gate.Check(GateBenchSettings.Stressed).IsOpen && gate.Check(GateBenchSettings.Other).IsOpen, TimeSpan.FromSeconds(60), "both shards open");
            if (s.Phases.Contains("decision"))
            {
                figures["decision_ns"] = Decision(s, gate);
            }

            if (s.Phases.Contains("probe"))
            {
                (figures["probe_qps_1proc"], figures["probe_qps_4proc"]) = await run.ProbeAsync();
            }

            await run.Fleet.ScaleToAsync(s.WorkerProcesses);
            run.StartEnqueuer();
            if (s.Phases.Contains("stress"))
            {
                await run.StressAsync();
            }

            if (s.Phases.Contains("noise"))
            {
                await run.NoiseAsync();
            }

            if (s.Phases.Contains("release"))
            {
                (figures["release_per_s"], figures["process_per_s"]) = await run.ReleaseAsync();
            }

            figures["lost"] = (await run.FinishAsync()).ToString(CultureInfo.InvariantCulture);
            await run.Fleet.ScaleToAsync(0);
            await run.AnalyseAsync(figures);
        }
        finally
        {
            await run.Fleet.DisposeAsync();
            await driver.StopAsync();
            await Bench.DropSchemaAsync(dataSource, schemas.Hangfire);
            await Bench.DropSchemaAsync(dataSource, schemas.OfflineTasks);
            Directory.Delete(recordDirectory, recursive: true);
        }

        string F(string key) => figures.GetValueOrDefault(key, "na");
        Console.Out.WriteLine(
            $"gate decision_ns={F("decision_ns")} gated_vs_ungated={F("gated_vs_ungated")} probe_qps_1proc={F("probe_qps_1proc")} probe_qps_4proc={F("probe_qps_4proc")} "
            + $"reaction_ms={F("reaction_ms")} resume_ms={F("resume_ms")} flaps_per_min={F("flaps_per_min")} closed_pct_noisy={F("closed_pct_noisy")} "
            + $"parked_fetches={F("parked_fetches")} release_per_s={F("release_per_s")} process_per_s={F("process_per_s")} "
            + $"started_while_closed={F("started_while_closed")} lost={F("lost")}");
        return 0;
    }

    /// <summary>The enqueuing process: OfflineTasks with the gate bound to the storage, no Hangfire server.</summary>
    private static async Task<IHost> StartDriverAsync(JobStorage storage, Dictionary<string, string?> configuration)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory, DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(storage);
        builder.Services.AddHangfire(c =>
        {
            c.UseLogProvider(StderrLogProvider.Instance);
            c.UseOfflineTasks();
        });
        builder.Services.AddOfflineTasks(new ConfigurationBuilder().AddInMemoryCollection(configuration).Build());
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task<string> RatioAsync(GateBenchSettings s)
    {
        var pair = s.Pairs[0];
        string[] options =
        [
            "--connection-string", s.ConnectionString, "--n", Invariant(s.RatioN), "--workers", "8", "--warmup", "1000",
            "--shard-port-a", Invariant(pair.PortA), "--shard-port-b", Invariant(pair.PortB),
        ];
        var pairs = await Rounds.PairsAsync(s.Repetitions, RoundMode.Ungated, RoundMode.Gated, _ => options);
        var ratios = pairs.Select(p => p.B.ProcessPerSecond / p.A.ProcessPerSecond).ToList();
        Report("gated_vs_ungated", ratios, "0.000", "target >= 0.97");
        return Bench.Format(Bench.Median(ratios), "0.000");
    }

    private static string Decision(GateBenchSettings s, IShardGate gate)
    {
        const int Calls = 5_000_000;
        var open = 0L;
        for (var i = 0; i < 200_000; i++)
        {
            open += gate.Check(GateBenchSettings.Stressed).IsOpen ? 1 : 0;
        }

        var costs = new List<double>();
        for (var rep = 0; rep < s.Repetitions; rep++)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < Calls; i++)
            {
                open += gate.Check(GateBenchSettings.Stressed).IsOpen ? 1 : 0;
            }

            costs.Add(clock.Elapsed.TotalNanoseconds / Calls);
        }

        Report("decision_ns", costs, "0", $"target < 1000; {open} open decisions");
        return Bench.Format(Bench.Median(costs));
    }

    public static void Report(string name, IReadOnlyCollection<double> values, string format, string note)
    {
        Bench.Log(values.Count == 0
            ? $"{name}: no values ({note})"
            : $"{name}: median {Bench.Format(Bench.Median(values), format)} min {Bench.Format(values.Min(), format)} max {Bench.Format(values.Max(), format)} of [{string.Join(", ", values.Select(v => Bench.Format(v, format)))}] ({note})");
    }

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>One stress repetition: what, when it began, when the server was calm again.</summary>
    private sealed record StressRep(string Kind, DateTimeOffset Onset, DateTimeOffset Calm, DateTimeOffset SeenOpen);

    /// <summary>One noise repetition: the time the noise ran.</summary>
    private sealed record NoiseRep(DateTimeOffset Start, DateTimeOffset End);

    /// <summary>A change of a shard's mode, from OfflineTasks' event log.</summary>
    private sealed record ShardChange(DateTimeOffset At, string To);

    /// <summary>The state of one benchmark run: its processes, its enqueuer and what it has seen.</summary>
    private sealed class Run(GateBenchSettings s, BenchSchemas schemas, NpgsqlDataSource dataSource, JobStorage storage, IShardGate gate, WorkerFleet fleet) : IDisposable
    {
        private readonly BackgroundJobClient _client = new(storage);
        private readonly List<StressRep> _stresses = [];
        private readonly List<NoiseRep> _noises = [];
        private readonly Random _random = new(20261202);
        private long _created;
        private long _sequence;
        private volatile bool _paused;
        private CancellationTokenSource? _stopEnqueuer;
        private Task _enqueuer = Task.CompletedTask;

        public WorkerFleet Fleet => fleet;

        public void Dispose() => _stopEnqueuer?.Dispose();

        private string Hf => $"\"{schemas.Hangfire}\"";

        public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (clock.Elapsed > timeout)
                {
                    throw new TimeoutException($"not {what} within {timeout.TotalSeconds:0} s");
                }

                await Task.Delay(2);
            }
        }

        private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
        {
            var clock = Stopwatch.StartNew();
            while (!await condition())
            {
                if (clock.Elapsed > timeout)
                {
                    throw new TimeoutException($"not {what} within {timeout.TotalSeconds:0} s");
                }

                await Task.Delay(100);
            }
        }

        private string Create(string shard)
        {
            var sequence = Interlocked.Increment(ref _sequence);
            var started = Stopwatch.GetTimestamp();
            var id = _client.Enqueue(() => GateJob.Run(shard, sequence, null));
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMilliseconds(100))
            {
                Bench.Log($"creating job {id} of {shard} took {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms (until {DateTimeOffset.UtcNow:HH:mm:ss.fff})");
            }

            Interlocked.Increment(ref _created);
            return id;
        }

        private void CreateLater(string shard, SemaphoreSlim inFlight)
        {
            inFlight.Wait();
            _ = Task.Run(() =>
            {
                try
                {
                    Create(shard);
                }
                catch (Exception e)
                {
                    Bench.Log($"creating a job of {shard} failed: {e.Message} {e.InnerException?.GetType().Name}: {e.InnerException?.Message}");
                }
                finally
                {
                    inFlight.Release();
                }
            });
        }

        /// <summary>Creates <paramref name="n"/> jobs on <paramref name="shard"/> with 8 clients at once; returns their ids.</summary>
        private async Task<List<long>> CreateManyAsync(string shard, int n)
        {
            var ids = new System.Collections.Concurrent.ConcurrentBag<long>();
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            {
                while (Interlocked.Increment(ref next) < n)
                {
                    ids.Add(long.Parse(Create(shard), CultureInfo.InvariantCulture));
                }
            })));
            return [.. ids.Order()];
        }

        // ---- probe load ----

        public async Task<(string One, string Four)> ProbeAsync()
        {
            var servers = s.Pairs.SelectMany(p => new[] { p.Master("a"), p.Master("b") }).ToList();
            var result = new List<string>();
            foreach (var processes in new[] { 1, 4 })
            {
                await fleet.ScaleToAsync(processes);
                await Task.Delay(TimeSpan.FromSeconds(3)); // the prober role settled, every shard open
                var windows = new List<double>();
                for (var rep = 0; rep < s.Repetitions; rep++)
                {
                    windows.Add(await ProbeWindowAsync(servers, processes));
                }

                Report($"probe_qps_{processes}proc", windows, "0.0", "the busiest server's status statements per second in each window; target <= 12, 4proc <= 1proc");
                result.Add(Bench.Format(Bench.Median(windows), "0.0"));
            }

            return (result[0], result[1]);
        }

        /// <summary>Statements per second each server received in one window, from its own counters; returns the busiest server's.</summary>
        private async Task<double> ProbeWindowAsync(List<MariaDbServer> servers, int processes)
        {
            var connections = new List<MySqlConnection>();
            try
            {
                foreach (var server in servers)
                {
                    connections.Add(await server.OpenAsync());
                }

                var before = await Task.WhenAll(connections.Select(Counters));
                var clock = Stopwatch.StartNew();
                await Task.Delay(TimeSpan.FromSeconds(s.ProbeWindowSeconds));
                var after = await Task.WhenAll(connections.Select(Counters));
                var seconds = clock.Elapsed.TotalSeconds;
                var rates = new List<double>();
                for (var i = 0; i < servers.Count; i++)
                {
                    // Each reading is itself one statement (a SELECT): the second one is inside the window.
                    var questions = (after[i].Questions - before[i].Questions - 1) / seconds;
                    var selects = (after[i].Selects - before[i].Selects - 1) / seconds;
                    var slaveStatus = (after[i].SlaveStatus - before[i].SlaveStatus) / seconds;
                    rates.Add(questions);
                    Bench.Log($"probe {processes} proc: {servers[i]}: {questions:0.0} statements/s (SELECT {selects:0.0}/s, SHOW SLAVE STATUS {slaveStatus:0.0}/s)");
                }

                return rates.Max();
            }
            finally
            {
                foreach (var connection in connections)
                {
                    await connection.DisposeAsync();
                }
            }

            static async Task<(long Questions, long Selects, long SlaveStatus)> Counters(MySqlConnection connection)
            {
                var values = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('QUESTIONS', 'COM_SELECT', 'COM_SHOW_SLAVE_STATUS')";
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    values[reader.GetString(0)] = long.Parse(reader.GetString(1), CultureInfo.InvariantCulture);
                }

                return (values["QUESTIONS"], values["COM_SELECT"], values.GetValueOrDefault("COM_SHOW_SLAVE_STATUS"));
            }
        }

        // ---- the job flow ----

        public void StartEnqueuer()
        {
            _stopEnqueuer = new CancellationTokenSource();
            var stop = _stopEnqueuer.Token;
            _enqueuer = Task.Run(async () =>
            {
                // Jobs are created as an application's requests create them: each on its own, so a slow one (the
                // database busy) does not hold back the next.
                using var inFlight = new SemaphoreSlim(32);
                var clock = Stopwatch.StartNew();
                double due1 = 0, due2 = 0;
                var last = clock.Elapsed;
                while (!stop.IsCancellationRequested)
                {
                    var now = clock.Elapsed;
                    if (!_paused)
                    {
                        due1 += (now - last).TotalSeconds * s.StressedRate;
                        due2 += (now - last).TotalSeconds * s.OtherRate;
                        for (; due1 >= 1; due1--)
                        {
                            CreateLater(GateBenchSettings.Stressed, inFlight);
                        }

                        for (; due2 >= 1; due2--)
                        {
                            CreateLater(GateBenchSettings.Other, inFlight);
                        }
                    }

                    last = now;
                    await Task.Delay(5, CancellationToken.None);
                }

                for (var i = 0; i < 32; i++)
                {
                    await inFlight.WaitAsync(CancellationToken.None); // the last creations have finished
                }
            }, CancellationToken.None);
        }

        /// <summary>Waits until the stressed shard is open, its parked jobs are all released and nothing waits in the queue.</summary>
        private async Task SettleAsync()
        {
            await WaitUntilAsync(() => gate.Check(GateBenchSettings.Stressed).IsOpen, TimeSpan.FromSeconds(60), $"{GateBenchSettings.Stressed} open");
            await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE statename = '{ParkedState.StateName}'") == 0,
                TimeSpan.FromSeconds(180), "every parked job released");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        private async Task<long> CountAsync(string sql)
        {
            await using var command = dataSource.CreateCommand(sql);
            return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        }

        // ---- stresses ----

        public async Task StressAsync()
        {
            var master = s.Pairs[0].Master("a");
            var kinds = new (string Name, Func<ServerStress> Create)[]
            {
                ("threads_running", () => new ThreadsRunningStress(master, 50)),
                ("connections", () => new ConnectionsStress(master)),
                ("stop_slave", () => new ReplicationStress(master)),
                ("shutdown", () => new ShutdownStress(master)),
                ("freeze", () => new FreezeStress(master)),
            };
            for (var rep = 0; rep < s.Repetitions; rep++)
            {
                foreach (var (name, create) in kinds)
                {
                    await SettleAsync();
                    await Task.Delay(_random.Next(0, 250)); // any phase of the probe schedule
                    await using var stress = create();
                    var onset = await stress.ApplyAsync();
                    await WaitUntilAsync(() => !gate.Check(GateBenchSettings.Stressed).IsOpen, TimeSpan.FromSeconds(10), $"{GateBenchSettings.Stressed} closed by {name}");
                    var seen = DateTimeOffset.UtcNow;
                    await Task.Delay(TimeSpan.FromSeconds(2)); // jobs keep coming while it stays closed
                    var calm = await stress.UndoAsync();
                    await WaitUntilAsync(() => gate.Check(GateBenchSettings.Stressed).IsOpen, TimeSpan.FromSeconds(60), $"{GateBenchSettings.Stressed} open again");
                    var seenOpen = DateTimeOffset.UtcNow;
                    Bench.Log($"stress {name} #{rep + 1}: onset {onset:HH:mm:ss.fff}, closed in this process after {(seen - onset).TotalMilliseconds:0} ms, calm at {calm:HH:mm:ss.fff}");
                    _stresses.Add(new StressRep(name, onset, calm, seenOpen));
                }
            }
        }

        public async Task NoiseAsync()
        {
            for (var rep = 0; rep < s.Repetitions; rep++)
            {
                await SettleAsync();
                await using var noise = new NoiseStress(s.Pairs[0].Master("a"), s.NoiseDuration, seed: rep + 1);
                var start = await noise.ApplyAsync();
                await noise.Completion;
                var end = DateTimeOffset.UtcNow;
                await noise.UndoAsync();
                Bench.Log($"noise #{rep + 1}: {start:HH:mm:ss.fff}–{end:HH:mm:ss.fff}, {noise.Segments.Count} segments, {noise.Statements.Below}/{noise.Statements.Above} statements below/above");
                _noises.Add(new NoiseRep(start, end));
            }
        }

        // ---- release and processing rates ----

        public async Task<(string Release, string Process)> ReleaseAsync()
        {
            var releases = new List<double>();
            var processes = new List<double>();
            for (var rep = 0; rep < s.Repetitions; rep++)
            {
                await SettleAsync();
                _paused = true;
                await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE statename IN ('Enqueued', 'Processing')") == 0,
                    TimeSpan.FromSeconds(120), "the queue empty");

                // The workers' rate: a full queue of no-op jobs (created while no worker runs), from start to start.
                await fleet.ScaleToAsync(0);
                var queued = await CreateManyAsync(GateBenchSettings.Other, s.Backlog);
                await fleet.ScaleToAsync(s.WorkerProcesses);
                await WaitSucceededAsync(queued);
                await Task.Delay(300);
                var set = queued.ToHashSet();
                // The workers were just started: their first fifth of the queue runs while they warm up, and is left out.
                var starts = fleet.Records().Where(r => r.Kind == 'S' && set.Contains(r.Job)).Select(r => r.At).Order().ToList();
                var warm = starts.Skip(starts.Count / 5).ToList();
                var process = (warm.Count - 1) / (warm[^1] - warm[0]).TotalSeconds;
                processes.Add(process);

                // The releaser's rate: a parked backlog, after the ramp.
                await using (var stop = new ReplicationStress(s.Pairs[0].Master("a")))
                {
                    await stop.ApplyAsync();
                    await WaitUntilAsync(() => !gate.Check(GateBenchSettings.Stressed).IsOpen, TimeSpan.FromSeconds(10), $"{GateBenchSettings.Stressed} closed");
                    var parked = await CreateManyAsync(GateBenchSettings.Stressed, s.Backlog);
                    var count = await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE id BETWEEN {parked[0]} AND {parked[^1]} AND statename = '{ParkedState.StateName}'");
                    Bench.Log($"release #{rep + 1}: {count} of {parked.Count} jobs parked at creation");
                    var calm = await stop.UndoAsync();
                    var reopened = await ReopenedAfterAsync(calm);
                    await WaitSucceededAsync(parked);
                    var rampEnd = reopened + RampDuration;
                    var (released, first, last) = await EnqueuedAfterAsync(parked, rampEnd);
                    var release = released > 1 ? (released - 1) / (last - first).TotalSeconds : double.NaN;
                    releases.Add(release);
                    await Task.Delay(300);
                    var depth = QueueDepth(await EnqueuedTimesAsync(parked, reopened), fleet.Records().Where(r => r.Kind == 'S' && r.Job >= parked[0] && r.Job <= parked[^1]).Select(r => r.At).ToList(),
                        first, last);
                    Bench.Log($"release #{rep + 1}: {released} of {parked.Count} released after the {RampDuration.TotalSeconds:0} s ramp at {release:0}/s; "
                        + $"released but not started meanwhile: median {Bench.Median(depth):0}, min {depth.DefaultIfEmpty().Min():0} jobs (sampled every 100 ms); "
                        + $"the workers ran a {queued.Count}-job queue at {process:0}/s");
                }

                _paused = false;
            }

            Report("release_per_s", releases, "0", "after the ramp");
            Report("process_per_s", processes, "0", $"a {s.Backlog}-job queue, {s.WorkerProcesses} worker processes");
            return (Bench.Format(Bench.Median(releases)), Bench.Format(Bench.Median(processes)));
        }

        private async Task WaitSucceededAsync(List<long> ids) =>
            await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE id BETWEEN {ids[0]} AND {ids[^1]} AND statename = 'Succeeded'") >= ids.Count,
                TimeSpan.FromSeconds(600), $"{ids.Count} jobs succeeded");

        private async Task<DateTimeOffset> ReopenedAfterAsync(DateTimeOffset after)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                var changes = await ChangesAsync(GateBenchSettings.Stressed);
                if (changes.FirstOrDefault(c => c.At >= after && c.To == "open") is { } open)
                {
                    return open.At;
                }

                await Task.Delay(100);
            }

            throw new TimeoutException($"{GateBenchSettings.Stressed} did not reopen within 60 s of {after:HH:mm:ss.fff}");
        }

        private async Task<(int Count, DateTimeOffset First, DateTimeOffset Last)> EnqueuedAfterAsync(List<long> ids, DateTimeOffset after)
        {
            await using var command = dataSource.CreateCommand(
                $"SELECT createdat FROM {Hf}.state WHERE jobid BETWEEN {ids[0]} AND {ids[^1]} AND name = 'Enqueued' AND createdat >= $1 ORDER BY createdat");
            command.Parameters.Add(new NpgsqlParameter { Value = DateTime.SpecifyKind(after.UtcDateTime, DateTimeKind.Unspecified), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp });
            var times = new List<DateTimeOffset>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                times.Add(Utc(reader.GetDateTime(0)));
            }

            return times.Count == 0 ? (0, after, after) : (times.Count, times[0], times[^1]);
        }

        /// <summary>
        /// The Enqueued states of the jobs <paramref name="ids"/> spans, since <paramref name="after"/> (a job parked at
        /// creation also has one from then in its history: the candidate the election replaced).
        /// </summary>
        private async Task<List<DateTimeOffset>> EnqueuedTimesAsync(List<long> ids, DateTimeOffset after)
        {
            await using var command = dataSource.CreateCommand($"SELECT createdat FROM {Hf}.state WHERE jobid BETWEEN {ids[0]} AND {ids[^1]} AND name = 'Enqueued' AND createdat >= $1");
            command.Parameters.Add(new NpgsqlParameter { Value = DateTime.SpecifyKind(after.UtcDateTime, DateTimeKind.Unspecified), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp });
            var times = new List<DateTimeOffset>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                times.Add(Utc(reader.GetDateTime(0)));
            }

            return times;
        }

        /// <summary>Jobs released and not yet started, every 100 ms from <paramref name="from"/> to <paramref name="to"/>: whether the workers ever waited for the releaser.</summary>
        private static List<double> QueueDepth(List<DateTimeOffset> released, List<DateTimeOffset> started, DateTimeOffset from, DateTimeOffset to)
        {
            var depth = new List<double>();
            for (var t = from; t <= to; t += TimeSpan.FromMilliseconds(100))
            {
                depth.Add(released.Count(r => r <= t) - started.Count(st => st <= t));
            }

            return depth;
        }

        private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

        private async Task<List<ShardChange>> ChangesAsync(string shard)
        {
            await using var command = dataSource.CreateCommand($"SELECT at, to_mode FROM \"{schemas.OfflineTasks}\".shard_event WHERE shard = $1 ORDER BY id");
            command.Parameters.Add(new NpgsqlParameter { Value = shard });
            var changes = new List<ShardChange>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                changes.Add(new ShardChange(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1)));
            }

            return changes;
        }

        // ---- the end ----

        /// <summary>Stops the enqueuer and waits until every job created succeeded (at most 5 min); returns how many did not.</summary>
        public async Task<long> FinishAsync()
        {
            if (_stopEnqueuer is not null)
            {
                await _stopEnqueuer.CancelAsync();
                await _enqueuer;
            }

            var clock = Stopwatch.StartNew();
            long succeeded;
            while ((succeeded = await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE statename = 'Succeeded'")) < _created && clock.Elapsed < TimeSpan.FromMinutes(5))
            {
                await Task.Delay(500);
            }

            var failed = await CountAsync($"SELECT count(*) FROM {Hf}.job WHERE statename = 'Failed'");
            Bench.Log($"jobs: {_created} created, {succeeded} succeeded, {failed} failed");
            return _created - succeeded;
        }

        public async Task AnalyseAsync(Dictionary<string, string> figures)
        {
            var records = fleet.Records();
            var starts = records.Where(r => r.Kind == 'S' && r.Shard == GateBenchSettings.Stressed).Select(r => r.At).ToList();
            var fetches = records.Where(r => r.Kind == 'F' && r.Shard == GateBenchSettings.Stressed).ToList();
            var changes = await ChangesAsync(GateBenchSettings.Stressed);
            var closed = ClosedIntervals(changes);
            var parkedAt = await ParkedTimesAsync();

            // Over the whole run: starts while closed, and fetches of jobs already parked in the same closure.
            var startedWhileClosed = starts.Count(at => closed.Any(c => at > c.From && at < c.To));
            var parkedFetches = 0;
            var backlogFetches = 0;
            foreach (var fetch in fetches)
            {
                if (closed.FirstOrDefault(c => fetch.At > c.From && fetch.At < c.To) is not { } interval)
                {
                    continue;
                }

                if (parkedAt.TryGetValue(fetch.Job, out var parks) && parks.Any(p => p >= interval.From && p < fetch.At))
                {
                    parkedFetches++;
                }
                else
                {
                    backlogFetches++;
                }
            }

            foreach (var at in starts.Where(at => closed.Any(c => at > c.From && at < c.To)))
            {
                var c = closed.First(c => at > c.From && at < c.To);
                Bench.Log($"started while closed: a job of {GateBenchSettings.Stressed} at {at:HH:mm:ss.ffffff}, {(at - c.From).TotalMilliseconds:0.000} ms after the closure at {c.From:HH:mm:ss.ffffff}");
            }

            figures["started_while_closed"] = startedWhileClosed.ToString(CultureInfo.InvariantCulture);
            figures["parked_fetches"] = parkedFetches.ToString(CultureInfo.InvariantCulture);
            Bench.Log($"{GateBenchSettings.Stressed}: {closed.Count} closures, {starts.Count} job starts, {startedWhileClosed} while closed; "
                + $"{parkedFetches} fetches of jobs parked in the same closure, {backlogFetches} fetches of jobs queued before it closed (each parked at that fetch)");
            var other = await ChangesAsync(GateBenchSettings.Other);
            Bench.Log($"{GateBenchSettings.Other} (not stressed): {other.Count(c => c.To != "open")} closures during the run");

            if (_stresses.Count > 0)
            {
                var reactions = new Dictionary<string, List<double>>();
                var resumes = new Dictionary<string, List<double>>();
                foreach (var rep in _stresses)
                {
                    var close = closed.FirstOrDefault(c => c.From >= rep.Onset);
                    if (close is null)
                    {
                        Bench.Log($"stress {rep.Kind} at {rep.Onset:HH:mm:ss.fff}: no closure after it");
                        continue;
                    }

                    var last = starts.Where(at => at >= rep.Onset && at < close.To).DefaultIfEmpty(rep.Onset).Max();
                    var first = starts.Where(at => at >= close.To).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
                    var fetched = fetches.Where(f => f.At >= close.To).Select(f => f.At).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
                    var enqueued = await FirstEnqueuedAsync(close.To);
                    Bench.Log($"stress {rep.Kind}: after the reopening, this process saw it open +{(rep.SeenOpen - close.To).TotalMilliseconds:0} ms; the first job of {GateBenchSettings.Stressed} enqueued +{(enqueued - close.To).TotalMilliseconds:0} ms, "
                        + $"fetched +{(fetched - close.To).TotalMilliseconds:0} ms, started +{(first - close.To).TotalMilliseconds:0} ms; first created: {await FirstCreatedAsync(close.To)}");
                    var reaction = (last - rep.Onset).TotalMilliseconds;
                    var resume = (first - rep.Calm - HoldTime).TotalMilliseconds;
                    Add(reactions, rep.Kind, reaction);
                    Add(resumes, rep.Kind, resume);
                    Bench.Log($"stress {rep.Kind} at {rep.Onset:HH:mm:ss.fff}: last start {reaction:0} ms after the onset, closed {(close.From - rep.Onset).TotalMilliseconds:0} ms after it; "
                        + $"calm at {rep.Calm:HH:mm:ss.fff}, reopened {(close.To - rep.Calm).TotalMilliseconds:0} ms after, first start {resume:0} ms beyond the hold");
                }

                foreach (var (kind, values) in reactions)
                {
                    Report($"reaction_ms {kind}", values, "0", "target: median <= 500 for every stress");
                }

                foreach (var (kind, values) in resumes)
                {
                    Report($"resume_ms {kind}", values, "0", "target <= 250 beyond the hold for every stress");
                }

                var byStress = reactions.Values.Select(Bench.Median).ToList();
                Report("reaction_ms (the stresses' medians)", byStress, "0", "target: their median <= 300");
                figures["reaction_ms"] = Bench.Format(Bench.Median(byStress));
                var worstResume = resumes.Values.Select(Bench.Median).Max();
                Bench.Log($"resume_ms: the worst stress's median, {worstResume:0} ms beyond the hold");
                figures["resume_ms"] = Bench.Format(worstResume);
            }

            if (_noises.Count > 0)
            {
                var flaps = new List<double>();
                var closedShares = new List<double>();
                foreach (var noise in _noises)
                {
                    var transitions = changes.Count(c => c.At >= noise.Start && c.At <= noise.End);
                    var minutes = (noise.End - noise.Start).TotalMinutes;
                    var closedTime = closed.Sum(c => Math.Max(0, (Min(c.To, noise.End) - Max(c.From, noise.Start)).TotalSeconds));
                    flaps.Add(transitions / minutes);
                    closedShares.Add(100 * closedTime / (noise.End - noise.Start).TotalSeconds);
                }

                Report("flaps_per_min", flaps, "0.0", "closed/open transitions per minute of noise; target <= 2");
                Report("closed_pct_noisy", closedShares, "0", "share of the noise the shard was closed");
                figures["flaps_per_min"] = Bench.Format(Bench.Median(flaps), "0.0");
                figures["closed_pct_noisy"] = Bench.Format(Bench.Median(closedShares));
            }
        }

        private async Task<string> FirstCreatedAsync(DateTimeOffset after)
        {
            await using var command = dataSource.CreateCommand(
                $"SELECT j.id, j.createdat, j.statename FROM {Hf}.job j WHERE j.createdat >= $1 AND j.arguments::text LIKE $2 ORDER BY j.createdat LIMIT 3");
            command.Parameters.Add(new NpgsqlParameter { Value = DateTime.SpecifyKind(after.UtcDateTime, DateTimeKind.Unspecified), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp });
            command.Parameters.Add(new NpgsqlParameter { Value = $"%{GateBenchSettings.Stressed}%" });
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                rows.Add($"{reader.GetInt64(0)} +{(Utc(reader.GetDateTime(1)) - after).TotalMilliseconds:0} ms {reader.GetString(2)}");
            }

            return string.Join(", ", rows);
        }

        private async Task<DateTimeOffset> FirstEnqueuedAsync(DateTimeOffset after)
        {
            await using var command = dataSource.CreateCommand(
                $"SELECT min(s.createdat) FROM {Hf}.state s JOIN {Hf}.job j ON j.id = s.jobid WHERE s.name = 'Enqueued' AND s.createdat >= $1 AND j.arguments::text LIKE $2");
            command.Parameters.Add(new NpgsqlParameter { Value = DateTime.SpecifyKind(after.UtcDateTime, DateTimeKind.Unspecified), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp });
            command.Parameters.Add(new NpgsqlParameter { Value = $"%{GateBenchSettings.Stressed}%" });
            return await command.ExecuteScalarAsync() is DateTime at ? Utc(at) : DateTimeOffset.MaxValue;
        }

        private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

        private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

        private static void Add(Dictionary<string, List<double>> values, string key, double value)
        {
            if (!values.TryGetValue(key, out var list))
            {
                values[key] = list = [];
            }

            list.Add(value);
        }

        /// <summary>The intervals in which the shard was not open (closed or light-only), from its event log; the last one open-ended.</summary>
        private static List<Interval> ClosedIntervals(List<ShardChange> changes)
        {
            var intervals = new List<Interval>();
            DateTimeOffset? from = null;
            foreach (var change in changes)
            {
                if (change.To != "open" && from is null)
                {
                    from = change.At;
                }
                else if (change.To == "open" && from is { } f)
                {
                    intervals.Add(new Interval(f, change.At));
                    from = null;
                }
            }

            if (from is { } open)
            {
                intervals.Add(new Interval(open, DateTimeOffset.MaxValue));
            }

            return intervals;
        }

        private async Task<Dictionary<long, List<DateTimeOffset>>> ParkedTimesAsync()
        {
            var times = new Dictionary<long, List<DateTimeOffset>>();
            await using var command = dataSource.CreateCommand($"SELECT jobid, createdat FROM {Hf}.state WHERE name = '{ParkedState.StateName}'");
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var job = reader.GetInt64(0);
                if (!times.TryGetValue(job, out var list))
                {
                    times[job] = list = [];
                }

                list.Add(Utc(reader.GetDateTime(1)));
            }

            return times;
        }

        private sealed record Interval(DateTimeOffset From, DateTimeOffset To);
    }
}
