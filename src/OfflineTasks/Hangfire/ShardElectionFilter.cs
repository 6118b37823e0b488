using Hangfire.Client;
using Hangfire.States;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Parks jobs of closed shards instead of letting them run, in Hangfire's state election:
/// <list type="bullet">
/// <item>on the client, a job created for a closed shard is parked at once, so it is never enqueued (and a job for a
/// shard the gate does not know is rejected before anything is stored);</item>
/// <item>a job about to be enqueued later (when its schedule is due, its parent finished, a retry is due, an operator
/// requeues it, or the releaser releases it) is parked if its shard is closed by then;</item>
/// <item>on the server, a fetched job whose shard closed after it was enqueued is parked on its way to Processing:
/// the worker removes it from the queue and never performs it.</item>
/// </list>
/// The shard comes from <see cref="ShardAttribute"/> over the job's arguments (in memory) or from the shard given at
/// enqueue; while every shard is open, a job without the attribute is not even looked at. Runs after Hangfire's
/// continuations filter (order 1000), which may turn a continuation into an enqueued job, and before <c>[Queue]</c>.
/// </summary>
internal sealed class ShardElectionFilter : IClientFilter, IElectStateFilter
{
    public const int Order = 2000;

    public void OnCreating(CreatingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var shard = JobShard.FromAttribute(context.Job) // a format that does not fit the arguments fails the enqueue, naming it
            ?? (context.Parameters.TryGetValue(JobShard.Parameter, out var given) && given is ShardParameter { Shard.Length: > 0 } p ? new JobShard(p.Shard, p.Light) : null);
        if (shard is not { } s || GateBinding.For(context.Storage) is not { } binding)
        {
            return;
        }

        if (!binding.Gate.IsKnown(s.Name))
        {
            throw new UnknownShardException(s.Name, $"{context.Job.Type.Name}.{context.Job.Method.Name}", binding.Gate.Settings.Shards.Keys);
        }

        if (context.InitialState is EnqueuedState && !binding.Gate.Check(s.Name, s.Light).IsOpen)
        {
            // It will be parked as it is created: its parking record goes in with the job, in the same round trip.
            context.SetJobParameter(ParkingRecord.Parameter, new ParkingRecord { Count = 1, FirstParkedAt = binding.Time.GetUtcNow().UtcDateTime });
        }
    }

    public void OnCreated(CreatedContext context)
    {
    }

    public void OnStateElection(ElectStateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var candidate = context.CandidateState;
        if (candidate is not (EnqueuedState or ProcessingState) || context.BackgroundJob.Job is null)
        {
            return;
        }

        var binding = GateBinding.For(context.Storage);
        JobShard? shard;
        try
        {
            // While every shard is open nothing is held back: a job without the attribute needs no parameter read.
            shard = Parking.ShardOf(context, readParameter: binding is null || !binding.Gate.AllOpen);
        }
        catch (FormatException e)
        {
            // The code changed since the job was enqueued: its shard cannot be worked out, so it must not run unchecked.
            context.CandidateState = new FailedState(e) { Reason = "Cannot work out the job's shard, so it is not run: " + e.Message };
            return;
        }

        if (shard is not { } s)
        {
            return;
        }

        var where = candidate is ProcessingState ? "processing" : context.CurrentState is null ? "creation" : "enqueue";
        if (binding is null)
        {
            if (candidate is ProcessingState)
            {
                // A worker without a gate must not run a sharded job unchecked; a process that has one releases it.
                context.CandidateState = Parking.Park(context, null, s.Name, s.Light,
                    $"shard {s.Name}: this process has no OfflineTasks gate for its Hangfire storage (services.AddOfflineTasks is missing), so the shard's load is unknown",
                    "unknown", null, where);
            }

            return;
        }

        var decision = binding.Gate.Check(s.Name, s.Light);
        if (!decision.IsOpen)
        {
            context.CandidateState = Parking.Park(context, binding, s.Name, s.Light, decision.Reason!, decision.ReasonKind,
                (candidate as EnqueuedState)?.Queue, where);
        }
    }
}
