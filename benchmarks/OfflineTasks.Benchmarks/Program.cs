using OfflineTasks.Benchmarks;

// OfflineTasks.Benchmarks <benchmark> [--option value ...]
// Prints exactly one summary line to stdout; everything else (logs, progress) goes to stderr.
// Normally started by benchmarks/run.sh, which also brings up its own PostgreSQL and measures pgbench.
const string Usage = """
    usage: OfflineTasks.Benchmarks <benchmark> [options]

    benchmarks:
      throughput   enqueue N no-op jobs with no server running (enqueue_per_s), then start one worker
                   server and time until all N have succeeded (process_per_s)
      telemetry    the leader's queue sample on a 1,000,000-job table (depth_query_ms), one /metrics scrape
                   (scrape_ms), and no-op job throughput with metrics on / off (overhead_ratio)

    throughput options:
      --connection-string S   Npgsql connection string (default: $OFFLINETASKS_BENCH_CONNECTION, else
                              Host=127.0.0.1;Port=54339;Username=postgres;Database=postgres)
      --n N                   jobs to enqueue and process (default 20000)
      --slots S               worker slots of the server (JobServerOptions.WorkerCount, default 8)
      --pgbench-tps X         pgbench -N TPS of the same PostgreSQL, measured by run.sh, echoed in the summary
      --warmup W              jobs enqueued and processed by a throwaway host before timing, to warm up JIT
                              and connection pool (default 1000, 0 = measure cold)
      --poll adaptive|fixed   how the succeeded count is polled while processing: adaptive (default) polls
                              every half of the expected remaining time, between --poll-ms and 1 s; fixed
                              polls every --poll-ms
      --poll-ms P             shortest (adaptive) or every (fixed) poll interval in ms (default 20)
      --timeout-seconds T     give up when processing takes longer (default 600)

    telemetry options:
      --connection-string S   as above
      --phases LIST           some of depth,scrape,overhead (default all; a skipped phase prints na)
      --jobs J                jobs in the fixture table of depth and scrape (default 1000000, a tenth waiting/running)
      --depth-warmup W        untimed samples before timing (default 5)
      --depth-samples K       timed samples, after VACUUM; a quarter as many before it (default 40)
      --scrape-warmup W       untimed scrapes before timing (default 20)
      --scrapes K             timed scrapes (default 200)
      --n N                   no-op jobs per overhead run (default 20000)
      --slots S               worker slots (default 8)
      --rounds R              overhead rounds, each one run off and one on, alternating the order (default 8)
      --warmup W              jobs of the untimed off and on warm-up runs (default 1000, 0 = none)
      --scrape-every-ms P     how often the overhead runs with telemetry on scrape /metrics (default 1000, 0 = never)
      --sample-interval-ms I  OfflineTasks:Telemetry:SampleInterval of those runs (default 5000, the option's default)
      --poll, --poll-ms, --timeout-seconds   as above, for each overhead run
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 0 ? 2 : 0;
}

BenchArgs options;
try
{
    options = BenchArgs.Parse(args[1..]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"benchmarks: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}

try
{
    switch (args[0])
    {
        case "throughput":
            return await ThroughputBenchmark.RunAsync(ThroughputSettings.From(options));
        case "telemetry":
            return await TelemetryBenchmark.RunAsync(TelemetryBenchmarkSettings.From(options));
        default:
            Console.Error.WriteLine($"benchmarks: unknown benchmark '{args[0]}'.");
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"benchmarks: {e.Message}");
    return 2;
}
