using System.Diagnostics;
using System.Globalization;
using Hangfire;
using Hangfire.AspNetCore;
using Hangfire.PostgreSql;
using Hangfire.PostgreSql.Factories;
using Hangfire.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OfflineTasks.Hangfire;
using OfflineTasks.Hosting;

namespace OfflineTasks.Benchmarks;

/// <summary>The jobs of the benchmarks: no-ops.</summary>
public static class NoopJob
{
    /// <summary>Without a shard.</summary>
    public static void Run(int i) => _ = i;

    /// <summary>On shard <c>bench-{shard}</c> (which a host without OfflineTasks ignores).</summary>
    [Shard("bench-{0}")]
    public static void OnShard(int shard, int i) => _ = (shard, i);
}

/// <summary>Hangfire's two schemas of one benchmark run: Hangfire's and OfflineTasks' own.</summary>
internal sealed record BenchSchemas(string Hangfire, string OfflineTasks)
{
    public static BenchSchemas New()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        return new BenchSchemas("hf_bench_" + id, "ot_bench_" + id);
    }
}

/// <summary>Hosts, storage and the no-op workload on the Hangfire path, shared by the benchmarks.</summary>
internal static class HangfireBench
{
    /// <summary>The shard the gated runs use, served by run.sh's MariaDB pair.</summary>
    public const string Shard = "bench-1";

    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(1);

    /// <summary>Hangfire.PostgreSql over <paramref name="schema"/> with the options OfflineTasks recommends (<see cref="PostgreSqlStorageOptionsExtensions.ForOfflineJobs"/>).</summary>
    public static PostgreSqlStorage Storage(string connectionString, string schema)
    {
        var options = new PostgreSqlStorageOptions { SchemaName = schema, PrepareSchemaIfNecessary = true }.ForOfflineJobs();
        return new PostgreSqlStorage(new NpgsqlConnectionFactory(connectionString, options), options);
    }

    /// <summary>
    /// A host with Hangfire's server (<paramref name="workers"/> workers on <c>default</c>, every other option
    /// default) over <paramref name="storage"/>, and, when <paramref name="settings"/> is given, OfflineTasks
    /// (<c>UseOfflineTasks()</c> and <c>AddOfflineTasks</c> with those settings). An ASP.NET Core app on a free loopback
    /// port, for <paramref name="map"/>'s endpoints. Logs warnings to stderr.
    /// </summary>
    public static WebApplication Host(JobStorage storage, int workers, IReadOnlyDictionary<string, string?>? settings, Action<IServiceCollection>? more = null,
        Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(storage);
        builder.Services.AddSingleton<JobActivator>(sp => new AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        // AddHangfire points Hangfire's process-wide log provider at this host's logger factory, which dies with it;
        // a round runs two hosts one after the other, so Hangfire logs its warnings to stderr instead.
        builder.Services.AddHangfire(c =>
        {
            c.UseLogProvider(StderrLogProvider.Instance);
            if (settings is not null)
            {
                c.UseOfflineTasks();
            }
        });
        builder.Services.AddHangfireServer(o =>
        {
            o.WorkerCount = workers;
            o.Queues = ["default"];
            o.ServerName = "bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        });
        if (settings is not null)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            builder.Services.AddOfflineTasks(configuration);
        }

        more?.Invoke(builder.Services);
        var app = builder.Build();
        map?.Invoke(app);
        return app;
    }

    /// <summary>OfflineTasks' settings of a benchmark run: its schema, and shard <see cref="Shard"/> on run.sh's MariaDB pair when ports are given.</summary>
    public static Dictionary<string, string?> Settings(string connectionString, BenchSchemas schemas, (int A, int B)? pair)
    {
        var settings = new Dictionary<string, string?>
        {
            ["OfflineTasks:ConnectionString"] = connectionString,
            ["OfflineTasks:Schema"] = schemas.OfflineTasks,
        };
        if (pair is { } p)
        {
            foreach (var (port, i) in new[] { (p.A, 0), (p.B, 1) })
            {
                var prefix = $"OfflineTasks:Gate:Shards:{Shard}:Masters:{i}:";
                settings[prefix + "Port"] = port.ToString(CultureInfo.InvariantCulture);
                settings[prefix + "User"] = "probe";
                settings[prefix + "Password"] = "probe-pass";
            }
        }

        return settings;
    }

    /// <summary>
    /// Creates <paramref name="n"/> no-op jobs with <paramref name="parallelism"/> clients at once; returns how long it
    /// took. The throughput rounds, ungated and gated alike, run <see cref="NoopJob.OnShard"/>, so that only whether
    /// the gate is installed differs (Hangfire deserializes every argument several times per job: a second argument
    /// alone costs ~8 KB of allocations per job); the telemetry rounds run <see cref="NoopJob.Run"/>.
    /// </summary>
    public static async Task<TimeSpan> EnqueueAsync(JobStorage storage, int n, bool sharded, int parallelism = 8)
    {
        GlobalConfiguration.Configuration.UseLogProvider(StderrLogProvider.Instance);
        var client = new BackgroundJobClient(storage);
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, parallelism).Select(worker => Task.Run(() =>
        {
            for (var i = Interlocked.Increment(ref next); i < n; i = Interlocked.Increment(ref next))
            {
                var arg = i;
                _ = sharded ? client.Enqueue(() => NoopJob.OnShard(1, arg)) : client.Enqueue(() => NoopJob.Run(arg));
            }
        })));
        return clock.Elapsed;
    }

