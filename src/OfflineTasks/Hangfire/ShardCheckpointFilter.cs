using Hangfire.Server;
using Hangfire.States;
using OfflineTasks.Gate;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Parks a job that stopped at a checkpoint because its shard closed under it (<see cref="IShardGate.ThrowIfClosed"/>
/// threw <see cref="ShardClosedException"/>): instead of Failed, the job goes to Parked, so it neither fails nor uses
/// a retry. Runs before Hangfire's <c>AutomaticRetryAttribute</c> (order 20), which would otherwise schedule a retry.
/// </summary>
/// <remarks>
/// It also holds the last check before a sharded job's code runs: the shard may have closed in the milliseconds
/// between the worker's election to Processing (checked by <see cref="ShardElectionFilter"/>) and the start of the
/// job, while Hangfire committed the Processing state. A job whose shard closed meanwhile does not start; it is
/// parked the same way, with "stopped just before it started" in its history. While every shard is open this costs
/// one read of a field.
/// </remarks>
internal sealed class ShardCheckpointFilter : IElectStateFilter, IServerFilter
{
    public const int Order = 10;

    public void OnPerforming(PerformingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (GateBinding.For(context.Storage) is not { } binding || binding.Gate.AllOpen)
        {
            return;
        }

        JobShard? shard;
        try
        {
            shard = Parking.ShardOf(context.BackgroundJob.Job, () => context.GetJobParameter<ShardParameter>(JobShard.Parameter, allowStale: true));
        }
        catch (FormatException)
        {
            return; // the election filter has failed such a job already
        }

        if (shard is { } s && binding.Gate.Check(s.Name, s.Light) is { IsOpen: false } decision)
        {
            throw new ShardClosedException(decision) { BeforeStart = true };
        }
    }

    public void OnPerformed(PerformedContext context)
    {
    }

    public void OnStateElection(ElectStateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.CandidateState is not FailedState { Exception: ShardClosedException closed })
        {
            return;
        }

        var binding = GateBinding.For(context.Storage);
        var decision = closed.Decision;
        JobShard? own = null;
        try
        {
            own = Parking.ShardOf(context, readParameter: true);
        }
        catch (FormatException)
        {
        }

        // The job waits for the shard that closed, which need not be the one it was enqueued for.
        var shard = decision.Shard.Length > 0 ? decision.Shard : own?.Name ?? "";
        if (shard.Length == 0)
        {
            return; // no shard to wait for: the failure stands
        }

        var light = own is { } o && o.Name == shard && o.Light;
        context.CandidateState = Parking.Park(context, binding, shard, light, decision.Reason ?? closed.Message,
            decision.ReasonKind.Length > 0 ? decision.ReasonKind : "unknown", null, closed.BeforeStart ? "start" : "checkpoint");
    }
}
