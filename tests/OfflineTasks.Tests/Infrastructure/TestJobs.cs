using System.Collections.Concurrent;
using OfflineTasks.Jobs;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>Jobs for in-process tests. Each records under a key the test chooses, so parallel tests do not mix.</summary>
public static class TestJobs
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<(DateTime At, int Value)>> Runs = new();

    public static IReadOnlyList<(DateTime At, int Value)> RunsOf(string key) =>
        Runs.TryGetValue(key, out var q) ? q.ToArray() : [];

    private static void Record(string key, int value) => Runs.GetOrAdd(key, _ => new()).Enqueue((DateTime.UtcNow, value));

    public static Task RecordAsync(string key, int value)
    {
        Record(key, value);
        return Task.CompletedTask;
    }

    public static void RecordSync(string key, int value) => Record(key, value);

    public static Task FailAsync(string key)
    {
        Record(key, 0);
        throw new InvalidOperationException($"boom from {key}");
    }

    public static Task DeferOnceAsync(string key, JobContext context)
    {
        Record(key, context.Attempt * 100 + context.DeferCount);
        if (context.DeferCount == 0)
        {
            context.Defer(TimeSpan.FromMilliseconds(100), "waiting for the test");
        }

        return Task.CompletedTask;
    }

    public static async Task SleepAsync(string key, int milliseconds, CancellationToken cancellationToken)
    {
        Record(key, 1);
        await Task.Delay(milliseconds, cancellationToken);
        Record(key, 2);
    }

    public static Task TakesInt(int value) => Task.CompletedTask;

    private static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new();

    /// <summary>Runs until the test calls <see cref="Release"/> with the same key (or the job is cancelled).</summary>
    public static async Task WaitForReleaseAsync(string key, CancellationToken cancellationToken)
    {
        Record(key, 1);
        await Gates.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(cancellationToken);
        Record(key, 2);
    }

    public static void Release(string key) => Gates.GetOrAdd(key, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}

/// <summary>An instance job resolved from DI.</summary>
public interface IGreeter
{
    Task GreetAsync(string key, string name, CancellationToken cancellationToken);
}

public sealed class Greeter : IGreeter
{
    public Task GreetAsync(string key, string name, CancellationToken cancellationToken) => TestJobs.RecordAsync(key, name.Length);
}
