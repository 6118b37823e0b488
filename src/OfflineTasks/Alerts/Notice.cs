using System.Text.Json;

namespace OfflineTasks.Alerts;

/// <summary>
/// One event of the fleet's operations stream: a shard closing or reopening, a release, a switch, an alert firing or
/// resolving, a deadline breach, a configuration reload. <see cref="Text"/> is the chat line; <see cref="Fields"/> the
/// structured data. The same event is stored (the dashboard reads it), logged and sent to the chat webhook, in one
/// JSON shape (<see cref="Body"/>).
/// </summary>
/// <param name="Kind">One of <see cref="Kinds"/>.</param>
/// <param name="Text">The human-readable line (Slack's <c>text</c>).</param>
/// <param name="At">When it happened.</param>
/// <param name="Fields">Structured fields (shard, state, reason, rule, value, high, low, queue, actor, ...).</param>
internal sealed record Notice(string Kind, string Text, DateTimeOffset At, IReadOnlyDictionary<string, object?> Fields)
{
    /// <summary>Every kind of event: <c>shard</c> (closed, reopened, light-only), <c>release</c>, <c>switch</c>, <c>alert</c>, <c>deadline</c>, <c>config</c>.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["shard", "release", "switch", "alert", "deadline", "config"];

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The shard the event is about, if any.</summary>
    public string? Shard => Fields.TryGetValue("shard", out var shard) ? shard as string : null;

    /// <summary>
    /// The event's stable JSON shape, as the webhook receives it and the store keeps it: its fields, then
    /// <c>text</c>, <c>kind</c>, <c>at</c> and <c>source</c> (<c>offlinetasks</c>).
    /// </summary>
    public Dictionary<string, object?> Body() => new(Fields, StringComparer.Ordinal)
    {
        ["text"] = Text,
        ["kind"] = Kind,
        ["at"] = At,
        ["source"] = "offlinetasks",
    };

    /// <summary><see cref="Body"/> as JSON.</summary>
    public string BodyJson() => JsonSerializer.Serialize(Body(), Json);
}
