using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OfflineTasks.Gate;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Benchmarks;

/// <summary>What a round runs.</summary>
internal enum RoundMode
{
    /// <summary>Plain Hangfire: no OfflineTasks at all (the jobs' <c>[Shard]</c> means nothing to it).</summary>
    Ungated,

    /// <summary>OfflineTasks installed, with the jobs' shard (their <c>[Shard]</c>) open on run.sh's MariaDB pair.</summary>
    Gated,

    /// <summary>OfflineTasks installed with its telemetry off (no fleet sampling, no Meter export); no shard configured.</summary>
    TelemetryOff,

    /// <summary>The same with telemetry on: the fleet sampler at its interval, the Prometheus exporter, /metrics scraped every second.</summary>
    TelemetryOn,
}

/// <summary>Settings of one round (the <c>round</c> subcommand, which the benchmarks start as a child process per round).</summary>
internal sealed record RoundSettings(RoundMode Mode, string ConnectionString, int N, int Workers, int Warmup, (int A, int B)? Pair, TimeSpan ScrapeEvery,
    TimeSpan SampleInterval, PollSettings Poll)
{
    public static RoundSettings From(BenchArgs args)
    {
        var mode = (args.String("mode") ?? "") switch
        {
            "ungated" => RoundMode.Ungated,
            "gated" => RoundMode.Gated,
            "telemetry-off" => RoundMode.TelemetryOff,
            "telemetry-on" => RoundMode.TelemetryOn,
            var other => throw new ArgumentException($"--mode must be ungated, gated, telemetry-off or telemetry-on, not '{other}'."),
        };
        var portA = args.Int("shard-port-a", 0, 0, 65535);
        var portB = args.Int("shard-port-b", 0, 0, 65535);
        if (mode == RoundMode.Gated && (portA == 0 || portB == 0))
        {
            throw new ArgumentException("a gated round needs --shard-port-a and --shard-port-b (run.sh's MariaDB pair).");
        }

        var settings = new RoundSettings(mode, Bench.ConnectionString(args), args.Int("n", 20_000, 1, 10_000_000), args.Int("workers", 8, 1, 1024),
            args.Int("warmup", 1_000, 0, 1_000_000), portA > 0 ? (portA, portB) : null,
            TimeSpan.FromMilliseconds(args.Int("scrape-every-ms", 1_000, 0, 600_000)),
            TimeSpan.FromMilliseconds(args.Int("sample-interval-ms", (int)new TelemetryOptions().SampleInterval.TotalMilliseconds, 100, 86_400_000)),
            PollSettings.From(args));
        args.RejectUnknown();
        return settings;
    }

    public static string Name(RoundMode mode) => mode switch
    {
        RoundMode.Ungated => "ungated",
        RoundMode.Gated => "gated",
        RoundMode.TelemetryOff => "telemetry-off",
        _ => "telemetry-on",
    };
}

