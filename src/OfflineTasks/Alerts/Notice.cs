namespace OfflineTasks.Alerts;

/// <summary>
/// One message for the operations channel (the log and the webhook): an alert firing or resolving, a shard closing
/// or reopening, a configuration reload. <see cref="Text"/> is the chat line; <see cref="Fields"/> the structured data.
/// </summary>
/// <param name="Kind"><c>alert</c>, <c>shard</c>, <c>switch</c> or <c>config</c>.</param>
/// <param name="Text">The human-readable line (Slack's <c>text</c>).</param>
/// <param name="At">When it happened.</param>
/// <param name="Fields">Structured fields (rule, state, value, high, low, queue, shard, reason, ...).</param>
internal sealed record Notice(string Kind, string Text, DateTimeOffset At, IReadOnlyDictionary<string, object?> Fields);
