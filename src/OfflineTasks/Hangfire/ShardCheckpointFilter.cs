using Hangfire.States;
using OfflineTasks.Gate;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Parks a job that stopped at a checkpoint because its shard closed under it (<see cref="IShardGate.ThrowIfClosed"/>
/// threw <see cref="ShardClosedException"/>): instead of Failed, the job goes to Parked, so it neither fails nor uses
/// a retry. Runs before Hangfire's <c>AutomaticRetryAttribute</c> (order 20), which would otherwise schedule a retry.
/// </summary>
internal sealed class ShardCheckpointFilter : IElectStateFilter
{
    public const int Order = 10;

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
            decision.ReasonKind.Length > 0 ? decision.ReasonKind : "unknown", null, "checkpoint");
    }
}
