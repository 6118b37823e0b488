using System.Diagnostics;
using Hangfire;
using Hangfire.Storage;
using Hangfire.Storage.Monitoring;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Host.Examples;
using OfflineTasks.Storage;

namespace OfflineTasks.Host;

/// <summary>
/// The README's first command: the worker fleet with its dashboard runs example Hangfire jobs on shard
/// <c>users-1</c>, a MariaDB master-master pair that scripts/demo.sh starts. The demo stops replication on one master:
/// the shard closes and says why, a running backfill parks itself at its next checkpoint, and new jobs are parked as
/// they are created; it starts replication again: the shard reopens after the hold time, the parked jobs are
/// released and succeed. At the end it prints the dashboard's address; with <c>--keep</c> the host keeps running.
/// </summary>
internal static class Demo
{
    private const string Shard = "users-1";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Settings that make the demo's gate react within seconds, on a free port.</summary>
    public static Dictionary<string, string?> Settings { get; } = new()
    {
        ["OfflineTasks:Gate:ProbeInterval"] = "00:00:00.5",
        ["OfflineTasks:Gate:HoldTime"] = "00:00:02",
        ["OfflineTasks:Gate:Ramp:Duration"] = "00:00:02",
        ["OfflineTasks:Server:SchedulePollingInterval"] = "00:00:01",
        ["OfflineTasks:Server:ShutdownTimeout"] = "00:00:05",
        ["OfflineTasks:Host:Url"] = "http://127.0.0.1:0",
    };

    public static async Task<int> RunAsync(WebApplication app, string dashboard, bool keep)
    {
        var configuration = app.Services.GetRequiredService<IConfiguration>();
        var jobs = app.Services.GetRequiredService<IBackgroundJobClient>();
        var monitoring = app.Services.GetRequiredService<JobStorage>().GetMonitoringApi();
        var store = app.Services.GetRequiredService<OfflineTasksStore>();
        if (!configuration.GetSection($"{GateOptions.SectionName}:Shards:{Shard}").Exists())
        {
            Console.WriteLine($"demo: no MySQL pair is configured as shard {Shard} (OfflineTasks:Gate:Shards:{Shard}); run scripts/demo.sh, which starts one");
            return 1;
        }

        var open = await WaitForShardAsync(store, ShardMode.Open);
        Console.WriteLine($"demo: shard {Shard} is open: {open.Reason}");

        var ids = Enumerable.Range(1, 20).Select(user => jobs.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(1, user, CancellationToken.None))).ToList();
        var continuation = jobs.ContinueJobWith<IPhotoIndexer>(ids[^1], x => x.ReindexAsync(1, 4242, CancellationToken.None));
        Console.WriteLine($"demo: enqueued 20 jobs with [Shard(\"users-{{0}}\")] on shard {Shard}, and a continuation of the last one");
        var ok = await WaitForAsync(monitoring, [.. ids, continuation], "Succeeded");

        var backfill = jobs.Enqueue<IPhotoIndexer>(x => x.BackfillAsync(1, 30, CancellationToken.None));
        await WaitForAsync(monitoring, [backfill], "Processing");
        Console.WriteLine();
        Console.WriteLine($"demo: a backfill of 30 chunks (job {backfill}) is running; STOP SLAVE on the first master of shard {Shard}: the pair is no longer redundant");
        Sql(configuration, "STOP SLAVE");
        try
        {
            var closed = await WaitForShardAsync(store, ShardMode.Closed);
            Console.WriteLine($"demo: shard {Shard} closed: {closed.Reason}");
            ok &= await WaitForAsync(monitoring, [backfill], ParkedState.StateName);
            Console.WriteLine($"demo: the backfill stopped at its next checkpoint and is Parked: {Reason(monitoring, backfill)}");

            var parked = Enumerable.Range(100, 10).Select(user => jobs.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(1, user, CancellationToken.None))).ToList();
            ok &= await WaitForAsync(monitoring, parked, ParkedState.StateName);
            Console.WriteLine($"demo: enqueued 10 more jobs for shard {Shard}: all 10 are Parked as they were created, never enqueued, no retry used");
            PrintHistory(monitoring, parked[0]);