/// <summary>
/// One timed run of N no-op jobs in a fresh process, so that no round inherits another's JIT state, connection pools or
/// Hangfire's process-wide filters: fresh schemas; a warm-up (W jobs through a throwaway host); N jobs created by 8
/// clients at once (timed: enqueue_per_s); then a host with Hangfire's server (8 workers) started and timed until
/// Hangfire's statistics count all N succeeded (process_per_s). Prints <c>round mode=… enqueue_per_s=… process_per_s=…</c>.
/// </summary>
internal static class Round
{
    public static async Task<int> RunAsync(RoundSettings settings)
    {
        var schemas = BenchSchemas.New();
        await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);
        var storage = HangfireBench.Storage(settings.ConnectionString, schemas.Hangfire);
        var offlineTasks = settings.Mode != RoundMode.Ungated;
        try
        {
            if (offlineTasks)
            {
                await new Migrator(dataSource, schemas.OfflineTasks).MigrateAsync();
            }

            if (settings.Warmup > 0)
            {
                await RunJobsAsync(settings, dataSource, storage, schemas, settings.Warmup, before: 0, timed: false);
            }

            var enqueued = await HangfireBench.EnqueueAsync(storage, settings.N, Sharded(settings.Mode));
            var before = (await HangfireBench.CountAsync(dataSource, schemas.Hangfire)).Succeeded;
            var processed = await RunJobsAsync(settings, dataSource, storage, schemas, settings.N, before, timed: true);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round mode={RoundSettings.Name(settings.Mode)} enqueue_per_s={settings.N / enqueued.TotalSeconds:0} process_per_s={settings.N / processed.TotalSeconds:0}"));
            return 0;
        }
        finally
        {
            await Bench.DropSchemaAsync(dataSource, schemas.Hangfire);
            await Bench.DropSchemaAsync(dataSource, schemas.OfflineTasks);
        }
    }

    /// <summary>Runs jobs through a host: for the warm-up, enqueues them first; when timed, times from the server's start until all have succeeded.</summary>
    private static async Task<TimeSpan> RunJobsAsync(RoundSettings settings, NpgsqlDataSource dataSource, JobStorage storage, BenchSchemas schemas, int n, long before,
        bool timed)
    {
        if (!timed)
        {
            before = (await HangfireBench.CountAsync(dataSource, schemas.Hangfire)).Succeeded;
        }

        var options = settings.Mode == RoundMode.Ungated ? null : HangfireBench.Settings(settings.ConnectionString, schemas, settings.Pair);
        if (options is not null)
        {
            options["OfflineTasks:Telemetry:Enabled"] = settings.Mode == RoundMode.TelemetryOff ? "false" : "true";
            options["OfflineTasks:Telemetry:SampleInterval"] = settings.SampleInterval.ToString("c", CultureInfo.InvariantCulture);
            options["OfflineTasks:Telemetry:LeaderLease"] = (settings.SampleInterval * 3).ToString("c", CultureInfo.InvariantCulture);
        }

        var exported = settings.Mode == RoundMode.TelemetryOn;
        await using var host = HangfireBench.Host(storage, settings.Workers, options,
            services =>
            {
                if (exported)
                {
                    services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(OfflineTasksMeter.Name).AddPrometheusExporter());
                }
            },
            app =>
            {
                if (exported)
                {
                    app.MapPrometheusScrapingEndpoint("/metrics");
                }
            });
        if (!timed)
        {
            await HangfireBench.EnqueueAsync(storage, n, Sharded(settings.Mode));
        }

        Bench.Collect();
        var cpu = Bench.CpuTime();
        var allocated = GC.GetTotalAllocatedBytes();
        var clock = Stopwatch.StartNew();
        await host.StartAsync();
        if (settings.Mode == RoundMode.Gated && !timed)
        {
            // The warm-up waits for the prober's first round, so that the timed run starts with the shard open.
            var gate = host.Services.GetRequiredService<IShardGate>();
            while (!gate.Check(HangfireBench.Shard).IsOpen)
            {
                await Task.Delay(50);
            }
        }

        using var scraping = new CancellationTokenSource();
        var scraper = exported && settings.ScrapeEvery > TimeSpan.Zero ? ScrapeAsync(host, settings.ScrapeEvery, scraping.Token) : Task.CompletedTask;
        await HangfireBench.WaitUntilSucceededAsync(dataSource, schemas.Hangfire, before + n, before, clock, settings.Poll);
        var elapsed = clock.Elapsed;
        cpu = Bench.CpuTime() - cpu;
        allocated = GC.GetTotalAllocatedBytes() - allocated;
        await scraping.CancelAsync();
        await scraper;
        await host.StopAsync();
        Bench.Log(string.Create(CultureInfo.InvariantCulture,
            $"{RoundSettings.Name(settings.Mode)} {(timed ? "timed" : "warm-up")}: {n} jobs in {elapsed.TotalMilliseconds:0} ms = {n / elapsed.TotalSeconds:0}/s; this process used {cpu.TotalMicroseconds / n:0} µs of CPU and allocated {allocated / n:0} B per job"));
        return elapsed;
    }

    private static bool Sharded(RoundMode mode) => mode is RoundMode.Ungated or RoundMode.Gated;

    private static async Task ScrapeAsync(WebApplication host, TimeSpan every, CancellationToken stop)
    {
        var url = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/metrics";
        using var http = new HttpClient();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                _ = await http.GetStringAsync(new Uri(url), stop);
                await Task.Delay(every, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
