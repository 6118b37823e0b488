using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineTasks.Telemetry;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Alerts;

/// <summary>Backlog alerts end to end: real Hangfire jobs on a real PostgreSQL, a real HTTP webhook on loopback.</summary>
public sealed class AlertNotificationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static TestHost Host(TestSchema schema, string webhook, LogCapture? logs = null, int workers = 2, string webhookTimeout = "00:00:02",
        int maxAttempts = 5, string dwell = "00:00:00.5", string[]? queues = null) =>
        new(schema, workers, new Dictionary<string, string?>
        {
            ["OfflineTasks:Telemetry:SampleInterval"] = "00:00:00.1",
            ["OfflineTasks:Telemetry:LeaderLease"] = "00:00:01",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Name"] = "backlog",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Kind"] = "QueueDepth",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Queue"] = "default",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:High"] = "20",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Low"] = "5",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:For"] = dwell,
            ["OfflineTasks:Telemetry:Alerts:Webhook:Url"] = webhook,
            ["OfflineTasks:Telemetry:Alerts:Webhook:Timeout"] = webhookTimeout,
            ["OfflineTasks:Telemetry:Alerts:Webhook:MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["OfflineTasks:Telemetry:Alerts:Webhook:RetryDelay"] = "00:00:00.05",
        }, s =>
        {
            if (logs is not null)
            {
                s.AddSingleton<ILoggerProvider>(logs);
            }
        }, queues);

    private static List<string> Enqueue(TestSchema schema, string key, int count, int sleepMs) =>
        Enumerable.Range(0, count).Select(_ => schema.Client.Enqueue(() => TestJobs.SleepAsync(key, sleepMs))).ToList();

    [Fact]
    public async Task One_backlog_episode_sends_exactly_one_fire_and_one_resolve()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver();
        var key = Guid.NewGuid().ToString("N");
        Enqueue(schema, key, 80, sleepMs: 50);

        await using var host = Host(schema, webhook.Url);
        await host.StartAsync();
        await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 2, Timeout, "a fire and a resolve");
        await Task.Delay(1000);

        var alerts = webhook.Alerts;
        Assert.Equal(["firing", "resolved"], alerts.Select(a => a.GetProperty("state").GetString()));
        Assert.All(alerts, a => Assert.Equal("backlog", a.GetProperty("alert").GetString()));
        Assert.All(alerts, a => Assert.Equal("default", a.GetProperty("queue").GetString()));
        Assert.StartsWith("ALERT backlog FIRING: queue default depth (enqueued jobs) is ", alerts[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.True(alerts[0].GetProperty("value").GetDouble() >= 20);
        Assert.True(alerts[1].GetProperty("value").GetDouble() < 5);
        Assert.Equal(80, TestJobs.RunsOf(key).Count(r => r.What == "end"));
    }

    [Fact]
    public async Task A_failing_webhook_is_retried_until_it_takes_the_notification()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver { FailFirst = 2 };
        Enqueue(schema, Guid.NewGuid().ToString("N"), 80, sleepMs: 50);

        await using var host = Host(schema, webhook.Url);
        await host.StartAsync();
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
        Enqueue(schema, key, 80, sleepMs: 50);

        await using var host = Host(schema, webhook.Url, logs, webhookTimeout: "00:00:00.2", maxAttempts: 2);
        var started = DateTime.UtcNow;
        await host.StartAsync();
        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.What == "end")), n => n == 80, Timeout, "every job to run");
        var drained = DateTime.UtcNow - started;

        // 80 jobs of 50 ms on 2 workers: a few seconds whatever the webhook does.
        Assert.True(drained < TimeSpan.FromSeconds(15), $"the jobs took {drained.TotalSeconds:0.0} s");
        await Eventually.Until(() => Task.FromResult(logs.Contains("Webhook gave up after 2 attempts")), found => found, Timeout, "the give-up to be logged");
        Assert.True(logs.Contains("ALERT backlog FIRING"), "the alert itself is in the log");
        // Nothing was delivered: the receiver may still answer a request long after the notifier gave up on it.
        Assert.Equal(0, host.Services.GetRequiredService<OfflineTasks.Alerts.OperationsNotifier>().Delivered);
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

        var logs = new LogCapture();
        var key = Guid.NewGuid().ToString("N");
        Enqueue(schema, key, 80, sleepMs: 20);

        await using var host = Host(schema, unreachable, logs, maxAttempts: 3, dwell: "00:00:00");
        await host.StartAsync();

        await Eventually.Until(() => Task.FromResult(TestJobs.RunsOf(key).Count(r => r.What == "end")), n => n == 80, Timeout, "every job to run");
        await Eventually.Until(() => Task.FromResult(logs.Contains("Webhook gave up after 3 attempts")), found => found, Timeout, "the give-up to be logged");
        Assert.Contains(logs.Entries, e => e.Message.StartsWith("Webhook attempt 1 failed, retrying", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_restart_keeps_a_firing_alert_firing_without_sending_it_again_and_resolves_it_once()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var webhook = new WebhookReceiver();
        var key = Guid.NewGuid().ToString("N");

        // A backlog in a queue the first host does not serve: it stays until the second host works it off.
        var ids = Enumerable.Range(0, 40).Select(_ => schema.Client.Enqueue(() => TestJobs.SleepAsync(key, 1))).ToList();
        await using (var first = Host(schema, webhook.Url, workers: 1, queues: ["elsewhere"]))
        {
            await first.StartAsync();
            await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 1, Timeout, "the alert to fire");
        }

        // Another process (a new leader) takes over while the backlog is still there, and works it off.
        Assert.Equal(40, schema.Monitoring.EnqueuedCount("default"));
        await using var second = Host(schema, webhook.Url, workers: 8);
        await second.StartAsync();
        var sampler = second.Services.GetRequiredService<FleetSampler>();
        await Eventually.Until(() => Task.FromResult(sampler.IsLeading), leading => leading, Timeout, "the new host to lead");
        await schema.WaitForStateAsync(ids, "Succeeded", Timeout);
        await Eventually.Until(() => Task.FromResult(webhook.Alerts.Count), n => n >= 2, Timeout, "the alert to resolve");
        await Task.Delay(500);
        Assert.Equal(["firing", "resolved"], webhook.Alerts.Select(a => a.GetProperty("state").GetString()));
    }
}
