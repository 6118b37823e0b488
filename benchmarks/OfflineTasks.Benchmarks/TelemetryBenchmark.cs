using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Alerts;
using OfflineTasks.Client;
using OfflineTasks.Gate;
using OfflineTasks.Gate.MySql;
using OfflineTasks.Hosting;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;
using OfflineTasks.Telemetry.Prometheus;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace OfflineTasks.Benchmarks;

/// <summary>Settings of the <c>telemetry</c> benchmark.</summary>
internal sealed record TelemetryBenchmarkSettings(
    string ConnectionString, int Jobs, int DepthWarmup, int DepthSamples, int ScrapeWarmup, int Scrapes,
    int N, int Slots, int Rounds, int Warmup, TimeSpan ScrapeEvery, TimeSpan SampleInterval, PollSettings Poll, IReadOnlySet<string> Phases)
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
            args.Int("slots", 8, 1, 1024),
            args.Int("rounds", 8, 1, 1000),
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
/// What telemetry costs: the leader's queue sample on a large table, one Prometheus scrape, and the slowdown of job
/// processing with metrics on. Three phases (docs/benchmarks.md):
/// <list type="number">
/// <item>depth: a fresh schema with the <see cref="QueueFixture"/> (1,000,000 jobs, a tenth waiting or running);
/// times <see cref="PostgresJobStorage.CountQueuesAsync"/>, the leader's sample, once with the table as loaded
/// (ANALYZEd, never vacuumed: the visibility map is empty) and once after <c>VACUUM (ANALYZE)</c>, which is what
/// autovacuum leaves in steady state; logs the EXPLAIN (ANALYZE, BUFFERS) of its statements both times.
/// depth_query_ms is the p50 after the VACUUM.</item>
/// <item>scrape: one round of the real <see cref="FleetSampler"/> on that table (queue depths, oldest ages, parked
/// jobs, alert states), shard states with MySQL signals, and recorded job durations, claims, deferrals and probes, in
/// an <see cref="OfflineTasksMetrics"/> whose MeterProvider has the Prometheus reader; /metrics served by Kestrel
/// with <c>MapOfflineTasksMetrics()</c>. scrape_ms is the p50 of a full HTTP GET of it.</item>
/// <item>overhead: N no-op jobs through a worker host with telemetry off (the plain host: the Meter exists, nobody
/// listens) and on (the same host plus <c>AddOfflineTasksTelemetry()</c>: the Prometheus reader, the fleet sampler at
/// its default interval, and a scraper on /metrics every second), in rounds of OFF/ON and ON/OFF alternately.
/// overhead_ratio = the median over the rounds of ON rate / OFF rate within the round: each round's two runs share
/// the machine's state of the moment, and one stalled run moves the median by one place only. The ratio of the
/// median rates is logged too.</item>
/// </list>
/// </summary>
internal static class TelemetryBenchmark
{
    private static readonly (string Name, string Sql)[] SampleStatements =
    [
        ("available", TelemetrySql.SampleAvailable),
        ("scheduled", TelemetrySql.SampleScheduled),
        ("processing", TelemetrySql.SampleProcessing),
        ("failed", TelemetrySql.SampleFailed),
        ("parked", TelemetrySql.SampleParked),
    ];

    // The depth phase samples as the leader does when two of the four shards are not open (as in the scrape phase's
    // shard states: users-2 closed, orders-1 light-only): their available jobs count as parked.
    private static readonly string[] NotOpenShards = ["users-2", "orders-1"];

    private static readonly string[] Masters = ["a", "b"];

    public static async Task<int> RunAsync(TelemetryBenchmarkSettings settings)
    {
        Log($"phases {string.Join(",", settings.Phases)}; jobs={settings.Jobs} n={settings.N} slots={settings.Slots} rounds={settings.Rounds}");
        double? depth = null;
        double? scrape = null;
        double? ratio = null;
        if (settings.Phases.Contains("depth") || settings.Phases.Contains("scrape"))
        {
            (depth, scrape) = await FixturePhasesAsync(settings);
        }

        if (settings.Phases.Contains("overhead"))
        {
            ratio = await OverheadAsync(settings);
        }

        Console.Out.WriteLine($"telemetry depth_query_ms={Format(depth)} scrape_ms={Format(scrape)} overhead_ratio={Format(ratio)}");
        Log("targets: depth_query_ms < 20, scrape_ms < 10, overhead_ratio >= 0.97");
        return 0;
    }

