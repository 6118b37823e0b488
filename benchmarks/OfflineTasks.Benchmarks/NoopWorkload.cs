using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Hosting;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Benchmarks;

/// <summary>How the processing phase polls the succeeded count.</summary>
internal enum PollMode
{
    /// <summary>Often near the expected end, rarely before it (see <see cref="NoopWorkload.WaitUntilSucceededAsync"/>).</summary>
    Adaptive,

    /// <summary>Every <see cref="PollSettings.Every"/>.</summary>
    Fixed,
}

/// <summary>How to wait for the jobs to succeed: <c>--poll</c>, <c>--poll-ms</c>, <c>--timeout-seconds</c>.</summary>
internal sealed record PollSettings(PollMode Mode, TimeSpan Every, TimeSpan Timeout)
{
    public static PollSettings From(BenchArgs args)
    {
        var poll = args.String("poll") ?? "adaptive";
        return new PollSettings(
            poll switch
            {
                "adaptive" => PollMode.Adaptive,
                "fixed" => PollMode.Fixed,
                _ => throw new ArgumentException($"--poll must be 'adaptive' or 'fixed', not '{poll}'."),
            },
            TimeSpan.FromMilliseconds(args.Int("poll-ms", 20, 1, 10_000)),
            TimeSpan.FromSeconds(args.Int("timeout-seconds", 600, 1, 86_400)));
    }
}

/// <summary>
/// The no-op workload the throughput and telemetry benchmarks share: N <see cref="NoopJob"/> jobs, one worker host
/// that runs them, and the wait until all have succeeded.
/// </summary>
internal static class NoopWorkload
{
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(1);

    public static Job[] BuildJobs(int n)
    {
        var jobs = new Job[n];
        for (var i = 0; i < n; i++)
        {
            var arg = i;
            jobs[i] = Job.FromExpression(() => NoopJob.RunAsync(arg));
        }

        return jobs;
    }

    /// <summary>
    /// A host with the storage and one worker server (<c>WorkerCount = slots</c>, every other option default, logging
    /// at Warning to stderr), on a schema that is migrated already. <paramref name="configure"/> adds services after
    /// the server's (e.g. telemetry).
    /// </summary>
    public static IHost BuildHost(string connectionString, string schema, int slots, Action<IServiceCollection>? configure = null)
    {
        // No command-line args and the exe's own folder as content root: only the settings below configure it.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddOfflineTasks(configure: o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
            o.MigrateOnStart = false; // migrated explicitly before the benchmark starts
        });
        builder.Services.AddOfflineTasksServer(configure: o =>
        {
            o.WorkerCount = slots;
            o.Name = "bench";
            o.ShutdownTimeout = TimeSpan.FromSeconds(10);
        });
        configure?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>
    /// Polls <see cref="PostgresJobStorage.CountByStateAsync"/> until <paramref name="n"/> jobs have succeeded; returns the
    /// number of polls. The count is a sequential scan of the job table (about 10 ms at 20,000 jobs): polled every 20 ms
    /// it would keep a PostgreSQL backend busy half the time and slow the server it measures (by about a third on 2
    /// cores). So by default it is polled adaptively: every half of the expected remaining time (from the rate so far),
    /// between <see cref="PollSettings.Every"/> and 1 s, which ends within about that much of the last job with a
    /// dozen or two polls. <see cref="PollMode.Fixed"/> polls every <see cref="PollSettings.Every"/>.
    /// </summary>
    public static async Task<int> WaitUntilSucceededAsync(PostgresJobStorage storage, int n, Stopwatch clock, PollSettings poll)
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
            if (elapsed > poll.Timeout)
            {
                throw new TimeoutException($"only {succeeded} of {n} jobs succeeded within {poll.Timeout.TotalSeconds:0} s.");
            }

            var wait = poll.Every;
            if (poll.Mode == PollMode.Adaptive && succeeded > 0)
            {
                var expectedRemaining = elapsed * ((double)(n - succeeded) / succeeded);
                wait = TimeSpan.FromTicks(Math.Clamp(expectedRemaining.Ticks / 2, poll.Every.Ticks, Math.Max(MaxPoll.Ticks, poll.Every.Ticks)));
            }

            await Task.Delay(wait);
        }
    }

    /// <summary>
    /// Starts <paramref name="host"/> (whose job table holds <paramref name="n"/> available jobs) and times from
    /// <c>StartAsync</c> until all have succeeded; <paramref name="started"/> runs right after <c>StartAsync</c>, inside
    /// the timed span. Also measures this process's CPU time, allocations and GCs over that span. Leaves the host running.
    /// </summary>
    public static async Task<ProcessResult> ProcessAsync(IHost host, int n, PollSettings poll, Action? started = null)
    {
        var storage = host.Services.GetRequiredService<PostgresJobStorage>();
        Bench.Collect();
        var cpu = Bench.CpuTime();
        var allocated = GC.GetTotalAllocatedBytes();
        var gcs = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var clock = Stopwatch.StartNew();
        await host.StartAsync();
        var startup = clock.Elapsed;
        started?.Invoke();
        var polls = await WaitUntilSucceededAsync(storage, n, clock, poll);
        var elapsed = clock.Elapsed;
        return new ProcessResult(n, elapsed, startup, polls, Bench.CpuTime() - cpu, GC.GetTotalAllocatedBytes() - allocated,
            GC.CollectionCount(0) - gcs.Item1, GC.CollectionCount(1) - gcs.Item2, GC.CollectionCount(2) - gcs.Item3);
    }
}

/// <summary>One timed processing run of <see cref="NoopWorkload.ProcessAsync"/>.</summary>
internal sealed record ProcessResult(int N, TimeSpan Elapsed, TimeSpan Startup, int Polls, TimeSpan Cpu, long AllocatedBytes, int Gen0, int Gen1, int Gen2)
{
    public double PerSecond => N / Elapsed.TotalSeconds;

    public double CpuMicrosecondsPerJob => Cpu.TotalMicroseconds / N;

    public override string ToString() =>
        $"{N} jobs in {Elapsed.TotalMilliseconds:0} ms (server start {Startup.TotalMilliseconds:0} ms, {Polls} polls) = {PerSecond:0}/s; " +
        $"this process used {Cpu.TotalMilliseconds:0} ms CPU ({CpuMicrosecondsPerJob:0} µs per job), " +
        $"allocated {AllocatedBytes / N:0} B per job, GCs gen0/1/2 {Gen0}/{Gen1}/{Gen2}";
}
