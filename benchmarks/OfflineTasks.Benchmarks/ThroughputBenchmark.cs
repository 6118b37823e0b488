using System.Globalization;

namespace OfflineTasks.Benchmarks;

/// <summary>Settings of the <c>throughput</c> benchmark.</summary>
internal sealed record ThroughputSettings(string ConnectionString, int N, int Workers, int Rounds, int Warmup, int PortA, int PortB, double? PgbenchTps, PollSettings Poll)
{
    public static ThroughputSettings From(BenchArgs args)
    {
        var settings = new ThroughputSettings(
            Bench.ConnectionString(args),
            args.Int("n", 20_000, 1, 10_000_000),
            args.Int("workers", 8, 1, 1024),
            args.Int("rounds", 3, 1, 100),
            args.Int("warmup", 1_000, 0, 1_000_000),
            args.Int("shard-port-a", 0, 1, 65535),
            args.Int("shard-port-b", 0, 1, 65535),
            args.Double("pgbench-tps"),
            PollSettings.From(args));
        args.RejectUnknown();
        if (settings.PortA == 0 || settings.PortB == 0)
        {
            throw new ArgumentException("--shard-port-a and --shard-port-b are required: the gated rounds need a MariaDB pair as their shard (run.sh starts one).");
        }

        return settings;
    }
}

/// <summary>
/// Throughput of Hangfire with and without the gate: <c>--rounds</c> pairs of rounds (each in a process of its own,
/// see <see cref="Round"/>), ungated (plain Hangfire.PostgreSql, no OfflineTasks) and gated (OfflineTasks installed,
/// jobs marked <c>[Shard("bench-{0}")]</c> on an open shard), alternating which runs first.
/// enqueue_per_s is the median over every round; process_per_s and gated_process_per_s the medians of each kind;
/// gated_vs_ungated the median over the pairs of gated / ungated within the pair.
/// </summary>
internal static class ThroughputBenchmark
{
    public static async Task<int> RunAsync(ThroughputSettings settings)
    {
        Bench.Log($"throughput: n={settings.N} workers={settings.Workers} rounds={settings.Rounds} (each an ungated and a gated process) warmup={settings.Warmup}");
        var pairs = await Rounds.PairsAsync(settings.Rounds, RoundMode.Ungated, RoundMode.Gated, _ => Options(settings));
        var all = pairs.SelectMany(p => new[] { p.A, p.B }).ToList();
        var enqueue = Bench.Median(all.Select(r => r.EnqueuePerSecond));
        var ungated = Bench.Median(pairs.Select(p => p.A.ProcessPerSecond));
        var gated = Bench.Median(pairs.Select(p => p.B.ProcessPerSecond));
        var ratio = Bench.Median(pairs.Select(p => p.B.ProcessPerSecond / p.A.ProcessPerSecond));
        Bench.Log($"ungated process_per_s: {string.Join(", ", pairs.Select(p => Bench.Format(p.A.ProcessPerSecond)))}; gated: {string.Join(", ", pairs.Select(p => Bench.Format(p.B.ProcessPerSecond)))}");
        Bench.Log($"gated/ungated by pair: {string.Join(", ", pairs.Select(p => Bench.Format(p.B.ProcessPerSecond / p.A.ProcessPerSecond, "0.000")))} (target >= 0.97)");
        var tps = settings.PgbenchTps is { } t ? Bench.Format(t) : "na";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"throughput n={settings.N} workers={settings.Workers} enqueue_per_s={Bench.Format(enqueue)} process_per_s={Bench.Format(ungated)} gated_process_per_s={Bench.Format(gated)} gated_vs_ungated={Bench.Format(ratio, "0.000")} pgbench_tps={tps}"));
        return 0;
    }

    private static IEnumerable<string> Options(ThroughputSettings settings) =>
        new[]
        {
            "--connection-string", settings.ConnectionString, "--n", Invariant(settings.N), "--workers", Invariant(settings.Workers),
            "--warmup", Invariant(settings.Warmup), "--shard-port-a", Invariant(settings.PortA), "--shard-port-b", Invariant(settings.PortB),
        }.Concat(settings.Poll.Arguments());

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