            Console.WriteLine($"demo: START SLAVE: the shard reopens once every signal has been below its low-water mark for the hold time");
            Sql(configuration, "START SLAVE");
            var reopened = await WaitForShardAsync(store, ShardMode.Open);
            Console.WriteLine($"demo: shard {Shard} reopened: {reopened.Reason}");
            ok &= await WaitForAsync(monitoring, [.. parked, backfill], "Succeeded");
            Console.WriteLine($"demo: the parked jobs were released to their queue and succeeded; the history of job {parked[0]}:");
            PrintHistory(monitoring, parked[0]);
            Console.WriteLine($"demo: shard {Shard} state log:");
            foreach (var e in (await store.GetShardEventsAsync(Shard)).Reverse())
            {
                Console.WriteLine($"  {e.At:HH:mm:ss.fff}  {e.From?.ToString() ?? "-",-9} -> {e.To,-9} {e.Reason}");
            }
        }
        finally
        {
            Sql(configuration, "START SLAVE");
        }

        Console.WriteLine(ok ? "demo: all jobs succeeded" : "demo: some jobs did not succeed");
        Console.WriteLine($"demo: the Hangfire dashboard is at {dashboard}" + (keep ? " (Ctrl+C stops the host)" : " (run scripts/demo.sh --keep to keep the host running and look at it)"));
        if (keep)
        {
            await app.WaitForShutdownAsync();
        }

        return ok ? 0 : 1;
    }

    private static async Task<bool> WaitForAsync(IMonitoringApi monitoring, List<string> ids, string state)
    {
        var deadline = Stopwatch.StartNew();
        List<string?> states = [];
        while (deadline.Elapsed < Patience)
        {
            states = ids.Select(id => monitoring.JobDetails(id)?.History.FirstOrDefault()?.StateName).ToList();
            if (states.All(s => s == state))
            {
                return true;
            }

            await Task.Delay(200);
        }

        Console.WriteLine($"demo: expected every job {state}, found: " + string.Join(", ", states.GroupBy(s => s ?? "none").Select(g => $"{g.Key} {g.Count()}")));
        return false;
    }

    private static string Reason(IMonitoringApi monitoring, string id) => monitoring.JobDetails(id)?.History.FirstOrDefault()?.Reason ?? "";

    private static void PrintHistory(IMonitoringApi monitoring, string id)
    {
        if (monitoring.JobDetails(id) is not JobDetailsDto job)
        {
            return;
        }

        Console.WriteLine($"demo: history of job {id} ({job.Job?.Type.Name}.{job.Job?.Method.Name}), oldest first:");
        foreach (var h in job.History.AsEnumerable().Reverse())
        {
            Console.WriteLine($"  {h.CreatedAt:HH:mm:ss.fff}  {h.StateName,-10} {h.Reason}");
        }
    }

    private static async Task<ShardState> WaitForShardAsync(OfflineTasksStore store, ShardMode mode)
    {
        var deadline = Stopwatch.StartNew();
        ShardState? state = null;
        while (deadline.Elapsed < Patience)
        {
            state = (await store.GetShardStatesAsync()).FirstOrDefault(s => s.Shard == Shard);
            if (state?.Mode == mode)
            {
                return state;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"shard {Shard} did not become {mode} within {Patience.TotalSeconds:0} s (last state: {state?.Mode} {state?.Reason})");
    }

    private static void Sql(IConfiguration configuration, string statement)
    {
        var script = configuration["Demo:MariaDbScript"] ?? throw new InvalidOperationException("Demo:MariaDbScript is not set (scripts/demo.sh sets it)");
        var pair = configuration["Demo:MariaDbPair"] ?? throw new InvalidOperationException("Demo:MariaDbPair is not set (scripts/demo.sh sets it)");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { script, "sql", pair, "a", statement })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + script);
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(30_000) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} sql {pair} a \"{statement}\" failed: {error.Result}");
        }
    }
}
