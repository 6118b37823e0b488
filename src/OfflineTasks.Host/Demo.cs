using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OfflineTasks.Client;
using OfflineTasks.Host.Examples;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Host;

/// <summary>The README's first command: start the worker server, enqueue example jobs, watch them run, print what happened.</summary>
internal static class Demo
{
    public static async Task<int> RunAsync(IHost host)
    {
        await host.StartAsync();
        var jobs = host.Services.GetRequiredService<IBackgroundJobClient>();
        var storage = host.Services.GetRequiredService<PostgresJobStorage>();

        var ids = new List<long>();
        ids.AddRange(await jobs.EnqueueManyAsync(Enumerable.Range(1, 20).Select(userId =>
            Job.FromExpression<IPhotoIndexer>(x => x.ReindexAsync(userId, CancellationToken.None), new JobOptions { ShardKey = $"users-{userId % 2 + 1}" }))));
        ids.Add(await jobs.EnqueueAsync<IPhotoIndexer>(x => x.ReindexAsync(4242, CancellationToken.None), new JobOptions { Queue = "critical", Priority = 10 }));
        ids.Add(jobs.Schedule<IPhotoIndexer>(x => x.ReindexAsync(77, CancellationToken.None), TimeSpan.FromSeconds(2)));
        ids.Add(jobs.Enqueue(() => PhotoIndexer.ReindexFlakyAsync(7, null!)));
        Console.WriteLine($"demo: enqueued {ids.Count} jobs (20 in one bulk insert, 1 on the 'critical' queue, 1 delayed by 2 s, 1 that fails once and retries)");

        var deadline = TimeProvider.System.GetUtcNow() + TimeSpan.FromSeconds(60);
        List<JobDetails> final = [];
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            final = [];
            foreach (var id in ids)
            {
                if (await storage.GetJobAsync(id) is { } job)
                {
                    final.Add(job);
                }
            }

            if (final.All(j => j.State is JobState.Succeeded or JobState.Failed))
            {
                break;
            }

            await Task.Delay(250);
        }

        await host.StopAsync();
        Console.WriteLine();
        Console.WriteLine("demo: final states");
        foreach (var group in final.GroupBy(j => j.State))
        {
            Console.WriteLine($"  {group.Key,-10} {group.Count()}");
        }

        var flaky = final.LastOrDefault();
        if (flaky is not null)
        {
            Console.WriteLine($"demo: history of job {flaky.Id} ({flaky.Method}):");
            foreach (var t in flaky.History)
            {
                Console.WriteLine($"  {t.At:HH:mm:ss.fff}  {t.From?.ToString() ?? "-",-10} -> {t.To,-10} {t.Reason}");
            }
        }

        var ok = final.Count == ids.Count && final.All(j => j.State == JobState.Succeeded);
        Console.WriteLine(ok ? "demo: all jobs succeeded" : "demo: some jobs did not succeed");
        return ok ? 0 : 1;
    }
}
