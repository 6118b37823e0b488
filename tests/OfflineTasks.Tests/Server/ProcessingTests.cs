using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

public class ProcessingTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private WorkerHost Worker(Action<OfflineTasks.Server.JobServerOptions>? configure = null) =>
        new(schema, configure, s => s.AddTransient<IGreeter, Greeter>());

    [Fact]
    public async Task Enqueued_job_is_processed_and_succeeds_with_its_history()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = Worker();
        await worker.StartAsync();

        var id = schema.Client.Enqueue<IGreeter>(x => x.GreetAsync(key, "ada", CancellationToken.None));

        var job = await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Succeeded, Timeout, "the job to succeed");
        Assert.Equal([3], TestJobs.RunsOf(key).Select(r => r.Value));
        Assert.Equal(1, job.Attempt);
        Assert.NotNull(job.FinalizedAt);
        Assert.Equal(
            [(null, JobState.Available), (JobState.Available, JobState.Processing), (JobState.Processing, JobState.Succeeded)],
            job.History.Select(h => (h.From, h.To)));
    }

    [Fact]
    public async Task Delayed_job_runs_no_earlier_than_its_time()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = Worker();
        await worker.StartAsync();

        var enqueuedAt = DateTime.UtcNow;
        var id = schema.Client.Schedule<IGreeter>(x => x.GreetAsync(key, "bob", CancellationToken.None), TimeSpan.FromSeconds(1.5));

        Assert.Equal(JobState.Scheduled, (await schema.JobAsync(id)).State);
        await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Succeeded, Timeout, "the delayed job to succeed");
        var ranAt = Assert.Single(TestJobs.RunsOf(key)).At;
        Assert.True(ranAt - enqueuedAt >= TimeSpan.FromSeconds(1.5), $"ran after {(ranAt - enqueuedAt).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Bulk_enqueue_stores_all_jobs_in_order_and_each_runs_once()
    {
        var key = Guid.NewGuid().ToString();
        var jobs = Enumerable.Range(0, 12_000).Select(i => Job.FromExpression(() => TestJobs.RecordAsync(key, i))).ToList();

        var ids = await schema.Client.EnqueueManyAsync(jobs);

        Assert.Equal(12_000, ids.Distinct().Count());
        Assert.Equal(ids.Order(), ids);
        Assert.Equal($"[\"{key}\", 11999]", (await schema.JobAsync(ids[^1])).Arguments);
        await using var worker = Worker(o => o.WorkerCount = 8);
        await worker.StartAsync();
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count), n => n >= 12_000, TimeSpan.FromSeconds(60), "all bulk jobs to run");
        await Eventually.Until(
            () => schema.ScalarAsync<long>("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND state = 'succeeded'", ids.ToArray()),
            n => n == 12_000, Timeout, "all bulk jobs to be recorded as succeeded");
        Assert.Equal(Enumerable.Range(0, 12_000), TestJobs.RunsOf(key).Select(r => r.Value).Order());
    }

    [Fact]
    public async Task Enqueue_inside_a_rolled_back_transaction_leaves_no_job_and_a_committed_one_runs()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = Worker();
        await worker.StartAsync();

        long rolledBackId;
        await using (var connection = await schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            rolledBackId = await schema.Client.EnqueueAsync<IGreeter>(x => x.GreetAsync(key, "rolled-back", CancellationToken.None), transaction);
            await transaction.RollbackAsync();
        }

        long committedId;
        await using (var connection = await schema.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            committedId = await schema.Client.EnqueueAsync<IGreeter>(x => x.GreetAsync(key, "committed!", CancellationToken.None), transaction);
            await transaction.CommitAsync();
        }

        await Eventually.Until(() => schema.JobAsync(committedId), j => j.State == JobState.Succeeded, Timeout, "the committed job");
        Assert.Null(await schema.Storage.GetJobAsync(rolledBackId));
        Assert.Equal([10], TestJobs.RunsOf(key).Select(r => r.Value));
    }

    [Fact]
    public async Task Earlier_queues_and_higher_priorities_are_claimed_first()
    {
        var key = Guid.NewGuid().ToString();
        var low = new JobOptions { Queue = "bulk" };
        schema.Client.Enqueue(() => TestJobs.RecordSync(key, 1), low);
        schema.Client.Enqueue(() => TestJobs.RecordSync(key, 2), low with { Priority = 5 });
        schema.Client.Enqueue(() => TestJobs.RecordSync(key, 3), new JobOptions { Queue = "urgent" });

        await using var worker = Worker(o =>
        {
            o.WorkerCount = 1;
            o.Queues = ["urgent", "bulk"];
        });
        await worker.StartAsync();

        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count), n => n == 3, Timeout, "three jobs");
        Assert.Equal([3, 2, 1], TestJobs.RunsOf(key).Select(r => r.Value));
    }

    [Fact]
    public async Task A_higher_priority_job_enqueued_during_a_backlog_overtakes_it_within_a_poll_interval()
    {
        var key = Guid.NewGuid().ToString();
        await schema.Client.EnqueueManyAsync(Enumerable.Range(1, 60).Select(i => Job.FromExpression(() => TestJobs.SleepAsync(key, 20, CancellationToken.None))));
        await using var worker = Worker(o => o.WorkerCount = 1);
        await worker.StartAsync();
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.Value == 2)), n => n >= 5, Timeout, "the backlog to get going");

        // Claims now resume from a cursor after the backlog's last claimed job; the urgent job sits before it.
        schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 99), new JobOptions { Priority = 10 });

        var runs = await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key)), r => r.Count(x => x.Value == 2) == 60, Timeout, "the backlog to finish");
        var backlogAfterUrgent = runs.SkipWhile(r => r.Value != 99).Count(r => r.Value == 2);
        Assert.True(backlogAfterUrgent >= 20, $"only {backlogAfterUrgent} backlog jobs finished after the urgent one");
    }

    [Fact]
    public async Task A_worker_woken_by_notification_starts_a_job_well_before_its_poll_interval()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = Worker(o => o.PollInterval = TimeSpan.FromSeconds(30));
        await worker.StartAsync();
        await Task.Delay(300);

        var enqueuedAt = DateTime.UtcNow;
        schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 1));

        var run = await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key)), r => r.Count == 1, Timeout, "the notified job");
        Assert.True(run[0].At - enqueuedAt < TimeSpan.FromSeconds(5), $"started {(run[0].At - enqueuedAt).TotalMilliseconds} ms after enqueue");
    }
}
