using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Storage;

/// <summary>The claim statement's shard filter, on a real PostgreSQL: what the gate's decisions do at fetch time.</summary>
public sealed class ClaimFilterTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly string[] None = [];

    [Fact]
    public async Task Skips_closed_shards_keeps_light_jobs_of_light_only_shards_and_caps_ramping_shards()
    {
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        var jobs = new List<Job>();
        void Add(string? shard, bool light = false, int n = 1)
        {
            for (var i = 0; i < n; i++)
            {
                jobs.Add(Job.FromExpression(() => TestJobs.TakesInt(1), new JobOptions { Queue = queue, ShardKey = shard, Light = light }));
            }
        }

        Add(null, n: 2);
        Add("closed", n: 3);
        Add("degraded", n: 2);
        Add("degraded", light: true);
        Add("ramping", n: 5);
        Add("open", n: 2);
        await schema.Client.EnqueueManyAsync(jobs);

        var server = Guid.NewGuid();
        await schema.Storage.RegisterServerAsync(server, "test", [queue], 20, TimeSpan.FromMinutes(1), CancellationToken.None);
        await using var connection = await schema.Storage.OpenFetchConnectionAsync(CancellationToken.None);
        var filter = new ClaimFilter(["closed"], ["degraded"], ["ramping"], [2]);

        var (_, claimed) = await schema.Storage.WriteAndClaimAsync(connection, server, [], queue, 100, null, filter, CancellationToken.None);

        var byShard = claimed.GroupBy(j => j.ShardKey ?? "-").ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["-"] = 2, ["degraded"] = 1, ["ramping"] = 2, ["open"] = 2 }, byShard);
        Assert.True(claimed.Single(j => j.ShardKey == "degraded").Light);

        // What was left (over the cap, closed, not light) is still available, untouched.
        Assert.Equal(8L, await schema.ScalarAsync<long>($"SELECT count(*) FROM {{s}}.job WHERE queue = '{queue}' AND state = 'available' AND attempt = 0"));

        // With the filter lifted, the rest is claimed.
        var (_, rest) = await schema.Storage.WriteAndClaimAsync(connection, server, [], queue, 100, null, ClaimFilter.None, CancellationToken.None);
        Assert.Equal(8, rest.Count);
        Assert.Equal(None, rest.Where(j => j.ShardKey is null || j.ShardKey == "open").Select(j => j.ShardKey));
    }
}