    // ---- depth and scrape: the large table ----

    private static async Task<(double? Depth, double? Scrape)> FixturePhasesAsync(TelemetryBenchmarkSettings settings)
    {
        var schema = Bench.NewSchema();
        await using var services = StorageServices(settings.ConnectionString, schema);
        var storage = services.GetRequiredService<PostgresJobStorage>();
        try
        {
            await new Migrator(storage.DataSource, schema).MigrateAsync();
            Log($"schema {schema} migrated; loading {settings.Jobs} jobs");
            var activity = await ServerActivityAsync(storage.DataSource);
            await QueueFixture.LoadAsync(storage, schema, settings.Jobs);

            double? depth = null;
            if (settings.Phases.Contains("depth"))
            {
                // As loaded, no page is all-visible yet: index-only scans fetch every row from the heap (or the planner
                // prefers bitmap heap scans). Not the headline: the worst case, for the notes.
                var cold = await TimeSamplesAsync(storage, settings.DepthWarmup, Math.Max(5, settings.DepthSamples / 4));
                Log($"depth sample before VACUUM: p50 {cold.P50:0.00} ms (min {cold.Min:0.00}, max {cold.Max:0.00}, {cold.Count} samples)");
                await ExplainAsync(storage.DataSource, schema, "before VACUUM");
            }

            var vacuum = Stopwatch.StartNew();
            await Bench.ExecuteAsync(storage.DataSource, $"VACUUM (ANALYZE) {schema}.job");
            await QueueFixture.EnableAutovacuumAsync(storage, schema);
            Log($"VACUUM (ANALYZE) of the job table in {vacuum.Elapsed.TotalSeconds:0.0} s (what autovacuum does in steady state); " +
                $"fixture and VACUUM: {(await ServerActivityAsync(storage.DataSource)) - activity}");

            if (settings.Phases.Contains("depth"))
            {
                await ExplainAsync(storage.DataSource, schema, "after VACUUM");
                var timed = await TimeSamplesAsync(storage, settings.DepthWarmup, settings.DepthSamples);
                Log($"depth sample after VACUUM: p50 {timed.P50:0.00} ms, p90 {timed.P90:0.00}, min {timed.Min:0.00}, max {timed.Max:0.00} " +
                    $"({timed.Count} samples after {settings.DepthWarmup} warm-ups; load average {LoadAverage()})");
                depth = timed.P50;
                await TimeStatementsAsync(storage.DataSource, schema, Math.Max(5, settings.DepthSamples / 2));
            }

            double? scrape = null;
            if (settings.Phases.Contains("scrape"))
            {
                scrape = await ScrapeAsync(settings, services, storage);
            }

            return (depth, scrape);
        }
        finally
        {
            await Bench.DropSchemaAsync(storage.DataSource, schema);
            try
            {
                // The fixture wrote hundreds of MB of WAL and dirty pages: checkpoint now, not in the middle of the overhead rounds.
                await Bench.ExecuteAsync(storage.DataSource, "CHECKPOINT");
            }
            catch (NpgsqlException e)
            {
                Log($"CHECKPOINT failed: {e.Message}");
            }
        }
    }

