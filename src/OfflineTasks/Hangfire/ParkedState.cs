using System.Globalization;
using Hangfire.Common;
using Hangfire.States;
using Hangfire.Storage;
using OfflineTasks.Storage;

namespace OfflineTasks.Hangfire;

/// <summary>
/// A job held back because its shard is closed: not failed, not retried, not in any queue, so no worker fetches it
/// again and again. Its <see cref="Handler"/> keeps it in its shard's parked set, in the same transaction as the
/// state change, the way Hangfire's own states keep their sets (<c>schedule</c>, <c>retries</c>). Only OfflineTasks
/// parks a job: its election filters do, when a job of a closed shard is created, enqueued or about to be processed,
/// or when a running job finds its shard closed at a checkpoint (<see cref="Gate.IShardGate.ThrowIfClosed"/>). The
/// fleet's releaser moves parked jobs back to <see cref="EnqueuedState"/>, in their original queue and oldest first,
/// once the shard reopens. Parking uses no retry attempt; the state is never final, so a parked job never expires.
/// </summary>
public sealed class ParkedState : IState
{
    /// <summary>The state's name, <c>Parked</c>.</summary>
    public const string StateName = "Parked";

    private const string DefaultQueue = "default";

    internal ParkedState(string shard, bool light, string queue, string reason, string reasonKind, int parkCount, DateTime firstParkedAt, DateTime parkedAt,
        bool deadlinePassed)
    {
        Shard = shard;
        Light = light;
        Queue = queue;
        Reason = reason;
        ReasonKind = reasonKind;
        ParkCount = parkCount;
        FirstParkedAt = firstParkedAt;
        ParkedAt = parkedAt;
        DeadlinePassed = deadlinePassed;
    }

    /// <inheritdoc />
    public string Name => StateName;

    /// <summary>Why: the shard's state, naming the signal, its value, the threshold, the master and the sample's age.</summary>
    public string Reason { get; }

    /// <inheritdoc />
    public bool IsFinal => false;

    /// <inheritdoc />
    public bool IgnoreJobLoadException => false;

    /// <summary>The shard the job waits for.</summary>
    public string Shard { get; }

    /// <summary>Whether the job is light (it may be released while the shard is open for light jobs only).</summary>
    public bool Light { get; }

    /// <summary>The queue the job goes back to when released.</summary>
    public string Queue { get; }

    /// <summary><c>load</c>, <c>degraded</c>, <c>unknown</c>, <c>stale</c> or <c>not_configured</c>.</summary>
    public string ReasonKind { get; }

    /// <summary>How often the job has been parked, this time included.</summary>
    public int ParkCount { get; }

    /// <summary>When the job was first parked (UTC); its parking deadline counts from here.</summary>
    public DateTime FirstParkedAt { get; }

    /// <summary>When the job was parked this time (UTC).</summary>
    public DateTime ParkedAt { get; }

    /// <summary>Whether the job has been parked for longer than <c>OfflineTasks:Gate:Parking:Deadline</c>.</summary>
    public bool DeadlinePassed { get; }

    /// <inheritdoc />
    public Dictionary<string, string> SerializeData()
    {
        var data = new Dictionary<string, string>
        {
            ["Shard"] = Shard,
            ["Queue"] = Queue,
            ["ReasonKind"] = ReasonKind,
            ["ParkCount"] = ParkCount.ToString(CultureInfo.InvariantCulture),
            ["FirstParkedAt"] = JobHelper.SerializeDateTime(FirstParkedAt),
            ["ParkedAt"] = JobHelper.SerializeDateTime(ParkedAt),
        };
        if (Light)
        {
            data["Light"] = "true";
        }

        if (DeadlinePassed)
        {
            data["DeadlinePassed"] = "true";
        }

        return data;
    }

    /// <summary>The Hangfire set that holds the parked jobs of <paramref name="shard"/> (light ones in a set of their own).</summary>
    public static string SetKey(string shard, bool light) => (light ? "offlinetasks:parked-light:" : "offlinetasks:parked:") + shard;

