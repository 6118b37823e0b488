using System.Collections.Concurrent;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>Jobs for in-process tests. Each records its runs under a key the test chooses, so parallel tests do not mix.</summary>
public static class TestJobs
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<(DateTime At, string What)>> Runs = new();

    /// <summary>Every record under <paramref name="key"/>: "start" and "end" of each run, and what the job noted.</summary>
    public static IReadOnlyList<(DateTime At, string What)> RunsOf(string key) => Runs.TryGetValue(key, out var q) ? q.ToArray() : [];

    /// <summary>When the runs under <paramref name="key"/> started.</summary>
    public static List<DateTime> StartsOf(string key) => RunsOf(key).Where(r => r.What == "start").Select(r => r.At).ToList();

    public static void Record(string key, string what) => Runs.GetOrAdd(key, _ => new()).Enqueue((DateTime.UtcNow, what));

    /// <summary>No shard: runs ungated.</summary>
    public static async Task SleepAsync(string key, int ms)
    {
        Record(key, "start");
        await Task.Delay(ms);
        Record(key, "end");
    }

    /// <summary>A job on the shard its first argument names.</summary>
    [Shard("{0}")]
    public static async Task OnShardAsync(string shard, string key, int ms)
    {
        Record(key, "start");
        await Task.Delay(ms);
        Record(key, "end");
    }

    /// <summary>A job on the shard its first argument names that records its own id as it starts ("start 123").</summary>
    [Shard("{0}")]
    public static Task OnShardNamedAsync(string shard, string key, global::Hangfire.Server.PerformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Record(key, "start " + context.BackgroundJob.Id);
        return Task.CompletedTask;
    }

    /// <summary>A light job on the shard its first argument names.</summary>
    [Shard("{0}", Light = true)]
    public static Task LightOnShardAsync(string shard, string key)
    {
        Record(key, "start");
        return Task.CompletedTask;
    }

    /// <summary>A job whose shard format does not fit its arguments.</summary>
    [Shard("users-{1}")]
    public static Task BadFormat(int user) => Task.CompletedTask;

    public static Task FailAsync(string key)
    {
        Record(key, "start");
        throw new InvalidOperationException($"boom from {key}");
    }
}

/// <summary>A long job that checks its shard between chunks (resolved from DI, so it gets the gate).</summary>
public sealed class CheckpointJob(IShardGate gate)
{
    [Shard("{0}")]
    public async Task RunAsync(string shard, string key, int chunks, int chunkMs)
    {
        TestJobs.Record(key, "start");
        for (var i = 0; i < chunks; i++)
        {
            gate.ThrowIfClosed(shard);
            await Task.Delay(chunkMs);
            TestJobs.Record(key, "chunk");
        }

        TestJobs.Record(key, "end");
    }
}