    private static async Task<Stats> TimeSamplesAsync(PostgresJobStorage storage, int warmup, int samples)
    {
        QueueCounts? counts = null;
        for (var i = 0; i < warmup; i++)
        {
            counts = await storage.CountQueuesAsync(NotOpenShards, CancellationToken.None);
        }

        var ms = new double[samples];
        for (var i = 0; i < samples; i++)
        {
            var started = Stopwatch.GetTimestamp();
            counts = await storage.CountQueuesAsync(NotOpenShards, CancellationToken.None);
            ms[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Log("sample: " + Describe(counts!));
        return new Stats(ms);
    }

    /// <summary>Where a sample's time goes: each statement alone, from the client, without EXPLAIN's per-row timing.</summary>
    private static async Task TimeStatementsAsync(NpgsqlDataSource dataSource, string schema, int samples)
    {
        var parts = new List<string>();
        foreach (var (name, sql) in SampleStatements)
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(sql.Replace("{s}", schema, StringComparison.Ordinal), connection);
            if (name == "parked")
            {
                command.Parameters.Add(new NpgsqlParameter { Value = NotOpenShards });
            }
            await command.PrepareAsync();
            var ms = new double[samples];
            for (var i = -2; i < samples; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                    }
                }

                if (i >= 0)
                {
                    ms[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }

            parts.Add($"{name} {Bench.Median(ms):0.00}");
        }

        Log($"each statement alone, p50 ms ({samples} runs, prepared): {string.Join(", ", parts)}");
    }

    /// <summary>The 1-minute load average (other work on the machine shows up here).</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Describe(QueueCounts c) =>
        $"available {string.Join(" ", c.Available.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value.Jobs}"))}; " +
        $"scheduled {c.Scheduled.Values.Sum()}, processing {c.Processing.Values.Sum()}, failed {c.Failed.Values.Sum()}; " +
        $"shards (available/deferred) {string.Join(" ", c.Shards.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value.Available}/{s.Value.Deferred}"))}";

    /// <summary>Logs the EXPLAIN (ANALYZE, BUFFERS) of the sample's statements, and the heap fetches they needed.</summary>
    private static async Task ExplainAsync(NpgsqlDataSource dataSource, string schema, string label)
    {
        Log($"EXPLAIN (ANALYZE, BUFFERS) of the sample's statements, {label}:");
        long heapFetches = 0;
        long heapBlocks = 0;
        double execution = 0;
        foreach (var (name, sql) in SampleStatements)
        {
            await using var command = dataSource.CreateCommand("EXPLAIN (ANALYZE, BUFFERS) " + sql.Replace("{s}", schema, StringComparison.Ordinal));
            if (name == "parked")
            {
                command.Parameters.Add(new NpgsqlParameter { Value = NotOpenShards });
            }
            await using var reader = await command.ExecuteReaderAsync();
            Log($"  [{name}]");
            while (await reader.ReadAsync())
            {
                var line = reader.GetString(0);
                Log("    " + line);
                heapFetches += Number(line, "Heap Fetches: ") is { } f ? (long)f : 0;
                heapBlocks += Number(line, "Heap Blocks: exact=") is { } b ? (long)b : 0;
                execution += Number(line, "Execution Time: ") ?? 0;
            }
        }

        Log($"  {label}: {heapFetches} heap fetches (index-only scans) and {heapBlocks} heap blocks (bitmap heap scans) in all, " +
            $"{execution:0.00} ms execution time in all (server side, with EXPLAIN's per-row timing)");
    }

    private static double? Number(string line, string label)
    {
        var at = line.IndexOf(label, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var text = new string(line[(at + label.Length)..].TakeWhile(c => char.IsDigit(c) || c == '.').ToArray());
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    private static async Task<double> ScrapeAsync(TelemetryBenchmarkSettings settings, IServiceProvider services, PostgresJobStorage storage)
    {
        var loggers = services.GetRequiredService<ILoggerFactory>();
        var now = DateTimeOffset.UtcNow;
        var shardStates = ShardStates(now);
        var modes = shardStates.ToDictionary(s => s.Shard, s => s.Mode, StringComparer.Ordinal);
        var options = new TelemetryOptions();
        foreach (var rule in AlertRules())
        {
            options.Alerts.Rules.Add(rule);
        }

        using var telemetrySettings = new TelemetrySettingsMonitor(Options.Create(options), null, null,
            () => QueueFixture.Queues, () => QueueFixture.Shards, loggers.CreateLogger<TelemetrySettingsMonitor>());
        await using var notifier = new OperationsNotifier(telemetrySettings, TimeProvider.System, loggers.CreateLogger<OperationsNotifier>());
        using var metrics = new OfflineTasksMetrics();

        // One round of the real sampler: leads, counts the 1,000,000-job table, stores and publishes the gauges.
        var sampleClock = Stopwatch.StartNew();
        await using (var sampler = new FleetSampler(storage, telemetrySettings, metrics, notifier, () => QueueFixture.Queues, () => modes,
                         TimeProvider.System, loggers.CreateLogger<FleetSampler>()))
        {
            var sampled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            sampler.Sampled += () => sampled.TrySetResult();
            await sampler.StartAsync(CancellationToken.None);
            await sampled.Task.WaitAsync(TimeSpan.FromSeconds(60));
            if (!sampler.IsLeading || metrics.FleetSample.SampledAt is null)
            {
                throw new InvalidOperationException("the fleet sampler did not take the telemetry role and sample the table.");
            }
        }

        Log($"fleet sampler: one round (lead, sample, store) in {sampleClock.ElapsedMilliseconds} ms: {metrics.FleetSample.Gauges.Count} fleet gauges, " +
            $"{metrics.FleetSample.Alerts.Count} alert states ({string.Join(", ", metrics.FleetSample.Alerts.Select(a => $"{a.Key} {a.Value.Status.ToString().ToLowerInvariant()}"))})");

        metrics.ShardSource = () => shardStates;
        metrics.AlertRuleSource = () => telemetrySettings.Current.Rules;
        var unheard = RecordingCost(metrics);
        var handler = new PrometheusScrapeHandler();
        using var provider = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService("offlinetasks", serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
            .AddMeter(OfflineTasksMetrics.MeterName)
            .AddOfflineTasksPrometheus(handler)
            .Build();
        RecordActivity(metrics);

        await using var server = await MetricsServer.StartAsync(handler);
        using var http = new HttpClient();
        byte[] body = [];
        for (var i = 0; i < settings.ScrapeWarmup; i++)
        {
            body = await http.GetByteArrayAsync(server.Url);
        }

        var ms = new double[settings.Scrapes];
        for (var i = 0; i < settings.Scrapes; i++)
        {
            var started = Stopwatch.GetTimestamp();
            body = await http.GetByteArrayAsync(server.Url);
            ms[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        var timed = new Stats(ms);
        var text = Encoding.UTF8.GetString(body);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var families = lines.Count(l => l.StartsWith("# TYPE ", StringComparison.Ordinal));
        var samples = lines.Count(l => !l.StartsWith('#'));
        Log($"scrape: {body.Length} bytes, {families} families, {samples} samples; GET {server.Url} p50 {timed.P50:0.00} ms, p90 {timed.P90:0.00}, " +
            $"min {timed.Min:0.00}, max {timed.Max:0.00} ({timed.Count} scrapes after {settings.ScrapeWarmup} warm-ups; load average {LoadAverage()})");

        // The same without HTTP: the collection (observable callbacks) and rendering alone.
        var direct = new double[settings.Scrapes];
        for (var i = 0; i < settings.Scrapes; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await handler.ScrapeAsync();
            direct[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Log($"scrape without HTTP (PrometheusScrapeHandler.ScrapeAsync): p50 {Bench.Median(direct):0.00} ms");
        Log($"instruments per job (one JobFinished, an eighth of a JobsClaimed): {RecordingCost(metrics):0} ns with the MeterProvider listening, {unheard:0} ns without");
        foreach (var family in new[] { "offlinetasks_queue_depth", "offlinetasks_shard_parked", "offlinetasks_alert_state" })
        {
            Log("  " + string.Join(" | ", lines.Where(l => l.StartsWith(family + "{", StringComparison.Ordinal)).Take(4)) + " …");
        }

        return timed.P50;
    }

    /// <summary>What the worker's per-job instruments cost, in ns per job (run after the timed scrapes: it adds to the series' values).</summary>
    private static double RecordingCost(OfflineTasksMetrics metrics)
    {
        const int Jobs = 400_000;
        var duration = TimeSpan.FromMilliseconds(3);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Jobs; i++)
        {
            if (i % 8 == 0)
            {
                metrics.JobsClaimed("default", 8);
            }

            metrics.JobFinished("default", "succeeded", duration, null);
        }

        return Stopwatch.GetElapsedTime(started).TotalNanoseconds / Jobs;
    }

    private static List<AlertRuleOptions> AlertRules() =>
    [
        new() { Name = "default-backlog", Kind = AlertKind.QueueDepth, Queue = "default", High = 20_000, Low = 5_000 },
        new() { Name = "emails-backlog", Kind = AlertKind.QueueDepth, Queue = "emails", High = 50_000, Low = 10_000 },
        new() { Name = "emails-stale", Kind = AlertKind.OldestAge, Queue = "emails", High = 3_600, Low = 600, For = TimeSpan.Zero },
        new() { Name = "reports-stale", Kind = AlertKind.OldestAge, Queue = "reports", High = 86_400, Low = 3_600 },
        new() { Name = "users-2-parked", Kind = AlertKind.ShardParked, Shard = "users-2", High = 5_000, Low = 500 },
    ];

    /// <summary>What a gate's shard states look like: two masters each, one shard closed, one light-only.</summary>
    private static List<ShardState> ShardStates(DateTimeOffset now)
    {
        static string Signals(string shard, DateTimeOffset at, int threadsRunning, double lag, bool replicating)
        {
            var masters = Masters.Select((m, i) => FormattableString.Invariant(
                $$"""
                "{{shard}}-{{m}}": {"sampled_at": "{{at:O}}", "probe_seconds": 0.0021, "reachable": true, "threads_connected": {{40 + i * 7}}, "max_connections": 500,
                 "connections_ratio": {{(40 + i * 7) / 500.0}}, "threads_running": {{threadsRunning + i}}, "read_only": {{(i == 1 ? "true" : "false")}},
                 "io_running": {{(replicating ? "true" : "false")}}, "sql_running": true, "lag_seconds": {{(replicating ? lag : "null")}}}
                """));
            return "{" + string.Join(", ", masters) + "}";
        }

        var age = TimeSpan.FromSeconds(1);
        return
        [
            new("orders-1", ShardMode.LightOnly, "replication io thread stopped on orders-1-b", now.AddMinutes(-7), null, null, Signals("orders-1", now, 9, 0.2, false), now, age, "degraded"),
            new("orders-2", ShardMode.Open, "all signals below low-water for 00:02:00", now.AddHours(-3), null, null, Signals("orders-2", now, 5, 0.1, true), now, age, "load"),
            new("users-1", ShardMode.Open, "all signals below low-water for 00:02:00", now.AddHours(-1), 40, null, Signals("users-1", now, 12, 0.4, true), now, age, "load"),
            new("users-2", ShardMode.Closed, "threads_running 181 >= 150 on users-2-a", now.AddMinutes(-2), null, "hold", Signals("users-2", now, 181, 3.5, true), now, age, "load"),
        ];
    }

    /// <summary>Per-process instruments as a worker that has run for a while has them: every queue, outcome and error type seen.</summary>
    private static void RecordActivity(OfflineTasksMetrics metrics)
    {
        var random = new Random(42);
        double Duration(double min, double max) => min * Math.Exp(random.NextDouble() * Math.Log(max / min));
        foreach (var queue in QueueFixture.Queues)
        {
            for (var i = 0; i < 500; i++)
            {
                metrics.JobsClaimed(queue, 1 + random.Next(8));
            }

            for (var i = 0; i < 2_000; i++)
            {
                metrics.JobFinished(queue, "succeeded", TimeSpan.FromSeconds(Duration(0.001, 120)), null);
            }

            foreach (var error in new[] { "System.TimeoutException", "System.Net.Http.HttpRequestException" })
            {
                for (var i = 0; i < 40; i++)
                {
                    metrics.JobFinished(queue, "retried", TimeSpan.FromSeconds(Duration(0.01, 30)), error);
                }

                for (var i = 0; i < 5; i++)
                {
                    metrics.JobFinished(queue, "failed", TimeSpan.FromSeconds(Duration(0.01, 30)), error);
                }
            }

            for (var i = 0; i < 30; i++)
            {
                metrics.JobFinished(queue, "deferred", TimeSpan.FromSeconds(Duration(0.001, 1)), null);
            }

            metrics.JobFinished(queue, "cancelled", TimeSpan.FromSeconds(25), null);
        }

        foreach (var shard in QueueFixture.Shards)
        {
            foreach (var reason in new[] { "load", "degraded", "unknown", "stale", "job" })
            {
                for (var i = 0; i < 10; i++)
                {
                    metrics.JobDeferred(shard, reason);
                }
            }

            foreach (var master in Masters)
            {
                for (var i = 0; i < 200; i++)
                {
                    MySqlStatusFailure? failure = shard == "orders-1" && master == "b" && i % 50 == 0 ? MySqlStatusFailure.Timeout : null;
                    metrics.Probed(shard, $"{shard}-{master}", TimeSpan.FromSeconds(Duration(0.0005, 0.05)), failure);
                }
            }
        }
    }

    // ---- overhead: no-op jobs with telemetry off and on ----

    private static async Task<double> OverheadAsync(TelemetryBenchmarkSettings settings)
    {
        var schema = Bench.NewSchema();
        await using var services = StorageServices(settings.ConnectionString, schema);
        var storage = services.GetRequiredService<PostgresJobStorage>();
        try
        {
            await new Migrator(storage.DataSource, schema).MigrateAsync();
            Log($"schema {schema} migrated; overhead: {settings.Rounds} rounds of {settings.N} no-op jobs with telemetry off and on, slots={settings.Slots}, " +
                $"while on: scrape every {settings.ScrapeEvery.TotalMilliseconds:0} ms (0 = never), sample every {settings.SampleInterval.TotalMilliseconds:0} ms; poll={settings.Poll.Mode}");
            if (settings.Warmup > 0)
            {
                foreach (var telemetry in new[] { false, true })
                {
                    var warm = await RunOnceAsync(settings, schema, storage, telemetry, settings.Warmup);
                    Log($"warm-up ({On(telemetry)}): {warm.Result}");
                }
            }

            var off = new List<ProcessResult>();
            var on = new List<ProcessResult>();
            var scrapes = new List<double>();
            for (var round = 1; round <= settings.Rounds; round++)
            {
                // OFF then ON in odd rounds, ON then OFF in even ones, so a drift of the machine favours neither.
                foreach (var telemetry in round % 2 == 1 ? new[] { false, true } : [true, false])
                {
                    var run = await RunOnceAsync(settings, schema, storage, telemetry, settings.N);
                    (telemetry ? on : off).Add(run.Result);
                    scrapes.AddRange(run.Scrapes);
                    Log($"round {round} {On(telemetry),-3}: {run.Result}{run.Note}; load average {LoadAverage()}");
                }
            }

            var paired = off.Zip(on, (a, b) => b.PerSecond / a.PerSecond).ToList();
            Log($"overhead: on/off within each round {string.Join(", ", paired.Select(r => r.ToString("0.000", CultureInfo.InvariantCulture)))} (median {Bench.Median(paired):0.000})");
            var offRate = Bench.Median(off.Select(r => r.PerSecond));
            var onRate = Bench.Median(on.Select(r => r.PerSecond));
            var offCpu = Bench.Median(off.Select(r => r.CpuMicrosecondsPerJob));
            var onCpu = Bench.Median(on.Select(r => r.CpuMicrosecondsPerJob));
            Log($"overhead: median rate off {offRate:0}/s ({string.Join(", ", off.Select(r => r.PerSecond.ToString("0", CultureInfo.InvariantCulture)))}), " +
                $"on {onRate:0}/s ({string.Join(", ", on.Select(r => r.PerSecond.ToString("0", CultureInfo.InvariantCulture)))}); ratio {onRate / offRate:0.000}");
            Log($"overhead: median CPU of this process per job off {offCpu:0} µs, on {onCpu:0} µs ({onCpu / offCpu:0.000}×); " +
                $"{scrapes.Count} scrapes under load, p50 {Bench.Median(scrapes):0.00} ms, max {(scrapes.Count > 0 ? scrapes.Max() : double.NaN):0.00} ms");
            // Paired within rounds: the machine drifts by more than the effect between rounds (see docs/benchmarks.md).
            return Bench.Median(paired);
        }
        finally
        {
            await Bench.DropSchemaAsync(storage.DataSource, schema);
        }
    }

    /// <summary>Empties the tables, enqueues <paramref name="n"/> jobs and processes them with a fresh host, telemetry off or on.</summary>
    private static async Task<(ProcessResult Result, IReadOnlyList<double> Scrapes, string Note)> RunOnceAsync(
        TelemetryBenchmarkSettings settings, string schema, PostgresJobStorage storage, bool telemetry, int n)
    {
        await Bench.ExecuteAsync(storage.DataSource, $"TRUNCATE {schema}.job, {schema}.server, {schema}.leader, {schema}.fleet_gauge, {schema}.alert_state");
        using var host = NoopWorkload.BuildHost(settings.ConnectionString, schema, settings.Slots, telemetry
            ? services => services.AddOfflineTasksTelemetry(configure: o =>
            {
                o.SampleInterval = settings.SampleInterval;
                o.LeaderLease = o.LeaderLease > 3 * settings.SampleInterval ? o.LeaderLease : 3 * settings.SampleInterval;
            })
            : null);
        await host.Services.GetRequiredService<IBackgroundJobClient>().EnqueueManyAsync(NoopWorkload.BuildJobs(n));

        // The endpoint is up before the clock starts (like a port that is bound at start); it answers once the host
        // has started and built the MeterProvider, and the scraper starts then.
        var server = telemetry ? await MetricsServer.StartAsync(host.Services.GetRequiredService<PrometheusScrapeHandler>()) : null;
        PeriodicScraper? scraper = null;
        try
        {
            var before = await ServerActivityAsync(storage.DataSource);
            var result = await NoopWorkload.ProcessAsync(host, n, settings.Poll,
                server is null || settings.ScrapeEvery == TimeSpan.Zero ? null : () => scraper = PeriodicScraper.Start(server.Url, settings.ScrapeEvery));
            var activity = (await ServerActivityAsync(storage.DataSource)) - before;
            if (server is null)
            {
                return (result, [], $"; PostgreSQL: {activity}");
            }

            var scrapes = scraper is null ? [] : await scraper.StopAsync();
            if (scraper?.Failures > 0)
            {
                throw new InvalidOperationException($"{scraper.Failures} scrapes failed while processing: {scraper.LastError}");
            }

            // Were the instruments live? Count the finished jobs the scrape reports.
            using var http = new HttpClient();
            var text = await http.GetStringAsync(server.Url);
            var finished = text.Split('\n')
                .Where(l => l.StartsWith("offlinetasks_jobs_finished_total{", StringComparison.Ordinal))
                .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
            return (result, scrapes, $"; {scrapes.Count} scrapes (p50 {Bench.Median(scrapes):0.00} ms, {scraper?.LastBytes ?? 0} bytes), metrics counted {finished} finished; PostgreSQL: {activity}");
        }
        finally
        {
            if (scraper is not null)
            {
                await scraper.DisposeAsync();
            }

            using (var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await host.StopAsync(stopTimeout.Token);
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>Server-wide counters that explain a slow run: checkpoints, buffers they wrote, WAL flushes.</summary>
    private static async Task<ServerActivity> ServerActivityAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint + b.buffers_clean + b.buffers_backend, w.wal_sync, w.wal_bytes::bigint
            FROM pg_stat_bgwriter b, pg_stat_wal w
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new ServerActivity(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    // ---- shared ----

    /// <summary>The storage as the library registers it (its data source and connection settings), without a host.</summary>
    private static ServiceProvider StorageServices(string connectionString, string schema)
    {
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            b.AddSimpleConsole(o => o.SingleLine = true);
            b.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            b.SetMinimumLevel(LogLevel.Warning);
        });
        services.AddOfflineTasks(configure: o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
            o.MigrateOnStart = false;
        });
        return services.BuildServiceProvider();
    }

    private static string On(bool telemetry) => telemetry ? "on" : "off";

    private static string Format(double? value) => value is { } v ? Bench.Format(v, "0.00") : "na";

    private static void Log(string message) => Bench.Log(message);

    private readonly record struct ServerActivity(long Checkpoints, long BuffersWritten, long WalSyncs, long WalBytes)
    {
        public static ServerActivity operator -(ServerActivity a, ServerActivity b) =>
            new(a.Checkpoints - b.Checkpoints, a.BuffersWritten - b.BuffersWritten, a.WalSyncs - b.WalSyncs, a.WalBytes - b.WalBytes);

        public override string ToString() =>
            $"{Checkpoints} checkpoints, {BuffersWritten} buffers written, {WalSyncs} WAL flushes, {WalBytes / 1024.0 / 1024.0:0.0} MB WAL";
    }

    /// <summary>Summary statistics of some timings, in ms.</summary>
    private sealed class Stats(IReadOnlyList<double> ms)
    {
        public int Count => ms.Count;

        public double P50 => Bench.Median(ms);

        public double P90 => Bench.Percentile(ms, 0.9);

        public double Min => ms.Min();

        public double Max => ms.Max();
    }
}
