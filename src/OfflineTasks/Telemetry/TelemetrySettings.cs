using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.Alerts;
using OfflineTasks.Internal;

namespace OfflineTasks.Telemetry;

/// <summary>The telemetry settings that take effect without a restart, resolved and validated.</summary>
internal sealed record TelemetrySettings(bool Enabled, TimeSpan SampleInterval, TimeSpan LeaderLease, IReadOnlyList<string> Queues, IReadOnlyList<AlertRule> Rules,
    WebhookSettings Webhook)
{
    /// <summary>Validates <paramref name="options"/>; alert rules must name a sampled queue or a known shard.</summary>
    public static (TelemetrySettings? Settings, IReadOnlyList<string> Errors) Resolve(TelemetryOptions options, IReadOnlyCollection<string>? shards)
    {
        const string s = TelemetryOptions.SectionName;
        var errors = new List<string>();
        if (options.SampleInterval <= TimeSpan.Zero)
        {
            errors.Add($"{s}:SampleInterval = {options.SampleInterval} is invalid: it must be a positive duration (e.g. \"00:00:05\").");
        }

        if (options.LeaderLease <= options.SampleInterval)
        {
            errors.Add($"{s}:LeaderLease = {options.LeaderLease} is invalid: it must exceed {s}:SampleInterval ({options.SampleInterval}).");
        }

        if (options.Otlp?.Endpoint is { Length: > 0 } endpoint && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
        {
            errors.Add($"{s}:Otlp:Endpoint = {endpoint} is invalid: it must be an absolute URL (e.g. \"http://otel-collector:4317\").");
        }

        if (options.Otlp?.Protocol is { } protocol && protocol is not ("Grpc" or "HttpProtobuf"))
        {
            errors.Add($"{s}:Otlp:Protocol = {protocol} is invalid: use Grpc or HttpProtobuf.");
        }

        var queues = (options.Queues ?? []).Distinct(StringComparer.Ordinal).ToList();
        if (queues.Count == 0)
        {
            queues.Add("default");
        }

        for (var i = 0; i < queues.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(queues[i]) || !queues[i].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
            {
                errors.Add($"{s}:Queues:{i} = '{queues[i]}' is invalid: a Hangfire queue name has lower-case letters, digits, '_' and '-' only.");
            }
        }

        var alerts = options.Alerts ?? new AlertOptions();
        var (rules, ruleErrors) = AlertRule.Resolve(alerts.Rules ?? [], queues, shards, $"{s}:Alerts:Rules");
        errors.AddRange(ruleErrors);

        var webhook = alerts.Webhook ?? new WebhookOptions();
        Uri? webhookUrl = null;
        if (!string.IsNullOrEmpty(webhook.Url) && (!Uri.TryCreate(webhook.Url, UriKind.Absolute, out webhookUrl) || webhookUrl.Scheme is not ("http" or "https")))
        {
            errors.Add($"{s}:Alerts:Webhook:Url is invalid: it must be an absolute http or https URL (the value is not shown: webhook URLs carry secrets).");
        }

        if (webhook.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{s}:Alerts:Webhook:Timeout = {webhook.Timeout} is invalid: it must be a positive duration.");
        }

        if (webhook.MaxAttempts is < 1 or > 20)
        {
            errors.Add($"{s}:Alerts:Webhook:MaxAttempts = {webhook.MaxAttempts} is invalid: it must be between 1 and 20.");
        }

        if (webhook.RetryDelay < TimeSpan.Zero)
        {
            errors.Add($"{s}:Alerts:Webhook:RetryDelay = {webhook.RetryDelay} is invalid: it must not be negative.");
        }

        return errors.Count > 0
            ? (null, errors)
            : (new TelemetrySettings(options.Enabled, options.SampleInterval, options.LeaderLease, queues, rules,
                new WebhookSettings(webhookUrl, webhook.Timeout, webhook.MaxAttempts, webhook.RetryDelay)), errors);
    }
}

/// <summary>Resolved <see cref="WebhookOptions"/>; a null <paramref name="Url"/> sends nothing.</summary>
internal sealed record WebhookSettings(Uri? Url, TimeSpan Timeout, int MaxAttempts, TimeSpan RetryDelay);

/// <summary>The current telemetry settings, following reloads of <c>OfflineTasks:Telemetry</c>.</summary>
internal sealed class TelemetrySettingsMonitor : ReloadableSettings<TelemetryOptions, TelemetrySettings>
{
    public TelemetrySettingsMonitor(IOptions<TelemetryOptions> options, IConfiguration? configuration, Action<TelemetryOptions>? configure,
        Func<IReadOnlyCollection<string>?> shards, ILogger<TelemetrySettingsMonitor> logger)
        : base(options, configuration, TelemetryOptions.SectionName, configure, o => TelemetrySettings.Resolve(o, shards()), logger)
    {
    }

    protected override bool Same(TelemetrySettings a, TelemetrySettings b) =>
        a.Enabled == b.Enabled && a.SampleInterval == b.SampleInterval && a.LeaderLease == b.LeaderLease && a.Webhook == b.Webhook && a.Queues.SequenceEqual(b.Queues) && a.Rules.SequenceEqual(b.Rules);

    protected override string Describe(TelemetrySettings settings) =>
        $"sample every {settings.SampleInterval}, queues {string.Join(", ", settings.Queues)}, {settings.Rules.Count} alert rules ({string.Join(", ", settings.Rules.Select(r => r.Name))}), webhook {(settings.Webhook.Url is null ? "off" : "on")}";
}
