using System.Globalization;
using OfflineTasks.Benchmarks.Stress;

namespace OfflineTasks.Benchmarks.Gate;

/// <summary>One MariaDB pair of run.sh's: its directory (for scripts/mariadb-local.sh) and the ports of masters a and b.</summary>
internal sealed record BenchPair(string Directory, int PortA, int PortB)
{
    public MariaDbServer Master(string node) => new(Directory, node, node == "a" ? PortA : PortB);

    public override string ToString() => $"{Directory}:{PortA},{PortB}";
}

/// <summary>Settings of the <c>gate</c> benchmark, from its options.</summary>
internal sealed record GateBenchSettings(
    string ConnectionString,
    IReadOnlyList<BenchPair> Pairs,
    int Repetitions,
    int WorkerProcesses,
    double StressedRate,
    double OtherRate,
    TimeSpan NoiseDuration,
    int Backlog,
    int RatioN,
    int ProbeWindowSeconds,
    IReadOnlySet<string> Phases)
{
    /// <summary>The stressed shard (on the first pair) and the one that keeps working (on the second).</summary>
    public const string Stressed = "bench-1";

    public const string Other = "bench-2";

    public static readonly string[] AllPhases = ["decision", "ratio", "probe", "stress", "noise", "release"];

    public static GateBenchSettings From(BenchArgs args)
    {
        var phases = (args.String("phases") ?? string.Join(',', AllPhases)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        if (phases.Except(AllPhases).FirstOrDefault() is { } unknown)
        {
            throw new ArgumentException($"--phases: unknown phase '{unknown}' (phases: {string.Join(", ", AllPhases)}).");
        }

        var settings = new GateBenchSettings(
            Bench.ConnectionString(args),
            ParsePairs(args.String("pairs") ?? throw new ArgumentException("--pairs DIR1:A1,B1;DIR2:A2,B2 is required (run.sh starts two pairs).")),
            args.Int("reps", 3, 1, 100),
            args.Int("worker-processes", 2, 1, 16),
            args.Double("stressed-rate") ?? 50,
            args.Double("other-rate") ?? 20,
            TimeSpan.FromSeconds(args.Int("noise-seconds", 60, 1, 3600)),
            args.Int("backlog", 5000, 100, 1_000_000),
            args.Int("ratio-n", 10000, 100, 1_000_000),
            args.Int("probe-window-seconds", 5, 1, 600),
            phases);
        args.RejectUnknown();
        if (settings.Pairs.Count != 2)
        {
            throw new ArgumentException("--pairs must name two pairs: the stressed shard's and the other's.");
        }

        return settings;
    }

    /// <summary>Parses <c>DIR1:A1,B1;DIR2:A2,B2</c>.</summary>
    public static IReadOnlyList<BenchPair> ParsePairs(string text) =>
        text.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p =>
        {
            var colon = p.LastIndexOf(':');
            var ports = colon > 0 ? p[(colon + 1)..].Split(',') : [];
            if (ports.Length != 2 || !int.TryParse(ports[0], CultureInfo.InvariantCulture, out var a) || !int.TryParse(ports[1], CultureInfo.InvariantCulture, out var b))
            {
                throw new ArgumentException($"--pairs: '{p}' is not DIR:PORT_A,PORT_B");
            }

            return new BenchPair(p[..colon], a, b);
        }).ToList();

    public string PairsArgument() => string.Join(';', Pairs.Select(p => p.ToString()));

    /// <summary>OfflineTasks' configuration of every process of the run: the schema, and the two shards; every gate setting at its default.</summary>
    public static Dictionary<string, string?> Configuration(string connectionString, BenchSchemas schemas, IReadOnlyList<BenchPair> pairs)
    {
        var settings = new Dictionary<string, string?>
        {
            ["OfflineTasks:ConnectionString"] = connectionString,
            ["OfflineTasks:Schema"] = schemas.OfflineTasks,
        };
        foreach (var (pair, shard) in pairs.Zip([Stressed, Other]))
        {
            foreach (var (port, i) in new[] { (pair.PortA, 0), (pair.PortB, 1) })
            {
                var prefix = $"OfflineTasks:Gate:Shards:{shard}:Masters:{i}:";
                settings[prefix + "Port"] = port.ToString(CultureInfo.InvariantCulture);
                settings[prefix + "User"] = "probe";
                settings[prefix + "Password"] = "probe-pass";
            }
        }

        // Experiments only: BENCH_GATE_CONFIG="OfflineTasks:Gate:Ramp:Parallelism=16;..." overrides settings in every process.
        foreach (var pair in (Environment.GetEnvironmentVariable("BENCH_GATE_CONFIG") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                settings[pair[..equals].Trim()] = pair[(equals + 1)..].Trim();
            }
        }

        return settings;
    }
}
