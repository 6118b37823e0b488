namespace OfflineTasks.Alerts;

/// <summary>
/// One stored event of the fleet's operations stream, as the dashboard shows it and <c>GetEventsAsync</c> returns it:
/// the same line and fields that went to the log and the chat webhook.
/// </summary>
/// <param name="Id">Its position in the stream (ascending).</param>
/// <param name="At">When it happened.</param>
/// <param name="Kind"><c>shard</c>, <c>release</c>, <c>switch</c>, <c>alert</c>, <c>deadline</c> or <c>config</c>.</param>
/// <param name="Shard">The shard it is about, if any.</param>
/// <param name="Text">The human-readable line.</param>
/// <param name="Json">The whole event in its stable JSON shape (its fields, <c>text</c>, <c>kind</c>, <c>at</c>, <c>source</c>).</param>
public sealed record OperationsEvent(long Id, DateTimeOffset At, string Kind, string? Shard, string Text, string Json);
