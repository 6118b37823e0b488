using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

public class ShutdownAndRetentionTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Shutdown_lets_short_jobs_finish_and_cancels_long_ones_without_using_an_attempt()
    {
        var key = Guid.NewGuid().ToString();
        var worker = new WorkerHost(schema, o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(800));
        await worker.StartAsync();
        var shortJob = schema.Client.Enqueue(() => TestJobs.SleepAsync(key, 300, CancellationToken.None));
        var longJob = schema.Client.Enqueue(() => TestJobs.SleepAsync(key, 60_000, CancellationToken.None));
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.Value == 1)), n => n == 2, Timeout, "both jobs to start");

        await worker.DisposeAsync();

        Assert.Equal(JobState.Succeeded, (await schema.JobAsync(shortJob)).State);
        var handedBack = await schema.JobAsync(longJob);
        Assert.Equal(JobState.Available, handedBack.State);
        Assert.Equal(0, handedBack.Attempt);
        Assert.Contains("handed back without using an attempt", handedBack.History[^1].Reason);
        Assert.Equal(0L, await schema.ScalarAsync<long>("SELECT count(*) FROM {s}.server"));
        await schema.Client.DeleteAsync(longJob);
    }

    [Fact]
    public async Task Succeeded_and_deleted_jobs_are_pruned_after_the_retention_period_and_failed_ones_are_kept()
    {
        var key = Guid.NewGuid().ToString();
        var succeeded = schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 1));
        var failed = schema.Client.Enqueue(() => TestJobs.FailAsync(key), new JobOptions { MaxAttempts = 1 });
        var deleted = schema.Client.Schedule<IGreeter>(x => x.GreetAsync(key, "x", CancellationToken.None), TimeSpan.FromHours(1));
        Assert.True(await schema.Client.DeleteAsync(deleted));
        Assert.Equal(JobState.Deleted, (await schema.JobAsync(deleted)).State);

        await using var worker = new WorkerHost(schema, o =>
        {
            o.RetentionPeriod = TimeSpan.FromMilliseconds(500);
            o.PruneInterval = TimeSpan.FromMilliseconds(100);
            o.PruneBatchSize = 1;
        });
        await worker.StartAsync();

        await Eventually.Until(() => schema.Storage.GetJobAsync(succeeded), j => j is null, Timeout, "the succeeded job to be pruned");
        await Eventually.Until(() => schema.Storage.GetJobAsync(deleted), j => j is null, Timeout, "the deleted job to be pruned");
        Assert.Equal(JobState.Failed, (await schema.JobAsync(failed)).State);
    }
}
