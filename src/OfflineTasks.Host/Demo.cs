using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OfflineTasks.Client;
using OfflineTasks.Gate;
using OfflineTasks.Host.Examples;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Host;

/// <summary>
/// The README's first command: start the worker server, enqueue example jobs, watch them run. When a MariaDB
/// pair is configured as shard <c>users-1</c> (scripts/demo.sh starts one), it then stops replication on one
/// master, shows the shard closing and its jobs waiting, starts replication again, and shows them run.
/// </summary>
internal static class Demo
{
    private const string Shard = "users-1";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(IHost host)
    {
        var configuration = host.Services.GetRequiredService<IConfiguration>();
        var gated = configuration.GetSection($"{GateOptions.SectionName}:Shards:{Shard}").Exists();
        await host.StartAsync();
        var jobs = host.Services.GetRequiredService<IBackgroundJobClient>();
        var storage = host.Services.GetRequiredService<PostgresJobStorage>();
        if (gated)
        {
            var open = await WaitForShardAsync(storage, ShardMode.Open);
            Console.WriteLine($"demo: shard {Shard} is open: {open?.Reason}");
        }
        else
        {
            Console.WriteLine($"demo: no MySQL pair configured as shard {Shard} (OfflineTasks:Gate:Shards:{Shard}); the jobs run ungated and the gate part is skipped");
        }

        var shardKey = gated ? Shard : null;
        var ids = new List<long>();
        ids.AddRange(await jobs.EnqueueManyAsync(Enumerable.Range(1, 20).Select(userId =>
            Job.FromExpression<IPhotoIndexer>(x => x.ReindexAsync(userId, CancellationToken.None), new JobOptions { ShardKey = shardKey }))));
        ids.Add(await jobs.EnqueueAsync<IPhotoIndexer>(x => x.ReindexAsync(4242, CancellationToken.None), new JobOptions { Queue = "critical", Priority = 10 }));
        ids.Add(jobs.Schedule<IPhotoIndexer>(x => x.ReindexAsync(77, CancellationToken.None), TimeSpan.FromSeconds(2)));
        var flakyId = jobs.Enqueue(() => PhotoIndexer.ReindexFlakyAsync(7, null!));
        ids.Add(flakyId);
        Console.WriteLine($"demo: enqueued {ids.Count} jobs (20 for shard {shardKey ?? "(none)"} in one bulk insert, 1 on the 'critical' queue, 1 delayed by 2 s, 1 that fails once and retries)");
        var ok = await WaitForAllAsync(storage, ids);
        await PrintHistoryAsync(storage, flakyId);

        if (gated && configuration["Demo:MariaDbScript"] is { } script && configuration["Demo:MariaDbPair"] is { } pair)
        {
            ok &= await ShowGateAsync(storage, jobs, script, pair);
        }

        await host.StopAsync();
        Console.WriteLine(ok ? "demo: all jobs succeeded" : "demo: some jobs did not succeed");
        return ok ? 0 : 1;
    }

    private static async Task<bool> ShowGateAsync(PostgresJobStorage storage, IBackgroundJobClient jobs, string script, string pair)
    {
        Console.WriteLine();
        Console.WriteLine($"demo: STOP SLAVE on the first master of shard {Shard}: the pair is no longer redundant");
        Sql(script, pair, "a", "STOP SLAVE");
        try
        {
            var closed = await WaitForShardAsync(storage, ShardMode.Closed);
            Console.WriteLine($"demo: shard {Shard} closed: {closed?.Reason}");
            var parked = (await jobs.EnqueueManyAsync(Enumerable.Range(100, 10).Select(userId =>
                Job.FromExpression<IPhotoIndexer>(x => x.ReindexAsync(userId, CancellationToken.None), new JobOptions { ShardKey = Shard })))).ToList();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var waiting = 0;
            foreach (var id in parked)
            {
                waiting += (await storage.GetJobAsync(id))?.State == JobState.Available ? 1 : 0;
            }

            Console.WriteLine($"demo: enqueued 10 more jobs for shard {Shard}; 2 s later {waiting} still wait, unclaimed, with no attempt used");
            Console.WriteLine($"demo: START SLAVE: the shard reopens once every signal has been below its low-water mark for the hold time");
            Sql(script, pair, "a", "START SLAVE");
            var reopened = await WaitForShardAsync(storage, ShardMode.Open);
            Console.WriteLine($"demo: shard {Shard} reopened: {reopened?.Reason}");
            var ok = await WaitForAllAsync(storage, parked);
            Console.WriteLine($"demo: shard {Shard} state log:");
            foreach (var e in (await storage.GetShardEventsAsync(Shard)).Reverse())
            {
                Console.WriteLine($"  {e.At:HH:mm:ss.fff}  {e.From?.ToString() ?? "-",-9} -> {e.To,-9} {e.Reason}");
            }

            return ok && waiting == parked.Count;
        }
        finally
        {
            Sql(script, pair, "a", "START SLAVE");
        }
    }

    private static async Task<bool> WaitForAllAsync(PostgresJobStorage storage, List<long> ids)
    {
        var deadline = TimeProvider.System.GetUtcNow() + Patience;
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

        Console.WriteLine("demo: final states: " + string.Join(", ", final.GroupBy(j => j.State).Select(g => $"{g.Key} {g.Count()}")));
        return final.Count == ids.Count && final.All(j => j.State == JobState.Succeeded);
    }

    private static async Task PrintHistoryAsync(PostgresJobStorage storage, long id)
    {
        if (await storage.GetJobAsync(id) is not { } job)
        {
            return;
        }

        Console.WriteLine($"demo: history of job {job.Id} ({job.Method}):");
        foreach (var t in job.History)
        {
            Console.WriteLine($"  {t.At:HH:mm:ss.fff}  {t.From?.ToString() ?? "-",-10} -> {t.To,-10} {t.Reason}");
        }
    }

    private static async Task<ShardState?> WaitForShardAsync(PostgresJobStorage storage, ShardMode mode)
    {
        var deadline = TimeProvider.System.GetUtcNow() + Patience;
        ShardState? state = null;
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            state = (await storage.GetShardStatesAsync()).FirstOrDefault(s => s.Shard == Shard);
            if (state?.Mode == mode)
            {
                return state;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"shard {Shard} did not become {mode} within {Patience.TotalSeconds:0} s (last state: {state?.Mode} {state?.Reason})");
    }

    private static void Sql(string script, string pair, string master, string statement)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, "sql", pair, master, statement })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + script);
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} sql {pair} {master} \"{statement}\" failed: {error.Result}");
        }
    }
}
