using Hangfire.States;
using Hangfire.Storage;
using OfflineTasks.Storage;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Keeps the releaser and any other change of a parked job (an operator's requeue or delete, a deadline note) from
/// acting on the same job at once. The releaser moves a batch of parked jobs to Enqueued in one transaction under the
/// lock on the shard's parked sets (<see cref="ShardReleaseLock"/>), without Hangfire's per-job lock. Every other
/// state change of a parked job holds Hangfire's job lock, and in its election this filter takes the shard's lock
/// too, checks that the job is still parked, and marks it as changing
/// (<see cref="ParkedState.ChangingKey"/>): the releaser leaves a marked job alone, and the change's own transaction
/// removes the mark as it takes the job out of the parked set. A change that finds the job already released is
/// refused, naming what happened, rather than enqueueing or deleting a job a worker may be running.
/// </summary>
internal sealed class ParkedChangeFilter : IElectStateFilter
{
    /// <summary>Runs first: before any filter acts on the change.</summary>
    public const int Order = 0;

    /// <summary>How long a change waits for a release under way.</summary>
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    public void OnStateElection(ElectStateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!string.Equals(context.CurrentState, ParkedState.StateName, StringComparison.OrdinalIgnoreCase)
            || ShardReleaseLock.HeldOnThisThread is not null // the releaser's own batch
            || GateBinding.For(context.Storage) is not { } binding)
        {
            return;
        }

        var id = context.BackgroundJob.Id;
        var parked = ParkedState.FromStateData(context.Connection.GetStateData(id)) ?? throw Released(context);
        using (binding.Store.LockParked(parked.Shard, LockTimeout))
        {
            if (ParkedState.FromStateData(context.Connection.GetStateData(id)) is null)
            {
                throw Released(context);
            }

            using var transaction = context.Connection.CreateWriteTransaction();
            transaction.AddToSet(ParkedState.ChangingKey(parked.Shard), id, ParkedState.Score(binding.Time.GetUtcNow().UtcDateTime));
            transaction.Commit();
        }
    }

    private static InvalidOperationException Released(ElectStateContext context)
    {
        var now = context.Connection.GetJobData(context.BackgroundJob.Id)?.State ?? "gone";
        return new InvalidOperationException(
            $"Job {context.BackgroundJob.Id} was released from Parked (it is {now} now) while the change to {context.CandidateState.Name} waited; nothing was changed. Look at the job again and retry.");
    }
}
