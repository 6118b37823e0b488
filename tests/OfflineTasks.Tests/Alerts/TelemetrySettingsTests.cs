using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OfflineTasks.Alerts;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Tests.Alerts;

public sealed class TelemetrySettingsTests
{
    [Fact]
    public void A_reloaded_rule_takes_effect_and_an_invalid_reload_keeps_the_previous_rules()
    {
        var values = new Dictionary<string, string?>
        {
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Name"] = "backlog",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Kind"] = "QueueDepth",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Queue"] = "default",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:High"] = "100",
            ["OfflineTasks:Telemetry:Alerts:Rules:0:Low"] = "10",
        };
        var source = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values };
        var configuration = new ConfigurationBuilder().Add(source).Build();
        var options = new TelemetryOptions();
        configuration.GetSection(TelemetryOptions.SectionName).Bind(options);
        using var monitor = new TelemetrySettingsMonitor(Options.Create(options), configuration, null, () => ["users-1"],
            NullLogger<TelemetrySettingsMonitor>.Instance);
        Assert.Equal(100, Assert.Single(monitor.Current.Rules).High);

        configuration["OfflineTasks:Telemetry:Alerts:Rules:0:High"] = "500";
        Assert.Empty(monitor.Reload());
        Assert.Equal(500, Assert.Single(monitor.Current.Rules).High);

        configuration["OfflineTasks:Telemetry:Alerts:Rules:0:Queue"] = "nope";
        configuration["OfflineTasks:Telemetry:Alerts:Rules:0:Low"] = "600";
        var errors = monitor.Reload();
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:0:Queue = nope is invalid: it is not one of the sampled queues in OfflineTasks:Telemetry:Queues (default).", errors);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:0 = High 500, Low 600 is invalid: the low-water mark must be below the high-water mark.", errors);
        Assert.Equal(500, Assert.Single(monitor.Current.Rules).High);
    }

    [Fact]
    public void Rules_are_checked_against_the_gate_s_shards_and_a_webhook_url_is_never_shown()
    {
        var options = new TelemetryOptions();
        options.Alerts.Rules.Add(new AlertRuleOptions { Name = "a", Kind = AlertKind.ShardParked, Shard = "users-1", High = 10, Low = 1 });
        options.Alerts.Rules.Add(new AlertRuleOptions { Name = "a", Kind = AlertKind.ShardParked, Shard = "users-7", High = 10, Low = 1 });
        options.Alerts.Webhook.Url = "hooks.slack.com/services/T000/B000/SECRET";

        var (settings, errors) = TelemetrySettings.Resolve(options, ["users-1"]);

        Assert.Null(settings);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:1:Name = a is invalid: another rule has the same name.", errors);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:1:Shard = users-7 is invalid: the gate has no such shard (its shards: users-1).", errors);
        Assert.DoesNotContain(errors, e => e.Contains("SECRET", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("OfflineTasks:Telemetry:Alerts:Webhook:Url is invalid", StringComparison.Ordinal));
    }
}
