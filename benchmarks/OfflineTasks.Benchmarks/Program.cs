using OfflineTasks.Benchmarks;

// OfflineTasks.Benchmarks <benchmark> [--option value ...]
// Prints exactly one summary line to stdout; everything else (logs, progress) goes to stderr.
// Normally started by benchmarks/run.sh, which also brings up its own PostgreSQL and measures pgbench.
const string Usage = """
    usage: OfflineTasks.Benchmarks <benchmark> [options]

    benchmarks:
      throughput   enqueue N no-op jobs with no server running (enqueue_per_s), then start one worker
                   server and time until all N have succeeded (process_per_s)

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
