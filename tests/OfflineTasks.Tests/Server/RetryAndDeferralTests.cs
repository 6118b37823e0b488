using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Server;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Server;

public class RetryAndDeferralTests(TestSchema schema) : IClassFixture<TestSchema>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Failing_job_retries_with_growing_delays_then_fails_with_the_exception_recorded()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = new WorkerHost(schema, o => o.RetryBaseDelay = TimeSpan.FromMilliseconds(300));
        await worker.StartAsync();

        var id = schema.Client.Enqueue(() => TestJobs.FailAsync(key), new JobOptions { MaxAttempts = 4 });

        var job = await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Failed, Timeout, "the job to fail for good");
        var runs = TestJobs.RunsOf(key).Select(r => r.At).ToList();
        Assert.Equal(4, runs.Count);
        var retries = job.History.Where(h => h is { From: JobState.Processing, To: JobState.Scheduled }).ToList();
        Assert.Equal(3, retries.Count);
        Assert.StartsWith("attempt 1 of 4 failed with InvalidOperationException: boom", retries[0].Reason);
        // Nominal 300, 600, 1200 ms with ±20 % jitter: each scheduled delay is longer than the one before,
        // and no retry ran before its delay was up.
        var delays = retries.Select(r => TimeSpan.FromSeconds(double.Parse(
            System.Text.RegularExpressions.Regex.Match(r.Reason!, @"retry in ([0-9.]+) s").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.True(delays[0] >= TimeSpan.FromMilliseconds(240) && delays[1] > delays[0] && delays[2] > delays[1], $"delays {string.Join(", ", delays)}");
        var gaps = runs.Zip(runs.Skip(1), (a, b) => b - a).ToList();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(gaps[i] >= delays[i] - TimeSpan.FromMilliseconds(5), $"retry {i + 1} ran {gaps[i].TotalMilliseconds} ms after the failure, before its delay of {delays[i].TotalMilliseconds} ms");
        }

        Assert.Equal(4, job.Attempt);
        Assert.NotNull(job.LastError);
        Assert.Equal(4, job.LastError.Attempt);
        Assert.Equal("System.InvalidOperationException", job.LastError.ExceptionType);
        Assert.Equal($"boom from {key}", job.LastError.Message);
        Assert.Contains(nameof(TestJobs.FailAsync), job.LastError.StackTrace);
        Assert.Contains("no attempt left", job.History[^1].Reason);
    }

    [Fact]
    public async Task A_job_that_defers_itself_keeps_its_attempt_count()
    {
        var key = Guid.NewGuid().ToString();
        await using var worker = new WorkerHost(schema);
        await worker.StartAsync();

        var id = schema.Client.Enqueue(() => TestJobs.DeferOnceAsync(key, null!));

        var job = await Eventually.Until(() => schema.JobAsync(id), j => j.State == JobState.Succeeded, Timeout, "the deferred job to succeed");
        // Both runs were attempt 1: the first (DeferCount 0) deferred, the second (DeferCount 1) ran.
        Assert.Equal([100, 101], TestJobs.RunsOf(key).Select(r => r.Value));
        Assert.Equal(1, job.Attempt);
        Assert.Equal(1, job.DeferCount);
        Assert.Contains(job.History, h => h.Reason == "deferred for 0.1 s: waiting for the test");
    }

    [Fact]
    public async Task A_gate_deferral_uses_no_attempt_and_ungated_jobs_are_not_asked()
    {
        var key = Guid.NewGuid().ToString();
        var gate = new ClosedThenOpenGate(closedChecks: 3);
        await using var worker = new WorkerHost(schema, services: s => s.AddSingleton<IJobGate>(gate));
        await worker.StartAsync();

        var gated = schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 1), new JobOptions { ShardKey = "users-1", MaxAttempts = 1 });
        var ungated = schema.Client.Enqueue(() => TestJobs.RecordAsync(key, 2));

        var job = await Eventually.Until(() => schema.JobAsync(gated), j => j.State == JobState.Succeeded, Timeout, "the gated job");
        await Eventually.Until(() => schema.JobAsync(ungated), j => j.State == JobState.Succeeded, Timeout, "the ungated job");
        Assert.Equal(1, job.Attempt);
        Assert.Equal(3, job.DeferCount);
        Assert.Equal(["users-1", "users-1", "users-1", "users-1"], gate.Checked);
        Assert.Contains(job.History, h => h.Reason == "deferred for 0.05 s: shard users-1 closed: test says so");
    }

    private sealed class ClosedThenOpenGate(int closedChecks) : IJobGate
    {
        private int _checks;

        public List<string> Checked { get; } = [];

        public ValueTask<GateDecision> CheckAsync(GateRequest request, CancellationToken cancellationToken)
        {
            lock (Checked)
            {
                Checked.Add(request.ShardKey);
            }

            return ValueTask.FromResult(Interlocked.Increment(ref _checks) <= closedChecks
                ? GateDecision.Defer(TimeSpan.FromMilliseconds(50), $"shard {request.ShardKey} closed: test says so")
                : GateDecision.Open);
        }
    }
}