    /// <summary>
    /// The Hangfire set of <paramref name="shard"/>'s parked jobs whose state another change (an operator's requeue or
    /// delete, a deadline note) is about to change: the releaser leaves them alone. A member's score is when it was
    /// added; the change's own transaction removes it.
    /// </summary>
    internal static string ChangingKey(string shard) => "offlinetasks:parked-changing:" + shard;

    /// <summary>A job's member of its parked set: its id, prefixed with its queue unless that is <c>default</c> (as Hangfire's <c>schedule</c> set does).</summary>
    internal static string SetValue(string jobId, string queue) =>
        string.Equals(queue, DefaultQueue, StringComparison.Ordinal) ? jobId : queue + ":" + jobId;

    /// <summary>The job id and queue of a member of a parked set.</summary>
    internal static (string JobId, string Queue) ParseSetValue(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon < 0 ? (value, DefaultQueue) : (value[(colon + 1)..], value[..colon]);
    }

    /// <summary>A member's score: when the job was first parked, in milliseconds since 1970, so the oldest comes first.</summary>
    internal static double Score(DateTime firstParkedAt) => JobHelper.ToMillisecondTimestamp(firstParkedAt);

    /// <summary>The Parked state a job's current state data describes (the inverse of <see cref="SerializeData"/>), or null when it is not Parked.</summary>
    internal static ParkedState? FromStateData(StateData? data)
    {
        if (data is null || !string.Equals(data.Name, StateName, StringComparison.OrdinalIgnoreCase)
            || data.Data is not { } d || !d.TryGetValue("Shard", out var shard))
        {
            return null;
        }

        string Value(string key, string fallback) => d.TryGetValue(key, out var v) ? v : fallback;
        var first = d.TryGetValue("FirstParkedAt", out var f) ? JobHelper.DeserializeDateTime(f) : default;
        var at = d.TryGetValue("ParkedAt", out var p) ? JobHelper.DeserializeDateTime(p) : first;
        return new ParkedState(shard, Value("Light", "") == "true", Value("Queue", DefaultQueue), data.Reason ?? "", Value("ReasonKind", "unknown"),
            int.Parse(Value("ParkCount", "1"), CultureInfo.InvariantCulture), first, at, Value("DeadlinePassed", "") == "true");
    }


    /// <summary>This state again, noting that the job has been parked past its deadline (<paramref name="reason"/>), as of <paramref name="now"/>.</summary>
    internal ParkedState PastDeadline(string reason, DateTime now) =>
        new(Shard, Light, Queue, reason, ReasonKind, ParkCount, FirstParkedAt, now, deadlinePassed: true);

    /// <summary>Keeps a parked job in its shard's parked set while it is parked.</summary>
    public sealed class Handler : IStateHandler
    {
        /// <inheritdoc />
        public string StateName => ParkedState.StateName;

        /// <inheritdoc />
        public void Apply(ApplyStateContext context, IWriteOnlyTransaction transaction)
        {
            ArgumentNullException.ThrowIfNull(context);
            ArgumentNullException.ThrowIfNull(transaction);
            if (context.NewState is not ParkedState parked)
            {
                throw new InvalidOperationException($"`{typeof(Handler).FullName}` state handler can be registered only for the Parked state.");
            }

            transaction.AddToSet(SetKey(parked.Shard, parked.Light), SetValue(context.BackgroundJob.Id, parked.Queue), Score(parked.FirstParkedAt));
        }

        /// <inheritdoc />
        public void Unapply(ApplyStateContext context, IWriteOnlyTransaction transaction)
        {
            ArgumentNullException.ThrowIfNull(context);
            ArgumentNullException.ThrowIfNull(transaction);

            if (ShardReleaseLock.HeldOnThisThread is not null)
            {
                return; // the releaser's batch: it takes its members out of the set itself, and marks none as changing
            }

            // The state being left is still the job's current one: its data names the set.
            if (FromStateData(context.Connection.GetStateData(context.BackgroundJob.Id)) is { } parked)
            {
                transaction.RemoveFromSet(SetKey(parked.Shard, parked.Light), SetValue(context.BackgroundJob.Id, parked.Queue));
                transaction.RemoveFromSet(ChangingKey(parked.Shard), context.BackgroundJob.Id);
            }
        }
    }
}
