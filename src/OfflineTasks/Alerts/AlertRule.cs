using System.Globalization;

namespace OfflineTasks.Alerts;

/// <summary>A validated alert rule.</summary>
/// <param name="Name">Unique name.</param>
/// <param name="Kind">What it watches.</param>
/// <param name="Subject">The queue or the shard.</param>
/// <param name="High">Fires at or above this, after <paramref name="For"/>.</param>
/// <param name="Low">Resolves below this, after <paramref name="For"/>.</param>
/// <param name="For">The dwell time.</param>
internal sealed record AlertRule(string Name, AlertKind Kind, string Subject, double High, double Low, TimeSpan For)
{
    /// <summary>What the value is, for messages: "queue default depth", "shard users-2 parked jobs".</summary>
    public string Describe() => Kind switch
    {
        AlertKind.QueueDepth => $"queue {Subject} depth (enqueued jobs)",
        AlertKind.OldestAge => $"queue {Subject} oldest enqueued job age (s)",
        _ => $"shard {Subject} parked jobs",
    };

    /// <summary>The <c>kind</c> tag value.</summary>
    public string KindTag => Kind switch
    {
        AlertKind.QueueDepth => "queue_depth",
        AlertKind.OldestAge => "oldest_age",
        _ => "shard_parked",
    };

    /// <summary>Validates <paramref name="rules"/> against the known queues and shards; every problem names the key and the value.</summary>
    /// <param name="rules">The configured rules.</param>
    /// <param name="queues">The queues the telemetry samples (<c>OfflineTasks:Telemetry:Queues</c>).</param>
    /// <param name="shards">The gate's shards, or null when no gate is registered.</param>
    /// <param name="section">The configuration key of the list, for messages.</param>
    public static (IReadOnlyList<AlertRule> Rules, IReadOnlyList<string> Errors) Resolve(
        IList<AlertRuleOptions> rules, IReadOnlyCollection<string> queues, IReadOnlyCollection<string>? shards, string section)
    {
        var errors = new List<string>();
        var resolved = new List<AlertRule>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < rules.Count; i++)
        {
            var r = rules[i];
            var key = $"{section}:{i}";
            var ok = true;
            void Fail(string message)
            {
                errors.Add(message);
                ok = false;
            }

            if (string.IsNullOrWhiteSpace(r.Name))
            {
                Fail($"{key}:Name is missing: every alert rule needs a unique name.");
            }
            else if (!names.Add(r.Name))
            {
                Fail($"{key}:Name = {r.Name} is invalid: another rule has the same name.");
            }

            if (!Enum.IsDefined(r.Kind))
            {
                Fail($"{key}:Kind = {r.Kind} is invalid: use QueueDepth, OldestAge or ShardParked.");
            }

            string subject = "";
            if (r.Kind is AlertKind.QueueDepth or AlertKind.OldestAge)
            {
                subject = r.Queue ?? "";
                if (string.IsNullOrEmpty(r.Queue))
                {
                    Fail($"{key}:Queue is missing: a {r.Kind} rule watches one queue.");
                }
                else if (!queues.Contains(r.Queue))
                {
                    Fail($"{key}:Queue = {r.Queue} is invalid: it is not one of the sampled queues in OfflineTasks:Telemetry:Queues ({string.Join(", ", queues)}).");
                }
            }
            else if (r.Kind == AlertKind.ShardParked)
            {
                subject = r.Shard ?? "";
                if (string.IsNullOrEmpty(r.Shard))
                {
                    Fail($"{key}:Shard is missing: a ShardParked rule watches one shard.");
                }
                else if (shards is null || shards.Count == 0)
                {
                    Fail($"{key}:Shard = {r.Shard} is invalid: no shard is configured in the load-feedback gate (OfflineTasks:Gate:Shards).");
                }
                else if (!shards.Contains(r.Shard))
                {
                    Fail($"{key}:Shard = {r.Shard} is invalid: the gate has no such shard (its shards: {string.Join(", ", shards)}).");
                }
            }

            var marks = string.Create(CultureInfo.InvariantCulture, $"High {r.High}, Low {r.Low}");
            if (r.Low < 0 || r.High <= 0)
            {
                Fail($"{key} = {marks} is invalid: both marks must be positive.");
            }
            else if (r.Low >= r.High)
            {
                Fail($"{key} = {marks} is invalid: the low-water mark must be below the high-water mark.");
            }

            if (r.For < TimeSpan.Zero)
            {
                Fail($"{key}:For = {r.For} is invalid: it must not be negative.");
            }

            if (ok)
            {
                resolved.Add(new AlertRule(r.Name, r.Kind, subject, r.High, r.Low, r.For));
            }
        }

        return (resolved, errors);
    }
}
