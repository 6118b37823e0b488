using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Storage;

/// <summary>The leader's queue sample on a real PostgreSQL: exact counts per queue and state, oldest age, parked jobs.</summary>
public sealed class QueueCountsTests(TestSchema schema) : IClassFixture<TestSchema>
{
    [Fact]
    public async Task Counts_every_state_per_queue_and_parks_only_the_jobs_of_shards_that_are_not_open_plus_deferred_ones()
    {
        Job Make(string queue, string? shard = null, TimeSpan? delay = null) =>
            Job.FromExpression(() => TestJobs.TakesInt(1), new JobOptions { Queue = queue, ShardKey = shard, Delay = delay });

        await schema.Client.EnqueueManyAsync([.. Enumerable.Range(0, 5).Select(_ => Make("a")), .. Enumerable.Range(0, 4).Select(_ => Make("a", "closed-1")),
            .. Enumerable.Range(0, 3).Select(_ => Make("b", "open-1")), .. Enumerable.Range(0, 2).Select(_ => Make("b", delay: TimeSpan.FromHours(1)))]);
        // Two jobs the gate deferred (scheduled, deferred_since set), one of each shard; one failed job.
        await schema.ExecuteAsync("""
            UPDATE {s}.job SET state = 'scheduled', deferred_since = now(), scheduled_at = now() + interval '1 hour'
            WHERE id IN (SELECT min(id) FROM {s}.job WHERE shard_key IS NOT NULL GROUP BY shard_key)
            """);
        await schema.ExecuteAsync("UPDATE {s}.job SET state = 'failed', finalized_at = now() WHERE id = (SELECT min(id) FROM {s}.job WHERE queue = 'a' AND shard_key IS NULL)");

        var counts = await schema.Storage.CountQueuesAsync(["closed-1"], CancellationToken.None);

        Assert.Equal(7L, counts.Available["a"].Jobs); // 5 + 4, less one failed and one deferred
        Assert.Equal(2L, counts.Available["b"].Jobs); // 3, less one deferred
        Assert.Equal(1L, counts.Scheduled["a"]);
        Assert.Equal(3L, counts.Scheduled["b"]); // 2 delayed, 1 deferred
        Assert.Equal(1L, counts.Failed["a"]);
        Assert.Empty(counts.Processing);
        Assert.Equal((3L, 1L), counts.Shards["closed-1"]);
        Assert.Equal((0L, 1L), counts.Shards["open-1"]);
        Assert.True(counts.Now - counts.Available["a"].Oldest!.Value >= TimeSpan.Zero);
    }
}
