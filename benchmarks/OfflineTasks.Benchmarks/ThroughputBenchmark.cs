using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OfflineTasks.Client;
using OfflineTasks.Hosting;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Benchmarks;

/// <summary>How the processing phase polls the succeeded count.</summary>
internal enum PollMode
{
    /// <summary>Often near the expected end, rarely before it (see <see cref="ThroughputBenchmark"/>).</summary>
    Adaptive,

    /// <summary>Every <see cref="ThroughputSettings.PollEvery"/>.</summary>
    Fixed,
}

/// <summary>Settings of the <c>throughput</c> benchmark.</summary>
internal sealed record ThroughputSettings(
    string ConnectionString, int N, int Slots, double? PgbenchTps, int Warmup, TimeSpan PollEvery, PollMode Poll, TimeSpan Timeout)
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=54339;Username=postgres;Database=postgres";

    public static ThroughputSettings From(BenchArgs args)
    {
        var poll = args.String("poll") ?? "adaptive";
        var settings = new ThroughputSettings(
            args.String("connection-string") ?? Environment.GetEnvironmentVariable("OFFLINETASKS_BENCH_CONNECTION") ?? DefaultConnectionString,
            args.Int("n", 20_000, 1, 10_000_000),
            args.Int("slots", 8, 1, 1024),
            args.Double("pgbench-tps"),
            args.Int("warmup", 1_000, 0, 1_000_000),
            TimeSpan.FromMilliseconds(args.Int("poll-ms", 20, 1, 10_000)),
            poll switch
            {
                "adaptive" => PollMode.Adaptive,
                "fixed" => PollMode.Fixed,
                _ => throw new ArgumentException($"--poll must be 'adaptive' or 'fixed', not '{poll}'."),
            },
            TimeSpan.FromSeconds(args.Int("timeout-seconds", 600, 1, 86_400)));
        args.RejectUnknown();
        return settings;
    }
}

/// <summary>
/// Enqueue and processing throughput of one worker server on no-op jobs.
/// <list type="number">
/// <item>A fresh schema <c>bench_xxxxxxxx</c>, migrated with <see cref="Migrator"/>.</item>
/// <item>Warm-up (<c>--warmup</c> jobs, 0 = none): enqueues them and runs them through a throwaway host, so the timed
/// phases run JIT-compiled, tiered-up code with an open connection pool; then truncates the job table.</item>
/// <item>enqueue_per_s: builds N jobs with <see cref="Job.FromExpression(System.Linq.Expressions.Expression{Func{Task}}, JobOptions?)"/>
/// and stores them with one <see cref="IBackgroundJobClient.EnqueueManyAsync"/> call, no server running; both are timed.</item>
/// <item>process_per_s: starts the host's <c>JobServer</c> (WorkerCount = slots) and times from start until
/// <see cref="PostgresJobStorage.CountByStateAsync"/> counts N succeeded.</item>
/// <item>Stops the host and drops the schema.</item>
/// </list>
/// The count is a sequential scan of the job table (about 10 ms at 20,000 jobs): polled every 20 ms it would keep a
/// PostgreSQL backend busy half the time and slow the server it measures (by about a third on 2 cores). So by default
/// it is polled adaptively: every half of the expected remaining time (from the rate so far), between 20 ms and 1 s,
/// which ends within about 20 ms of the last job with a dozen or two polls. <c>--poll fixed</c> polls every <c>--poll-ms</c>.
/// </summary>
internal static class ThroughputBenchmark
{
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(1);

    public static async Task<int> RunAsync(ThroughputSettings settings)
    {
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..8];
        using var host = BuildHost(settings, schema);
        var storage = host.Services.GetRequiredService<PostgresJobStorage>();
        var client = host.Services.GetRequiredService<IBackgroundJobClient>();
        var serverStarted = false;
        try
        {
            await new Migrator(storage.DataSource, schema).MigrateAsync();
            Log($"schema {schema} migrated; n={settings.N} slots={settings.Slots} warmup={settings.Warmup} poll={settings.Poll}");

            if (settings.Warmup > 0)
            {
                await WarmUpAsync(settings, schema, client, storage);
            }

            // ---- enqueue: build the Job objects and store them, no worker server running ----
            Collect();
            var enqueueCpu = CpuTime();
            var enqueueClock = Stopwatch.StartNew();
            var jobs = BuildJobs(settings.N);
            var built = enqueueClock.Elapsed;
            var ids = await client.EnqueueManyAsync(jobs);
            var enqueueElapsed = enqueueClock.Elapsed;
            enqueueCpu = CpuTime() - enqueueCpu;
            if (ids.Count != settings.N)
            {
                throw new InvalidOperationException($"EnqueueManyAsync returned {ids.Count} ids for {settings.N} jobs.");
            }

            var available = (await storage.CountByStateAsync())[JobState.Available];
            if (available != settings.N)
            {
                throw new InvalidOperationException($"{available} jobs are available after enqueueing {settings.N}.");
            }

            var enqueuePerSecond = settings.N / enqueueElapsed.TotalSeconds;
            Log($"enqueue: {settings.N} jobs in {enqueueElapsed.TotalMilliseconds:0} ms (building Job objects {built.TotalMilliseconds:0} ms, " +
                $"EnqueueManyAsync {(enqueueElapsed - built).TotalMilliseconds:0} ms) = {enqueuePerSecond:0}/s; " +
                $"this process used {enqueueCpu.TotalMilliseconds:0} ms CPU");

            // ---- process: start the worker server, wait until every job has succeeded ----
            jobs = null;
            Collect();
            var processCpu = CpuTime();
            var allocated = GC.GetTotalAllocatedBytes();
            var gcs = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
            var processClock = Stopwatch.StartNew();
            serverStarted = true;
            await host.StartAsync();
            var startup = processClock.Elapsed;
            var polls = await WaitUntilSucceededAsync(storage, settings.N, processClock, settings);
            var processElapsed = processClock.Elapsed;
            processCpu = CpuTime() - processCpu;
            var processPerSecond = settings.N / processElapsed.TotalSeconds;
            Log($"process: {settings.N} jobs in {processElapsed.TotalMilliseconds:0} ms (server start {startup.TotalMilliseconds:0} ms, {polls} polls) = {processPerSecond:0}/s; " +
                $"this process used {processCpu.TotalMilliseconds:0} ms CPU ({processCpu.TotalMicroseconds / settings.N:0} µs per job), " +
                $"allocated {(GC.GetTotalAllocatedBytes() - allocated) / settings.N:0} B per job, " +
                $"GCs gen0/1/2 {GC.CollectionCount(0) - gcs.Item1}/{GC.CollectionCount(1) - gcs.Item2}/{GC.CollectionCount(2) - gcs.Item3}");

            var tps = settings.PgbenchTps is { } t ? Format(t) : "na";
            Console.Out.WriteLine(
                $"throughput n={settings.N} slots={settings.Slots} enqueue_per_s={Format(enqueuePerSecond)} process_per_s={Format(processPerSecond)} pgbench_tps={tps}");
            if (settings.PgbenchTps is { } pgbench and > 0)
            {
                Log($"process_per_s / pgbench_tps = {processPerSecond / pgbench:0.00} (target >= 2.5); enqueue_per_s target >= 50000");
            }

            return 0;
        }
        finally
        {
            if (serverStarted)
            {
                using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await host.StopAsync(stopTimeout.Token);
            }

            try
            {
                await ExecuteAsync(storage.DataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
            }
            catch (NpgsqlException e)
            {
                Log($"could not drop schema {schema}: {e.Message}");
            }
        }
    }

