namespace OfflineTasks.Jobs;

/// <summary>Maps <see cref="JobState"/> to and from the lower-case names stored in PostgreSQL.</summary>
internal static class JobStateNames
{
    public const string Scheduled = "scheduled";
    public const string Available = "available";
    public const string Processing = "processing";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Deleted = "deleted";

    public static string ToName(this JobState state) => state switch
    {
        JobState.Scheduled => Scheduled,
        JobState.Available => Available,
        JobState.Processing => Processing,
        JobState.Succeeded => Succeeded,
        JobState.Failed => Failed,
        JobState.Deleted => Deleted,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown job state."),
    };

    public static JobState Parse(string name) => name switch
    {
        Scheduled => JobState.Scheduled,
        Available => JobState.Available,
        Processing => JobState.Processing,
        Succeeded => JobState.Succeeded,
        Failed => JobState.Failed,
        Deleted => JobState.Deleted,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown job state name."),
    };
}
