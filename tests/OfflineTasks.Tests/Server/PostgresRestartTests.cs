using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

/// <summary>Runs on a PostgreSQL server of its own, since it restarts it.</summary>
public sealed class PostgresRestartTests : IAsyncLifetime
{
    private static readonly LocalPostgres Server = new("restart", 54402);
    private TestSchema _schema = null!;

    public async Task InitializeAsync()
    {
        Server.Start();
        _schema = new TestSchema(Server);
        await _schema.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _schema.DisposeAsync();
        Server.Stop();
    }

    [Fact]
    public async Task Workers_reconnect_by_themselves_after_a_restart_and_every_job_completes()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = new WorkerHost(_schema, o =>
        {
            o.WorkerCount = 4;
            o.LeaseDuration = TimeSpan.FromSeconds(30);
            o.HeartbeatInterval = TimeSpan.FromSeconds(1);
        });
        await worker.StartAsync();
        var ids = await _schema.Client.EnqueueManyAsync(Enumerable.Range(0, 400)
            .Select(i => Job.FromExpression(() => TestJobs.SleepAsync(key, 10, CancellationToken.None))));
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count), n => n > 40, TimeSpan.FromSeconds(20), "jobs to start running");

        Server.Restart();
        _schema.DataSource.Clear(); // the test's own pool; the worker's pool is left to recover by itself

        // After the restart the same worker, untouched, finishes the rest.
        var succeeded = await Eventually.Until(
            () => _schema.ScalarAsync<long>("SELECT count(*) FROM {s}.job WHERE id = ANY($1) AND state = 'succeeded'", ids.ToArray()),
            n => n == 400, TimeSpan.FromSeconds(60), "every job to succeed after the restart");
        Assert.Equal(400L, succeeded);
        Assert.True(TestJobs.RunsOf(key).Count(r => r.Value == 2) >= 400);
    }
}
