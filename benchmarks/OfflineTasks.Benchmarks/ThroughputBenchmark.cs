using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Benchmarks;

/// <summary>Settings of the <c>throughput</c> benchmark.</summary>
internal sealed record ThroughputSettings(string ConnectionString, int N, int Slots, double? PgbenchTps, int Warmup, PollSettings Poll)
{
    public static ThroughputSettings From(BenchArgs args)
    {
        var settings = new ThroughputSettings(
            Bench.ConnectionString(args),
            args.Int("n", 20_000, 1, 10_000_000),
            args.Int("slots", 8, 1, 1024),
            args.Double("pgbench-tps"),
            args.Int("warmup", 1_000, 0, 1_000_000),
            PollSettings.From(args));
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
/// How the count is polled (adaptively by default): see <see cref="NoopWorkload.WaitUntilSucceededAsync"/>.
/// </summary>
internal static class ThroughputBenchmark
{
    public static async Task<int> RunAsync(ThroughputSettings settings)
    {
        var schema = Bench.NewSchema();
        using var host = BuildHost(settings, schema);
        var storage = host.Services.GetRequiredService<PostgresJobStorage>();
        var client = host.Services.GetRequiredService<IBackgroundJobClient>();
        var serverStarted = false;
        try
        {
            await new Migrator(storage.DataSource, schema).MigrateAsync();
            Log($"schema {schema} migrated; n={settings.N} slots={settings.Slots} warmup={settings.Warmup} poll={settings.Poll.Mode}");

            if (settings.Warmup > 0)
            {
                await WarmUpAsync(settings, schema, client, storage);
            }

            // ---- enqueue: build the Job objects and store them, no worker server running ----
            Bench.Collect();
            var enqueueCpu = Bench.CpuTime();
            var enqueueClock = Stopwatch.StartNew();
            var jobs = NoopWorkload.BuildJobs(settings.N);
            var built = enqueueClock.Elapsed;
            var ids = await client.EnqueueManyAsync(jobs);
            var enqueueElapsed = enqueueClock.Elapsed;
            enqueueCpu = Bench.CpuTime() - enqueueCpu;
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
            serverStarted = true;
            var process = await NoopWorkload.ProcessAsync(host, settings.N, settings.Poll);
            var processPerSecond = process.PerSecond;
            Log($"process: {process}");

            var tps = settings.PgbenchTps is { } t ? Bench.Format(t) : "na";
            Console.Out.WriteLine(
                $"throughput n={settings.N} slots={settings.Slots} enqueue_per_s={Bench.Format(enqueuePerSecond)} process_per_s={Bench.Format(processPerSecond)} pgbench_tps={tps}");
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

            await Bench.DropSchemaAsync(storage.DataSource, schema);
        }
    }

    /// <summary>Enqueues and processes <see cref="ThroughputSettings.Warmup"/> jobs with a throwaway host, then empties the tables.</summary>
    private static async Task WarmUpAsync(ThroughputSettings settings, string schema, IBackgroundJobClient client, PostgresJobStorage storage)
    {
        var clock = Stopwatch.StartNew();
        await client.EnqueueManyAsync(NoopWorkload.BuildJobs(settings.Warmup));
        using (var warmHost = BuildHost(settings, schema))
        {
            await warmHost.StartAsync();
            try
            {
                await NoopWorkload.WaitUntilSucceededAsync(warmHost.Services.GetRequiredService<PostgresJobStorage>(), settings.Warmup, clock, settings.Poll);
            }
            finally
            {
                await warmHost.StopAsync();
            }
        }

        await Bench.ExecuteAsync(storage.DataSource, $"TRUNCATE {schema}.job, {schema}.server");
        Log($"warm-up: {settings.Warmup} jobs enqueued and processed by a throwaway host in {clock.ElapsedMilliseconds} ms");
    }

    private static IHost BuildHost(ThroughputSettings settings, string schema) =>
        NoopWorkload.BuildHost(settings.ConnectionString, schema, settings.Slots);

    private static void Log(string message) => Bench.Log(message);
}
