using System.Collections.Concurrent;
using System.Globalization;
using Hangfire;
using Hangfire.Common;
using Hangfire.Server;
using Hangfire.States;
using OfflineTasks.Hangfire;

namespace OfflineTasks.Benchmarks.Gate;

/// <summary>The gate benchmark's job: a no-op on the shard it is given, recording its start.</summary>
public static class GateJob
{
    /// <summary>Records that job <paramref name="context"/> started on <paramref name="shard"/>.</summary>
    [Shard("{0}")]
    public static void Run(string shard, long sequence, PerformContext? context) => GateRecorder.Record('S', context?.BackgroundJob.Id ?? "?", shard);
}

/// <summary>
/// Records, in a worker process of the gate benchmark, each start of a <see cref="GateJob"/> (<c>S</c>) and each
/// fetch of one, i.e. each election to Processing (<c>F</c>), as lines <c>KIND JOB SHARD UTC_TICKS</c> in a file,
/// flushed every 100 ms and at the end.
/// </summary>
internal static class GateRecorder
{
    private static readonly ConcurrentQueue<string> Pending = new();
    private static StreamWriter? _writer;
    private static Timer? _flush;

    public static void Open(string path)
    {
        _writer = new StreamWriter(path, append: false) { AutoFlush = false };
        _flush = new Timer(_ => Flush(), null, 100, 100);
    }

    public static void Record(char kind, string job, string shard) =>
        Pending.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{kind} {job} {shard} {DateTime.UtcNow.Ticks}"));

    public static void Close()
    {
        _flush?.Dispose();
        Flush();
        lock (Pending)
        {
            _writer?.Dispose();
            _writer = null;
        }
    }

    private static void Flush()
    {
        lock (Pending)
        {
            if (_writer is null)
            {
                return;
            }

            while (Pending.TryDequeue(out var line))
            {
                _writer.WriteLine(line);
            }

            _writer.Flush();
        }
    }

    /// <summary>An election filter ahead of OfflineTasks' (order 2000): every Processing candidate of a <see cref="GateJob"/> is a fetch.</summary>
    public sealed class FetchFilter : IElectStateFilter
    {
        public void OnStateElection(ElectStateContext context)
        {
            if (context.CandidateState is ProcessingState && context.BackgroundJob.Job is { } job && job.Type == typeof(GateJob) && job.Args[0] is string shard)
            {
                Record('F', context.BackgroundJob.Id, shard);
            }
        }
    }
}

/// <summary>
/// One worker process of the gate benchmark (<c>gate-worker</c>): Hangfire's server with its default worker count
/// and OfflineTasks with the benchmark's two shards, every gate setting at its default. Prints <c>ready</c> once
/// started, and runs until its standard input closes.
/// </summary>
internal static class GateWorker
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var connectionString = Bench.ConnectionString(args);
        var schemas = new BenchSchemas(args.String("hangfire-schema") ?? throw new ArgumentException("--hangfire-schema is required"),
            args.String("schema") ?? throw new ArgumentException("--schema is required"));
        var pairs = GateBenchSettings.ParsePairs(args.String("pairs") ?? throw new ArgumentException("--pairs is required"));
        var record = args.String("record") ?? throw new ArgumentException("--record is required");
        var workers = args.Int("workers", new BackgroundJobServerOptions().WorkerCount, 1, 1000);
        args.RejectUnknown();

        GateRecorder.Open(record);
        GlobalJobFilters.Filters.Add(new GateRecorder.FetchFilter(), 1);
        var storage = HangfireBench.Storage(connectionString, schemas.Hangfire);
        await using var app = HangfireBench.Host(storage, workers, GateBenchSettings.Configuration(connectionString, schemas, pairs));
        await app.StartAsync();
        Console.Out.WriteLine("ready");
        await Console.Out.FlushAsync();
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
        GateRecorder.Close();
        return 0;
    }
}
