using OfflineTasks.Jobs;
using OfflineTasks.TestWorker;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

public class CrashRecoveryTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);

    private async Task<IReadOnlyList<long>> EnqueueRecordingJobsAsync(int count, int sleepMs)
    {
        await schema.ExecuteAsync(RecordingJob.CreateTable.Replace("{0}", "{s}", StringComparison.Ordinal));
        return await schema.Client.EnqueueManyAsync(Enumerable.Range(0, count)
            .Select(i => Job.FromExpression<RecordingJob>(x => x.RunAsync(i, sleepMs, null!))));
    }

    private Task<long> CountAsync(string sql, IReadOnlyList<long> ids) => schema.ScalarAsync<long>(sql, ids.ToArray());

    [Fact]
    public async Task Kill_9_of_a_worker_while_it_runs_jobs_loses_none_they_complete_after_the_lease()
    {
        var ids = await EnqueueRecordingJobsAsync(200, sleepMs: 100);
        using var doomed = await WorkerProcess.StartAsync(schema, slots: 8, Lease);
        await Eventually.Until(() => CountAsync("SELECT count(*) FROM {s}.test_run WHERE job_id = ANY($1)", ids), n => n >= 20, TimeSpan.FromSeconds(30), "the first worker to get going");

        var heldWhenKilled = await CountAsync("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND state = 'processing'", ids);
        doomed.KillHard();
        Assert.True(heldWhenKilled > 0, "the killed worker held no job");

        using var survivor = await WorkerProcess.StartAsync(schema, slots: 8, Lease);
        await Eventually.Until(() => CountAsync("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND state = 'succeeded'", ids), n => n == 200, TimeSpan.FromSeconds(60), "every job to succeed");

        // None lost: every job ran to the end at least once; any job run twice is one the killed worker held.
        Assert.Equal(200L, await CountAsync("SELECT count(DISTINCT job_id) FROM {s}.test_run WHERE job_id = ANY($1)", ids));
        var rescued = await CountAsync("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND history::text LIKE '%lease expired%'", ids);
        Assert.InRange(rescued, 1, heldWhenKilled);
        Assert.Equal(0L, await CountAsync("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND attempt > 2", ids));
    }

    [Fact]
    public async Task Two_worker_processes_on_one_queue_never_run_a_job_twice_while_its_lease_is_live()
    {
        await schema.ExecuteAsync(RecordingJob.CreateTable.Replace("{0}", "{s}", StringComparison.Ordinal));
        using var first = await WorkerProcess.StartAsync(schema, slots: 6, Lease);
        using var second = await WorkerProcess.StartAsync(schema, slots: 6, Lease);
        var ids = await EnqueueRecordingJobsAsync(300, sleepMs: 20);

        await Eventually.Until(() => CountAsync("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND state = 'succeeded'", ids), n => n == 300, TimeSpan.FromSeconds(60), "every job to succeed");

        Assert.Equal(300L, await CountAsync("SELECT count(*) FROM {s}.test_run WHERE job_id = ANY($1)", ids));
        Assert.Equal(300L, await CountAsync("SELECT count(DISTINCT job_id) FROM {s}.test_run WHERE job_id = ANY($1)", ids));
        Assert.Equal(2L, await CountAsync("SELECT count(DISTINCT pid) FROM {s}.test_run WHERE job_id = ANY($1)", ids));
    }
}
