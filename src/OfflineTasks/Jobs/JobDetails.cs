namespace OfflineTasks.Jobs;

/// <summary>A stored job as the storage's read API returns it (for dashboards, tools and tests).</summary>
/// <param name="Id">The job id.</param>
/// <param name="State">The current state.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Priority">Higher runs first within a queue.</param>
/// <param name="ShardKey">The MySQL shard it works on, or <c>null</c> when ungated.</param>
/// <param name="Type">The type the method is called on.</param>
/// <param name="Method">The method name.</param>
/// <param name="Arguments">The JSON arguments.</param>
/// <param name="Attempt">Attempts used so far (deferrals do not count).</param>
/// <param name="MaxAttempts">Attempts allowed.</param>
/// <param name="DeferCount">How many times it was deferred.</param>
/// <param name="CreatedAt">When it was enqueued.</param>
/// <param name="ScheduledAt">When it is (or was) due.</param>
/// <param name="AttemptedAt">When the latest attempt started, if any.</param>
/// <param name="FinalizedAt">When it reached a final state, if it has.</param>
/// <param name="LastError">The latest failure, if any.</param>
/// <param name="History">Every state transition, oldest first (capped at 100; the first is always kept).</param>
public sealed record JobDetails(
    long Id,
    JobState State,
    string Queue,
    short Priority,
    string? ShardKey,
    string Type,
    string Method,
    string Arguments,
    int Attempt,
    int MaxAttempts,
    int DeferCount,
    DateTimeOffset CreatedAt,
    DateTimeOffset ScheduledAt,
    DateTimeOffset? AttemptedAt,
    DateTimeOffset? FinalizedAt,
    JobError? LastError,
    IReadOnlyList<JobStateTransition> History);

/// <summary>One entry of a job's history.</summary>
/// <param name="At">When it happened (database time).</param>
/// <param name="From">The state before, or <c>null</c> for creation.</param>
/// <param name="To">The state after.</param>
/// <param name="Reason">Why, when there is more to say than the states (a retry's exception, a deferral's cause).</param>
public sealed record JobStateTransition(DateTimeOffset At, JobState? From, JobState To, string? Reason);

/// <summary>A failure recorded on a job.</summary>
/// <param name="Attempt">The attempt that failed.</param>
/// <param name="ExceptionType">The exception's full type name.</param>
/// <param name="Message">The exception's message.</param>
/// <param name="StackTrace">The exception's stack trace (with inner exceptions), if any.</param>
public sealed record JobError(int Attempt, string ExceptionType, string Message, string? StackTrace);
