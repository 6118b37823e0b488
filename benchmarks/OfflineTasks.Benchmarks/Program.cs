using OfflineTasks.Benchmarks;

// OfflineTasks.Benchmarks <benchmark> [--option value ...]
// Prints exactly one summary line to stdout; everything else (logs, progress) goes to stderr.
// Normally started by benchmarks/run.sh, which also brings up its own PostgreSQL and measures pgbench.
const string Usage = """
    usage: OfflineTasks.Benchmarks <benchmark> [options]

    benchmarks (each prints one summary line on stdout; progress goes to stderr):
      throughput   no-op Hangfire jobs with and without the gate: enqueue_per_s, process_per_s (plain Hangfire),
                   gated_process_per_s (OfflineTasks installed, jobs on an open shard), gated_vs_ungated
      telemetry    the leader's sample on 1,000,000 jobs in Hangfire's tables (depth_query_ms), one /metrics scrape
                   (scrape_ms), and no-op job throughput with telemetry on / off (overhead_ratio)
      gate         the gate under real MySQL stress: decision_ns, gated_vs_ungated, probe_qps_1proc/4proc,
                   reaction_ms, resume_ms, flaps_per_min, closed_pct_noisy, parked_fetches, release_per_s,
                   process_per_s, started_while_closed, lost
      round        one timed round in this process (the others start it as a child process per round)
      gate-worker  one worker process of the gate benchmark (it starts them)

    throughput options:
      --connection-string S   Npgsql connection string (default: $OFFLINETASKS_BENCH_CONNECTION, else
                              Host=127.0.0.1;Port=54339;Username=postgres;Database=postgres)
      --n N                   jobs of each round (default 20000)
      --workers W             Hangfire workers (default 8)
      --rounds R              pairs of rounds, ungated and gated, alternating which goes first (default 3)
      --warmup W              jobs each round runs through a throwaway host before timing (default 1000)
      --shard-port-a/-b P     the MariaDB pair serving shard bench-1 (run.sh starts one); required
      --pgbench-tps X         pgbench -N TPS of the same PostgreSQL, measured by run.sh, echoed in the summary
      --poll adaptive|fixed, --poll-ms P, --timeout-seconds T   how the succeeded count is polled

    gate options:
      --connection-string S   as above
      --pairs D1:A1,B1;D2:A2,B2   two MariaDB pairs of scripts/mariadb-local.sh (directory and ports of a and b):
                              the stressed shard bench-1 and bench-2, which keeps working; required
      --reps R                repetitions of each measure (default 3)
      --phases LIST           some of decision,ratio,probe,stress,noise,release (default all; a skipped one prints na)
      --worker-processes P    gate-worker processes during the stress, noise and release phases (default 2)
      --stressed-rate X, --other-rate Y   jobs per second enqueued on bench-1 and bench-2 (default 50, 20)
      --noise-seconds T       length of each noise repetition (default 60)
      --backlog N             parked backlog released, and queue processed, per repetition (default 5000)
      --ratio-n N             jobs of each gated / ungated round (default 10000)
      --probe-window-seconds W   length of each probe-load window (default 5)

    telemetry options:
      --connection-string S   as above
      --phases LIST           some of depth,scrape,overhead (default all; a skipped phase prints na)
      --jobs J                jobs loaded into Hangfire's tables for depth and scrape (default 1000000)
      --depth-warmup W, --depth-samples K    untimed and timed samples (default 5, 40)
      --scrape-warmup W, --scrapes K         untimed and timed scrapes (default 20, 200)
      --n N, --workers W, --warmup W         as above, for each overhead round
      --rounds R              pairs of overhead rounds, off and on (default 3)
      --scrape-every-ms P     how often a round with telemetry on scrapes /metrics (default 1000, 0 = never)
      --sample-interval-ms I  OfflineTasks:Telemetry:SampleInterval of those rounds (default 5000, the option's default)
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
        case "round":
            return await Round.RunAsync(RoundSettings.From(options));
        case "gate":
            return await OfflineTasks.Benchmarks.Gate.GateBenchmark.RunAsync(OfflineTasks.Benchmarks.Gate.GateBenchSettings.From(options));
        case "gate-worker":
            return await OfflineTasks.Benchmarks.Gate.GateWorker.RunAsync(options);
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