    /// <summary>Enqueues and processes <see cref="ThroughputSettings.Warmup"/> jobs with a throwaway host, then empties the tables.</summary>
    private static async Task WarmUpAsync(ThroughputSettings settings, string schema, IBackgroundJobClient client, PostgresJobStorage storage)
    {
        var clock = Stopwatch.StartNew();
        await client.EnqueueManyAsync(BuildJobs(settings.Warmup));
        using (var warmHost = BuildHost(settings, schema))
        {
            await warmHost.StartAsync();
            try
            {
                await WaitUntilSucceededAsync(warmHost.Services.GetRequiredService<PostgresJobStorage>(), settings.Warmup, clock, settings);
            }
            finally
            {
                await warmHost.StopAsync();
            }
        }

        await ExecuteAsync(storage.DataSource, $"TRUNCATE {schema}.job, {schema}.server");
        Log($"warm-up: {settings.Warmup} jobs enqueued and processed by a throwaway host in {clock.ElapsedMilliseconds} ms");
    }

    /// <summary>Polls until <paramref name="n"/> jobs have succeeded. Returns the number of polls.</summary>
    private static async Task<int> WaitUntilSucceededAsync(PostgresJobStorage storage, int n, Stopwatch clock, ThroughputSettings settings)
    {
        var polls = 0;
        while (true)
        {
            var counts = await storage.CountByStateAsync();
            polls++;
            var succeeded = counts[JobState.Succeeded];
            if (succeeded >= n)
            {
                return polls;
            }

            if (counts[JobState.Failed] > 0 || counts[JobState.Scheduled] > 0)
            {
                throw new InvalidOperationException(
                    $"no-op jobs did not all succeed: {counts[JobState.Failed]} failed, {counts[JobState.Scheduled]} scheduled for a retry (see the warnings above).");
            }

            var elapsed = clock.Elapsed;
            if (elapsed > settings.Timeout)
            {
                throw new TimeoutException($"only {succeeded} of {n} jobs succeeded within {settings.Timeout.TotalSeconds:0} s.");
            }

            var wait = settings.PollEvery;
            if (settings.Poll == PollMode.Adaptive && succeeded > 0)
            {
                var expectedRemaining = elapsed * ((double)(n - succeeded) / succeeded);
                wait = TimeSpan.FromTicks(Math.Clamp(expectedRemaining.Ticks / 2, settings.PollEvery.Ticks, Math.Max(MaxPoll.Ticks, settings.PollEvery.Ticks)));
            }

            await Task.Delay(wait);
        }
    }

    private static Job[] BuildJobs(int n)
    {
        var jobs = new Job[n];
        for (var i = 0; i < n; i++)
        {
            var arg = i;
            jobs[i] = Job.FromExpression(() => NoopJob.RunAsync(arg));
        }

        return jobs;
    }

    private static IHost BuildHost(ThroughputSettings settings, string schema)
    {
        // No command-line args and the exe's own folder as content root: only the settings below configure it.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddOfflineTasks(configure: o =>
        {
            o.ConnectionString = settings.ConnectionString;
            o.Schema = schema;
            o.MigrateOnStart = false; // migrated explicitly before the enqueue phase
        });
        builder.Services.AddOfflineTasksServer(configure: o =>
        {
            o.WorkerCount = settings.Slots;
            o.Name = "bench";
            o.ShutdownTimeout = TimeSpan.FromSeconds(10);
        });
        return builder.Build();
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static string Format(double value) => value.ToString("0", CultureInfo.InvariantCulture);

    private static void Log(string message) => Console.Error.WriteLine("bench: " + message);
}
