namespace OfflineTasks.Alerts;

/// <summary>The built-in alerts: their rules, and the webhook their notifications (and shard and configuration changes) go to.</summary>
public sealed class AlertOptions
{
    /// <summary>The rules; none by default.</summary>
    public IList<AlertRuleOptions> Rules { get; set; } = new List<AlertRuleOptions>();

    /// <summary>The chat webhook; see <see cref="WebhookOptions"/>.</summary>
    public WebhookOptions Webhook { get; set; } = new();
}

/// <summary>What an alert rule watches.</summary>
public enum AlertKind
{
    /// <summary>Available (waiting, due) jobs of one queue.</summary>
    QueueDepth,

    /// <summary>Age in seconds of the oldest available job of one queue.</summary>
    OldestAge,

    /// <summary>Jobs of one shard held back by the gate.</summary>
    ShardParked,
}

/// <summary>
/// One high/low-water alert: it fires once its value has stayed at or above <see cref="High"/> for <see cref="For"/>,
/// and resolves once it has stayed below <see cref="Low"/> for <see cref="For"/>; between the marks nothing changes.
/// </summary>
public sealed class AlertRuleOptions
{
    /// <summary>The rule's unique name, in notifications and the <c>alert</c> tag of <c>offlinetasks.alert.state</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary>What it watches.</summary>
    public AlertKind Kind { get; set; }

    /// <summary>The queue, for <see cref="AlertKind.QueueDepth"/> and <see cref="AlertKind.OldestAge"/>: one of <c>OfflineTasks:Telemetry:Queues</c>.</summary>
    public string? Queue { get; set; }

    /// <summary>The shard, for <see cref="AlertKind.ShardParked"/>: one of the gate's shards.</summary>
    public string? Shard { get; set; }

    /// <summary>High-water mark: at or above it for <see cref="For"/>, the alert fires.</summary>
    public double High { get; set; }

    /// <summary>Low-water mark: below it for <see cref="For"/>, a firing alert resolves. Below <see cref="High"/>.</summary>
    public double Low { get; set; }

    /// <summary>The dwell time on either side. Default 1 min.</summary>
    public TimeSpan For { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// A webhook that receives every notification as JSON with a Slack-compatible <c>text</c> field and structured
/// fields. Sent in the background with a timeout and retries; a failure is logged, never blocks job processing.
/// </summary>
public sealed class WebhookOptions
{
    /// <summary>The URL to POST to; empty (the default) sends nothing.</summary>
    public string? Url { get; set; }

    /// <summary>Timeout of one attempt. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts per notification before it is given up (and logged). 1 to 20, default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry; later ones double, with jitter. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