    /// <summary>
    /// Waits until <paramref name="target"/> jobs are in the Succeeded state in Hangfire's job table (counted with
    /// SQL over the state index: Hangfire's own <c>stats:succeeded</c> counter was one short of the Succeeded jobs
    /// after a 21,000-job run here, so it cannot be waited for). Polls adaptively (every half of the expected
    /// remaining time, from <paramref name="poll"/>'s interval to 1 s) so that polling barely loads the server it
    /// measures. Throws when a job failed or the timeout passes.
    /// </summary>
    public static async Task<int> WaitUntilSucceededAsync(NpgsqlDataSource dataSource, string schema, long target, long before, Stopwatch clock, PollSettings poll)
    {
        var polls = 0;
        while (true)
        {
            var (succeeded, failed) = await CountAsync(dataSource, schema);
            polls++;
            if (succeeded >= target)
            {
                return polls;
            }

            if (failed > 0)
            {
                throw new InvalidOperationException($"no-op jobs failed: {failed} (see the warnings above).");
            }

            var elapsed = clock.Elapsed;
            if (elapsed > poll.Timeout)
            {
                throw new TimeoutException($"only {succeeded - before} of {target - before} jobs succeeded within {poll.Timeout.TotalSeconds:0} s.");
            }

            var wait = poll.Every;
            var done = succeeded - before;
            if (poll.Mode == PollMode.Adaptive && done > 0)
            {
                var expectedRemaining = elapsed * ((double)(target - succeeded) / done);
                wait = TimeSpan.FromTicks(Math.Clamp(expectedRemaining.Ticks / 2, poll.Every.Ticks, Math.Max(MaxPoll.Ticks, poll.Every.Ticks)));
            }

            await Task.Delay(wait);
        }
    }

    /// <summary>Jobs in the Succeeded and Failed states in Hangfire's job table.</summary>
    public static async Task<(long Succeeded, long Failed)> CountAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT count(*) FILTER (WHERE statename = 'Succeeded'), count(*) FILTER (WHERE statename = 'Failed') FROM \"{schema}\".job WHERE statename IN ('Succeeded', 'Failed')");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}

/// <summary>Hangfire's warnings and errors, to stderr (stdout carries only the benchmark's result line).</summary>
internal sealed class StderrLogProvider : global::Hangfire.Logging.ILogProvider
{
    public static readonly StderrLogProvider Instance = new();

    public global::Hangfire.Logging.ILog GetLogger(string name) => new Logger(name);

    private sealed class Logger(string name) : global::Hangfire.Logging.ILog
    {
        public bool Log(global::Hangfire.Logging.LogLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            if (logLevel < global::Hangfire.Logging.LogLevel.Warn)
            {
                return false;
            }

            if (messageFunc is not null)
            {
                Console.Error.WriteLine($"hangfire {logLevel} {name}: {messageFunc()}{(exception is null ? "" : " " + exception.Message)}");
            }

            return true;
        }
    }
}

/// <summary>How the processing phase polls the succeeded count.</summary>
internal enum PollMode
{
    /// <summary>Often near the expected end, rarely before it.</summary>
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
            TimeSpan.FromMilliseconds(args.Int("poll-ms", 50, 1, 10_000)),
            TimeSpan.FromSeconds(args.Int("timeout-seconds", 900, 1, 86_400)));
    }

    public IEnumerable<string> Arguments() =>
        ["--poll", Mode == PollMode.Adaptive ? "adaptive" : "fixed", "--poll-ms", ((int)Every.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--timeout-seconds", ((int)Timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)];
}
