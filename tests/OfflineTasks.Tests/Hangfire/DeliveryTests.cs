using System.Globalization;
using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Tests.Infrastructure;
using OfflineTasks.TestWorker;

namespace OfflineTasks.Tests.Hangfire;

/// <summary>
/// What Hangfire.PostgreSql does with the options OfflineTasks chooses (sliding invisibility, a short poll, no long
/// polling), checked on real worker processes and a real PostgreSQL: a killed worker's jobs come back, a long job is
/// not run twice while its worker lives, a restarted database loses nothing, and no job waits for a wake-up that never comes.
/// </summary>
public sealed class DeliveryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static async Task<TestSchema> NewSchemaAsync(LocalPostgres? server = null)
    {
        var schema = server is null ? new TestSchema() : new TestSchema(server);
        await schema.InitializeAsync();
        await schema.ExecuteAsync(RecordingJob.CreateTable(schema.Name));
        return schema;
    }

    private static List<string> Enqueue(TestSchema schema, int count, int sleepMs) =>
        Enumerable.Range(0, count).Select(i => schema.Client.Enqueue<RecordingJob>(j => j.RunAsync(i, sleepMs, null!))).ToList();

    private static async Task<Dictionary<string, long>> RunsAsync(TestSchema schema)
    {
        var runs = new Dictionary<string, long>();
        await using var command = schema.DataSource.CreateCommand($"SELECT job_id, count(*) FROM {schema.Name}.test_run GROUP BY job_id");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            runs[reader.GetString(0)] = reader.GetInt64(1);
        }

        return runs;
    }

    [Fact]
    public async Task A_worker_killed_mid_job_loses_nothing_its_jobs_run_again_elsewhere()
    {
        await using var schema = await NewSchemaAsync();
        using var doomed = await WorkerProcess.StartAsync(schema, 4);
        using var survivor = await WorkerProcess.StartAsync(schema, 4);
        var ids = Enqueue(schema, 120, 200);
        await Eventually.Until(async () => (await RunsAsync(schema)).Count, n => n >= 20, Timeout, "some jobs to run");

        doomed.KillHard();
        await schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);

        var runs = await RunsAsync(schema);
        Assert.Equal(ids.ToHashSet(), runs.Keys.ToHashSet());
        Assert.True(runs.Values.Count(n => n > 1) <= 4, "only the jobs the killed worker was running can have run twice");
    }

    [Fact]
    public async Task A_job_longer_than_the_invisibility_timeout_is_not_run_twice_while_its_worker_lives()
    {
        await using var schema = await NewSchemaAsync();
        using var first = await WorkerProcess.StartAsync(schema, 2);
        var id = schema.Client.Enqueue<RecordingJob>(j => j.RunAsync(0, (int)(TestSchema.InvisibilityTimeout.TotalMilliseconds * 2.5), null!));
        await schema.WaitForStateAsync([id], ProcessingState.StateName, Timeout);
        using var second = await WorkerProcess.StartAsync(schema, 2);

        await schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);

        Assert.Equal(1, (await RunsAsync(schema))[id]);
        Assert.Single(schema.HistoryOf(id), h => h.StateName == ProcessingState.StateName);
    }

    [Fact]
    public async Task PostgreSQL_restarted_mid_run_loses_no_job()
    {
        var server = new LocalPostgres("restart", 54402);
        server.Start();
        try
        {
            await using var schema = await NewSchemaAsync(server);
            var ids = Enqueue(schema, 150, 50);
            await using var host = new TestHost(schema, 4, services: s =>
            {
                s.AddSingleton(new WorkerSettings(server.ConnectionString, schema.Name));
                s.AddSingleton(schema.DataSource);
                s.AddTransient<RecordingJob>();
            });
            await host.StartAsync();
            await Eventually.Until(async () => (await RunsAsync(schema)).Count, n => n >= 30, Timeout, "some jobs to run");

            server.Restart();
            await schema.WaitForStateAsync(ids, SucceededState.StateName, TimeSpan.FromSeconds(90));

            Assert.Equal(ids.ToHashSet(), (await RunsAsync(schema)).Keys.ToHashSet());
        }
        finally
        {
            server.Stop();
        }
    }

    [Fact]
    public async Task Jobs_enqueued_by_another_process_are_all_picked_up_without_waiting_for_a_wake_up()
    {
        await using var schema = await NewSchemaAsync();
        using var worker = await WorkerProcess.StartAsync(schema, 4);
        var random = new Random(7);
        var ids = new List<string>();
        for (var burst = 0; burst < 8; burst++)
        {
            ids.AddRange(Enqueue(schema, 150, 1));
            await Task.Delay(random.Next(200, 800));
        }

        await schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);

        // Idle workers find new jobs by polling every 100 ms here (200 ms by default): none waits for a notification.
        // A job left waiting would start long after jobs created after it; how long the backlog takes to drain on a
        // busy machine does not matter.
        var worst = await schema.ScalarAsync<double>("""
            SELECT coalesce(max(extract(epoch FROM r.started_at - later.first)), 0)::float8
            FROM {s}.test_run r
            CROSS JOIN LATERAL (SELECT min(r2.started_at) AS first FROM {s}.test_run r2 WHERE r2.job_id::bigint > r.job_id::bigint) later
            """);
        Assert.True(worst < 2, $"a job started {worst:0.0} s after a job created after it had started");
        Assert.Equal(ids.Count, (await RunsAsync(schema)).Count);
    }
}
