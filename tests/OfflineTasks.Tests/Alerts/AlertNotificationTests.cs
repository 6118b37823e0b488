using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineTasks.Alerts;
using OfflineTasks.Hosting;
using OfflineTasks.Jobs;
using OfflineTasks.Server;
using OfflineTasks.Telemetry;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Alerts;

/// <summary>Backlog alerts end to end: real jobs on a real PostgreSQL, a real HTTP webhook on loopback.</summary>
public sealed class AlertNotificationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static WorkerHost Worker(TestSchema schema, WebhookReceiver webhook, LogCapture? logs = null, int slots = 2, TimeSpan? webhookTimeout = null,
        int maxAttempts = 5) =>
        new(schema, o =>
        {
            o.WorkerCount = slots;
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(300);
        }, s =>
        {
            s.AddOfflineTasksTelemetry(configure: o =>
            {
                o.SampleInterval = TimeSpan.FromMilliseconds(100);
                o.LeaderLease = TimeSpan.FromSeconds(1);
                o.Prometheus.Enabled = false;
                o.Alerts.Rules.Add(new AlertRuleOptions { Name = "backlog", Kind = AlertKind.QueueDepth, Queue = "default", High = 20, Low = 5, For = TimeSpan.FromMilliseconds(500) });
                o.Alerts.Webhook.Url = webhook.Url;
                o.Alerts.Webhook.Timeout = webhookTimeout ?? TimeSpan.FromSeconds(2);
                o.Alerts.Webhook.MaxAttempts = maxAttempts;
                o.Alerts.Webhook.RetryDelay = TimeSpan.FromMilliseconds(50);
            });
            if (logs is not null)
            {
                s.AddSingleton<ILoggerProvider>(logs);
            }
        });

    private static async Task<List<long>> EnqueueAsync(TestSchema schema, string key, int count, int sleepMs) =>
        (await schema.Client.EnqueueManyAsync(Enumerable.Range(0, count)
            .Select(_ => Job.FromExpression(() => TestJobs.SleepAsync(key, sleepMs, CancellationToken.None))).ToList())).ToList();

    [Fact]
    public async Task One_backlog_episode_sends_exactly_one_fire_and_one_resolve()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver();
        var key = Guid.NewGuid().ToString("N");
        await EnqueueAsync(schema, key, 80, sleepMs: 50);

        await using var worker = Worker(schema, webhook);
        await worker.StartAsync();
        await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 2, Timeout, "a fire and a resolve");
        await Task.Delay(1000);

        var alerts = webhook.Alerts;
        Assert.Equal(["firing", "resolved"], alerts.Select(a => a.GetProperty("state").GetString()));
        Assert.All(alerts, a => Assert.Equal("backlog", a.GetProperty("alert").GetString()));
        Assert.All(alerts, a => Assert.Equal("default", a.GetProperty("queue").GetString()));
        Assert.StartsWith("ALERT backlog FIRING: queue default depth (available jobs) is ", alerts[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.True(alerts[0].GetProperty("value").GetDouble() >= 20);
        Assert.True(alerts[1].GetProperty("value").GetDouble() < 5);
        Assert.Equal(80, TestJobs.RunsOf(key).Count(r => r.Value == 2));
    }

    [Fact]
    public async Task A_failing_webhook_is_retried_until_it_takes_the_notification()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver { FailFirst = 2 };
        var key = Guid.NewGuid().ToString("N");
        await EnqueueAsync(schema, key, 80, sleepMs: 50);

        await using var worker = Worker(schema, webhook);
        await worker.StartAsync();
        await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 2, Timeout, "a fire and a resolve");

        Assert.Equal(["firing", "resolved"], webhook.Alerts.Select(a => a.GetProperty("state").GetString()));
        Assert.True(webhook.Requests >= 4, $"{webhook.Requests} requests: the first two failed and were retried");
    }

    [Fact]
    public async Task A_slow_webhook_neither_blocks_the_workers_nor_loses_the_alert_silently()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver { Delay = TimeSpan.FromSeconds(5) };
        var logs = new LogCapture();
        var key = Guid.NewGuid().ToString("N");
        var ids = await EnqueueAsync(schema, key, 80, sleepMs: 50);

        await using var worker = Worker(schema, webhook, logs, webhookTimeout: TimeSpan.FromMilliseconds(200), maxAttempts: 2);
        var started = DateTime.UtcNow;
        await worker.StartAsync();
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.Value == 2)), n => n == 80, Timeout, "every job to run");
        var drained = DateTime.UtcNow - started;

        // 80 jobs of 50 ms on 2 slots: about 2 s whatever the webhook does.
        Assert.True(drained < TimeSpan.FromSeconds(10), $"the jobs took {drained.TotalSeconds:0.0} s");
        await Eventually.Until(() => Task.FromResult(logs.Contains("Webhook gave up after 2 attempts")), found => found, Timeout, "the give-up to be logged");
        Assert.True(logs.Contains("ALERT backlog FIRING"), "the alert itself is in the log");
        Assert.Empty(webhook.Accepted);
    }

    [Fact]
    public async Task An_unreachable_webhook_is_retried_then_logged_and_the_workers_keep_going()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        string unreachable;
        using (var closed = new WebhookReceiver())
        {
            unreachable = closed.Url; // nothing listens there once it is disposed
        }

        using var webhook = new WebhookReceiver();
        var logs = new LogCapture();
        var key = Guid.NewGuid().ToString("N");
        await EnqueueAsync(schema, key, 80, sleepMs: 20);

        await using var worker = new WorkerHost(schema, o => o.WorkerCount = 2, s =>
        {
            s.AddOfflineTasksTelemetry(configure: o =>
            {
                o.SampleInterval = TimeSpan.FromMilliseconds(100);
                o.LeaderLease = TimeSpan.FromSeconds(1);
                o.Prometheus.Enabled = false;
                o.Alerts.Rules.Add(new AlertRuleOptions { Name = "backlog", Kind = AlertKind.QueueDepth, Queue = "default", High = 20, Low = 5, For = TimeSpan.Zero });
                o.Alerts.Webhook.Url = unreachable;
                o.Alerts.Webhook.MaxAttempts = 3;
                o.Alerts.Webhook.RetryDelay = TimeSpan.FromMilliseconds(20);
            });
            s.AddSingleton<ILoggerProvider>(logs);
        });
        await worker.StartAsync();

        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.Value == 2)), n => n == 80, Timeout, "every job to run");
        await Eventually.Until(() => Task.FromResult(logs.Contains("Webhook gave up after 3 attempts")), found => found, Timeout, "the give-up to be logged");
        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Webhook attempt 1 failed, retrying", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_go_out_over_otlp_when_an_endpoint_is_configured()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var collector = new WebhookReceiver();
        var key = Guid.NewGuid().ToString("N");
        await EnqueueAsync(schema, key, 5, sleepMs: 1);

        await using var worker = new WorkerHost(schema, o => o.WorkerCount = 2, s => s.AddOfflineTasksTelemetry(configure: o =>
        {
            o.SampleInterval = TimeSpan.FromMilliseconds(200);
            o.LeaderLease = TimeSpan.FromSeconds(1);
            o.Prometheus.Enabled = false;
            o.Otlp.Endpoint = collector.Url + "v1/metrics";
            o.Otlp.Protocol = "HttpProtobuf";
            o.Otlp.ExportInterval = TimeSpan.FromMilliseconds(300);
        }));
        await worker.StartAsync();

        var posts = await Eventually.Until(() => Task.FromResult(collector.Raw.ToList()), r => r.Count >= 2, Timeout, "OTLP exports");
        Assert.All(posts, p => Assert.Equal("/hook/v1/metrics", p.Path));
        Assert.All(posts, p => Assert.Equal("application/x-protobuf", p.ContentType));
        Assert.Contains(posts, p => p.Length > 200);
    }

    [Fact]
    public async Task A_restart_keeps_a_firing_alert_firing_without_sending_it_again_and_resolves_it_once()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver();
        var key = Guid.NewGuid().ToString("N");
        await schema.Client.EnqueueManyAsync(Enumerable.Range(0, 40).Select(_ => Job.FromExpression(() => TestJobs.WaitForReleaseAsync(key, CancellationToken.None))).ToList());

        await using (var first = Worker(schema, webhook))
        {
            await first.StartAsync();
            await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 1, Timeout, "the alert to fire");
        }

        // Another process (a new leader) takes over while the backlog is still there.
        await using var second = Worker(schema, webhook);
        await second.StartAsync();
        var sampler = second.Services.GetRequiredService<FleetSampler>();
        await Eventually.Until(() => Task.FromResult(sampler.IsLeading), leading => leading, Timeout, "the new worker to lead");
        await Task.Delay(1500);
        Assert.Single(webhook.Alerts);

        TestJobs.Release(key);
        await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 2, Timeout, "the alert to resolve");
        await Task.Delay(500);
        Assert.Equal(["firing", "resolved"], webhook.Alerts.Select(a => a.GetProperty("state").GetString()));
    }
}
