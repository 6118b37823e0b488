using System.Linq.Expressions;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Enqueues jobs for a shard given at enqueue, for job methods without a <see cref="ShardAttribute"/> (or to name
/// another shard than the attribute would). The shard is stored with the job as the job parameter
/// <c>OfflineTasks.Shard</c>; the gate treats the job exactly as one marked with the attribute. A shard the gate does
/// not know is rejected at once (<see cref="UnknownShardException"/>, wrapped in Hangfire's
/// <c>BackgroundJobClientException</c>), and nothing is stored. The process must run the gate for the client's
/// storage (<c>services.AddOfflineTasks</c>): that is where the shard's name is checked, since a worker does not read
/// the parameter while every known shard is open.
/// </summary>
public static class ShardBackgroundJobClientExtensions
{
    /// <summary>Enqueues <paramref name="methodCall"/> for <paramref name="shard"/>; returns the job's id.</summary>
    /// <param name="client">Hangfire's client (it must implement <c>IBackgroundJobClientV2</c>, as Hangfire 1.8's does).</param>
    /// <param name="shard">The shard the job works on, as configured under <c>OfflineTasks:Gate:Shards</c>.</param>
    /// <param name="methodCall">The job.</param>
    /// <param name="light">Whether the job may run while the shard is open for light jobs only.</param>
    public static string EnqueueForShard(this IBackgroundJobClient client, string shard, Expression<Action> methodCall, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new EnqueuedState(), light);

    /// <inheritdoc cref="EnqueueForShard(IBackgroundJobClient, string, Expression{Action}, bool)"/>
    public static string EnqueueForShard(this IBackgroundJobClient client, string shard, Expression<Func<Task>> methodCall, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new EnqueuedState(), light);

    /// <inheritdoc cref="EnqueueForShard(IBackgroundJobClient, string, Expression{Action}, bool)"/>
    public static string EnqueueForShard<T>(this IBackgroundJobClient client, string shard, Expression<Action<T>> methodCall, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new EnqueuedState(), light);

    /// <inheritdoc cref="EnqueueForShard(IBackgroundJobClient, string, Expression{Action}, bool)"/>
    public static string EnqueueForShard<T>(this IBackgroundJobClient client, string shard, Expression<Func<T, Task>> methodCall, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new EnqueuedState(), light);

    /// <summary>Schedules <paramref name="methodCall"/> for <paramref name="shard"/> after <paramref name="delay"/>; returns the job's id.</summary>
    /// <param name="client">Hangfire's client.</param>
    /// <param name="shard">The shard the job works on.</param>
    /// <param name="methodCall">The job.</param>
    /// <param name="delay">How long from now it becomes due; if its shard is closed then, it is parked instead of enqueued.</param>
    /// <param name="light">Whether the job may run while the shard is open for light jobs only.</param>
    public static string ScheduleForShard<T>(this IBackgroundJobClient client, string shard, Expression<Func<T, Task>> methodCall, TimeSpan delay, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new ScheduledState(delay), light);

    /// <inheritdoc cref="ScheduleForShard{T}(IBackgroundJobClient, string, Expression{Func{T, Task}}, TimeSpan, bool)"/>
    public static string ScheduleForShard<T>(this IBackgroundJobClient client, string shard, Expression<Action<T>> methodCall, TimeSpan delay, bool light = false) =>
        CreateForShard(client, shard, Job.FromExpression(methodCall), new ScheduledState(delay), light);

    /// <summary>Creates <paramref name="job"/> in <paramref name="state"/> for <paramref name="shard"/>; returns the job's id.</summary>
    /// <param name="client">Hangfire's client (it must implement <c>IBackgroundJobClientV2</c>).</param>
    /// <param name="shard">The shard the job works on.</param>
    /// <param name="job">The job.</param>
    /// <param name="state">Its initial state (Enqueued, Scheduled, ...).</param>
    /// <param name="light">Whether the job may run while the shard is open for light jobs only.</param>
    public static string CreateForShard(this IBackgroundJobClient client, string shard, Job job, IState state, bool light = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(shard);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(state);
        if (client is not IBackgroundJobClientV2 v2)
        {
            throw new NotSupportedException($"{client.GetType().Name} cannot store job parameters: giving a shard at enqueue needs Hangfire 1.8's IBackgroundJobClientV2 (BackgroundJobClient implements it).");
        }

        if (GateBinding.For(v2.Storage) is null)
        {
            throw new InvalidOperationException(
                $"Cannot enqueue for shard {shard}: this process runs no OfflineTasks gate for the client's Hangfire storage, so the shard's name cannot be checked. "
                + "Call services.AddOfflineTasks(configuration) in this process too (and start its host), or mark the job's method with [Shard].");
        }

        return v2.Create(job, state, new Dictionary<string, object> { [JobShard.Parameter] = new ShardParameter { Shard = shard, Light = light } })
            ?? throw new InvalidOperationException($"Hangfire did not create the job for shard {shard} (a client filter cancelled it).");
    }
}
