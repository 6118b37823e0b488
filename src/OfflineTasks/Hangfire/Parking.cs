using System.Globalization;
using Hangfire.States;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;

namespace OfflineTasks.Hangfire;

/// <summary>What a job's shard is, and how a job is parked: the part both election filters share.</summary>
internal static class Parking
{
    private const string DefaultQueue = "default";

    /// <summary>
    /// The shard of the job being elected: from its <see cref="ShardAttribute"/> (in memory), else from the shard
    /// given at enqueue (the job parameter: in memory while the job is created, one read afterwards). Null when the
    /// job has no shard.
    /// </summary>
    /// <exception cref="FormatException">The attribute's format does not fit the job's arguments.</exception>
    public static JobShard? ShardOf(ElectStateContext context, bool readParameter) =>
        ShardOf(context.BackgroundJob.Job, readParameter ? () => context.GetJobParameter<ShardParameter>(JobShard.Parameter, allowStale: true) : null);

    /// <summary>The shard of <paramref name="job"/>: from its attribute, else from the parameter <paramref name="readParameter"/> reads (if given).</summary>
    /// <exception cref="FormatException">The attribute's format does not fit the job's arguments.</exception>
    public static JobShard? ShardOf(global::Hangfire.Common.Job? job, Func<ShardParameter?>? readParameter)
    {
        if (job is not null && JobShard.FromAttribute(job) is { } shard)
        {
            return shard;
        }

        return readParameter?.Invoke() is { Shard.Length: > 0 } given ? new JobShard(given.Shard, given.Light) : null;
    }

    /// <summary>The Parked state for the job being elected, with its park count and deadline brought up to date.</summary>
    /// <param name="context">The election.</param>
    /// <param name="binding">The gate, if this process has one for the storage.</param>
    /// <param name="shard">The shard the job waits for.</param>
    /// <param name="light">Whether the job is light.</param>
    /// <param name="reason">Why the shard is closed.</param>
    /// <param name="reasonKind">The kind of reason (a metric tag).</param>
    /// <param name="queue">The queue to release it to, when the election knows it; else it is looked up.</param>
    /// <param name="where">creation, enqueue, processing, start or checkpoint.</param>
    public static ParkedState Park(ElectStateContext context, GateBinding? binding, string shard, bool light, string reason, string reasonKind, string? queue,
        string where)
    {
        var now = (binding?.Time ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        var jobId = context.BackgroundJob.Id;
        var record = context.GetJobParameter<ParkingRecord>(ParkingRecord.Parameter, allowStale: true);
        if (!(context.CurrentState is null && record is { Count: 1 }))
        {
            // Not the record the client wrote with the job as it created it (already parked): count this parking.
            record = new ParkingRecord { Count = (record?.Count ?? 0) + 1, FirstParkedAt = record?.FirstParkedAt ?? now };
            context.SetJobParameter(ParkingRecord.Parameter, record);
        }

        var text = where switch
        {
            "checkpoint" => "stopped at a checkpoint: " + reason,
            "start" => "stopped just before it started: " + reason,
            _ => reason,
        };
        var deadline = binding?.Gate.Settings.ParkingDeadline;
        var parkedFor = now - record.FirstParkedAt;
        var late = deadline is { } d && parkedFor > d;
        if (late)
        {
            text += string.Create(CultureInfo.InvariantCulture,
                $"; DEADLINE PASSED: parked {record.Count} times for {parkedFor.TotalMinutes:0.#} min in all, over the deadline of {deadline!.Value.TotalMinutes:0.#} min (it stays parked)");
            binding!.Logger.LogError("Job {JobId} of shard {Shard} has been parked for {ParkedFor} ({Count} times), past the deadline of {Deadline}: {Reason}",
                jobId, shard, parkedFor, record.Count, deadline, reason);
            binding.Metrics.ParkDeadlineExceeded(shard);
        }

        binding?.Metrics.JobParked(shard, reasonKind, where);
        return new ParkedState(shard, light, queue ?? QueueOf(context), text, reasonKind, record.Count, record.FirstParkedAt, now, late);
    }

    /// <summary>
    /// The queue a job parked while processing was enqueued to: the current state's (Enqueued) data, else the latest
    /// Enqueued state of its history (a job fetched again after its worker died is already Processing).
    /// </summary>
    private static string QueueOf(ElectStateContext context)
    {
        var id = context.BackgroundJob.Id;
        if (context.Connection.GetStateData(id)?.Data is { } data && data.TryGetValue("Queue", out var queue) && queue.Length > 0)
        {
            return queue;
        }

        var history = context.Storage.GetMonitoringApi().JobDetails(id)?.History;
        var enqueued = history?.FirstOrDefault(h => string.Equals(h.StateName, EnqueuedState.StateName, StringComparison.OrdinalIgnoreCase));
        return enqueued?.Data is { } d && d.TryGetValue("Queue", out var q) && q.Length > 0 ? q : context.BackgroundJob.Job?.Queue ?? DefaultQueue;
    }
}
