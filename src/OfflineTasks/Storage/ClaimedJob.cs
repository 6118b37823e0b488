namespace OfflineTasks.Storage;

/// <summary>A job a worker server has claimed: everything needed to run it.</summary>
internal sealed record ClaimedJob(
    long Id,
    string Queue,
    string? ShardKey,
    string Type,
    string Method,
    string ParameterTypes,
    string Arguments,
    int Attempt,
    int MaxAttempts,
    int DeferCount,
    ClaimCursor Position,
    bool Light,
    DateTimeOffset? DeferredSince);

/// <summary>A job's place in claim order: (-priority, scheduled_at, id), ascending.</summary>
internal readonly record struct ClaimCursor(int NegatedPriority, DateTime ScheduledAt, long Id) : IComparable<ClaimCursor>
{
    public int CompareTo(ClaimCursor other)
    {
        var c = NegatedPriority.CompareTo(other.NegatedPriority);
        if (c == 0)
        {
            c = ScheduledAt.CompareTo(other.ScheduledAt);
        }

        return c != 0 ? c : Id.CompareTo(other.Id);
    }
}
