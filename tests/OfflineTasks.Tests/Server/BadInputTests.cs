using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

public class BadInputTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private async Task<long> InsertRawAsync(string type, string method, string parameterTypes, string args) =>
        await schema.ScalarAsync<long>("""
            INSERT INTO {s}.job (state, queue, type, method, parameter_types, args, max_attempts, history)
            VALUES ('available', 'default', $1, $2, $3::jsonb, $4::jsonb, 5, '[]') RETURNING id
            """, type, method, parameterTypes, args);

    [Fact]
    public async Task Stored_jobs_that_cannot_run_fail_at_once_with_a_clear_reason_and_the_worker_keeps_going()
    {
        var good = Job.FromExpression(() => TestJobs.TakesInt(1));
        var missingType = await InsertRawAsync("Gone.Namespace.RemovedJob, Gone.Assembly", "Run", "[]", "[]");
        var missingMethod = await InsertRawAsync(good.Type, "RemovedMethod", "[\"System.Int32\"]", "[1]");
        var badArguments = await InsertRawAsync(good.Type, good.Method, good.ParameterTypes, "[\"not a number\"]");
        var wrongCount = await InsertRawAsync(good.Type, good.Method, good.ParameterTypes, "[1, 2]");

        await using var worker = new WorkerHost(schema);
        await worker.StartAsync();
        var key = Guid.NewGuid().ToString();
        var after = schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 7));

        await Eventually.Until(() => schema.JobAsync(after), j => j.State == JobState.Succeeded, Timeout, "the good job after the bad ones");
        async Task<string> FailureOf(long id)
        {
            var job = await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Failed, Timeout, $"job {id} to fail");
            Assert.Equal(1, job.Attempt);
            return job.History[^1].Reason!;
        }

        Assert.Contains("Job type 'Gone.Namespace.RemovedJob, Gone.Assembly' could not be loaded", await FailureOf(missingType));
        Assert.Contains("TestJobs.RemovedMethod(Int32) no longer exists", await FailureOf(missingMethod));
        Assert.Contains("Argument 'value' of TestJobs.TakesInt could not be read as Int32 from \"not a number\"", await FailureOf(badArguments));
        Assert.Contains("expects 1 arguments", await FailureOf(wrongCount));
    }

    [Fact]
    public async Task A_job_whose_service_is_not_registered_fails_with_the_type_named()
    {
        await using var worker = new WorkerHost(schema);
        await worker.StartAsync();

        var id = schema.Client.Enqueue<IGreeter>(x => x.GreetAsync("k", "n", CancellationToken.None));

        var job = await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Failed, Timeout, "the job to fail");
        Assert.Contains($"No service is registered for {typeof(IGreeter).FullName}", job.History[^1].Reason);
    }
}
