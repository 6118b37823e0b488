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
    int DeferCount);
