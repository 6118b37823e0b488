using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Benchmarks;

/// <summary>Settings of the <c>telemetry</c> benchmark.</summary>
internal sealed record TelemetryBenchmarkSettings(
    string ConnectionString, int Jobs, int DepthWarmup, int DepthSamples, int ScrapeWarmup, int Scrapes, int N, int Workers, int Rounds, int Warmup,
    TimeSpan ScrapeEvery, TimeSpan SampleInterval, PollSettings Poll, IReadOnlySet<string> Phases)
{
    public static readonly string[] AllPhases = ["depth", "scrape", "overhead"];

    public static TelemetryBenchmarkSettings From(BenchArgs args)
    {
        var phases = (args.String("phases") ?? string.Join(',', AllPhases)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (phases.Length == 0 || phases.Any(p => !AllPhases.Contains(p)))
        {
            throw new ArgumentException($"--phases must list some of {string.Join(", ", AllPhases)}, not '{string.Join(',', phases)}'.");
        }

        var settings = new TelemetryBenchmarkSettings(
            Bench.ConnectionString(args),
            args.Int("jobs", 1_000_000, 1_000, 100_000_000),
            args.Int("depth-warmup", 5, 0, 10_000),
            args.Int("depth-samples", 40, 1, 100_000),
            args.Int("scrape-warmup", 20, 0, 100_000),
            args.Int("scrapes", 200, 1, 1_000_000),
            args.Int("n", 20_000, 1, 10_000_000),
            args.Int("workers", 8, 1, 1024),
            args.Int("rounds", 3, 1, 100),
            args.Int("warmup", 1_000, 0, 1_000_000),
            TimeSpan.FromMilliseconds(args.Int("scrape-every-ms", 1_000, 0, 600_000)),
            TimeSpan.FromMilliseconds(args.Int("sample-interval-ms", (int)new TelemetryOptions().SampleInterval.TotalMilliseconds, 100, 86_400_000)),
            PollSettings.From(args),
            phases.ToHashSet(StringComparer.Ordinal));
        args.RejectUnknown();
        return settings;
    }
}

/// <summary>
/// What telemetry costs, on the Hangfire path (docs/benchmarks.md):
/// <list type="number">
/// <item>depth: Hangfire's tables loaded with <see cref="HangfireFixture"/> (1,000,000 jobs); times the leader's
/// sample (<see cref="FleetSampler"/>: Hangfire's monitoring API per queue and state, the parked sets) after
/// <c>VACUUM (ANALYZE)</c>. depth_query_ms is its p50.</item>
/// <item>scrape: a host with OfflineTasks, the official OpenTelemetry Prometheus exporter (its response cache off, so
/// every scrape collects) and the fleet sample of that storage; scrape_ms is the p50 of a full HTTP GET of /metrics.</item>
/// <item>overhead: pairs of rounds (each in a process of its own, <see cref="Round"/>) of N no-op jobs with telemetry
/// off (no fleet sampling, no exporter) and on (the sampler at its interval, the exporter, /metrics scraped every
/// second), alternating which goes first. overhead_ratio is the median over the pairs of on / off.</item>
/// </list>
/// </summary>
internal static class TelemetryBenchmark
{
    public static async Task<int> RunAsync(TelemetryBenchmarkSettings settings)
    {
        string depth = "na", scrape = "na", overhead = "na";
        if (settings.Phases.Contains("depth") || settings.Phases.Contains("scrape"))
        {
            (depth, scrape) = await DepthAndScrapeAsync(settings);
        }

        if (settings.Phases.Contains("overhead"))
        {
            var pairs = await Rounds.PairsAsync(settings.Rounds, RoundMode.TelemetryOff, RoundMode.TelemetryOn, _ => Options(settings));
            var ratios = pairs.Select(p => p.B.ProcessPerSecond / p.A.ProcessPerSecond).ToList();
            Bench.Log($"overhead: on/off by pair {string.Join(", ", ratios.Select(r => Bench.Format(r, "0.000")))}; off {string.Join(", ", pairs.Select(p => Bench.Format(p.A.ProcessPerSecond)))}/s, on {string.Join(", ", pairs.Select(p => Bench.Format(p.B.ProcessPerSecond)))}/s (target >= 0.97)");
            overhead = Bench.Format(Bench.Median(ratios), "0.000");
        }

        Console.Out.WriteLine($"telemetry depth_query_ms={depth} scrape_ms={scrape} overhead_ratio={overhead}");
        return 0;
    }

    private static async Task<(string Depth, string Scrape)> DepthAndScrapeAsync(TelemetryBenchmarkSettings settings)
    {
        var schemas = BenchSchemas.New();
        await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);
        var storage = HangfireBench.Storage(settings.ConnectionString, schemas.Hangfire);
        try
        {
            await new Migrator(dataSource, schemas.OfflineTasks).MigrateAsync();
            var clock = Stopwatch.StartNew();
            await HangfireFixture.LoadAsync(dataSource, schemas.Hangfire, settings.Jobs);
            await HangfireFixture.VacuumAsync(dataSource, schemas.Hangfire);
            Bench.Log($"fixture: {settings.Jobs} jobs loaded with SQL and vacuumed in {clock.ElapsedMilliseconds} ms");

            var options = HangfireBench.Settings(settings.ConnectionString, schemas, pair: null);
            options["OfflineTasks:Telemetry:SampleInterval"] = "00:00:00.5";
            options["OfflineTasks:Telemetry:LeaderLease"] = "00:00:02";
            options["OfflineTasks:Telemetry:Queues:0"] = "critical";
            options["OfflineTasks:Telemetry:Queues:1"] = "default";
            await using var host = HangfireBench.Host(storage, 1, options,
                services => services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(OfflineTasksMeter.Name).AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)),
                app => app.MapPrometheusScrapingEndpoint("/metrics"));

            var sampler = host.Services.GetRequiredService<FleetSampler>();
            var depth = "na";
            if (settings.Phases.Contains("depth"))
            {
                var times = new List<double>();
                for (var i = 0; i < settings.DepthWarmup + settings.DepthSamples; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    var gauges = sampler.Sample([.. HangfireFixture.Queues], [HangfireBench.Shard], DateTimeOffset.UtcNow);
                    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (i >= settings.DepthWarmup)
                    {
                        times.Add(elapsed);
                    }

                    if (i == 0)
                    {
                        Bench.Log("sample: " + string.Join(", ", gauges.Select(g => $"{g.Metric}{{{g.Subject},{g.State}}}={g.Value}")));
                    }
                }

                Bench.Log($"depth: {times.Count} samples, p50 {Bench.Median(times):0.0} ms, p90 {Bench.Percentile(times, 0.9):0.0} ms, max {times.Max():0.0} ms (target p50 < 20)");
                depth = Bench.Format(Bench.Median(times), "0.0");
            }

            var scrape = "na";
            if (settings.Phases.Contains("scrape"))
            {
                await host.StartAsync();
                var metrics = host.Services.GetRequiredService<OfflineTasksMetrics>();
                while (metrics.FleetSample.SampledAt is null)
                {
                    await Task.Delay(50);
                }

                metrics.JobPerformed("succeeded", TimeSpan.FromMilliseconds(3), null);
                metrics.JobPerformed("failed", TimeSpan.FromMilliseconds(30), "System.InvalidOperationException");
                metrics.JobParked(HangfireBench.Shard, "load", "processing");
                metrics.JobsReleased(HangfireBench.Shard, 10);
                var url = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/metrics";
                using var http = new HttpClient();
                var times = new List<double>();
                var bytes = 0;
                for (var i = 0; i < settings.ScrapeWarmup + settings.Scrapes; i++)
                {
                    var started = Stopwatch.GetTimestamp();
                    var body = await http.GetStringAsync(new Uri(url));
                    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    bytes = body.Length;
                    if (i >= settings.ScrapeWarmup)
                    {
                        times.Add(elapsed);
                    }
                }

                await host.StopAsync();
                Bench.Log($"scrape: {times.Count} GETs of {bytes} bytes, p50 {Bench.Median(times):0.00} ms, p90 {Bench.Percentile(times, 0.9):0.00} ms (target p50 < 10)");
                scrape = Bench.Format(Bench.Median(times), "0.00");
            }

            return (depth, scrape);
        }
        finally
        {
            await Bench.DropSchemaAsync(dataSource, schemas.Hangfire);
            await Bench.DropSchemaAsync(dataSource, schemas.OfflineTasks);
        }
    }

    private static IEnumerable<string> Options(TelemetryBenchmarkSettings settings) =>
        new[]
        {
            "--connection-string", settings.ConnectionString, "--n", Invariant(settings.N), "--workers", Invariant(settings.Workers),
            "--warmup", Invariant(settings.Warmup), "--scrape-every-ms", Invariant((int)settings.ScrapeEvery.TotalMilliseconds),
            "--sample-interval-ms", Invariant((int)settings.SampleInterval.TotalMilliseconds),
        }.Concat(settings.Poll.Arguments());

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
