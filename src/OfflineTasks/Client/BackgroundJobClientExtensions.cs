using System.Linq.Expressions;
using Npgsql;
using OfflineTasks.Jobs;

namespace OfflineTasks.Client;

/// <summary>
/// Hangfire-style enqueueing from a call expression. The target type is resolved from DI when the job runs;
/// pass <see cref="CancellationToken.None"/> for a token parameter (the worker supplies the real one).
/// Every method throws <see cref="JobSerializationException"/> when the call cannot be stored, and
/// <see cref="ArgumentException"/> for invalid <see cref="JobOptions"/>.
/// </summary>
public static class BackgroundJobClientExtensions
{
    /// <summary>Enqueues an asynchronous instance method call and returns the job id.</summary>
    public static long Enqueue<T>(this IBackgroundJobClient client, Expression<Func<T, Task>> call, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, options)));

    /// <summary>Enqueues a synchronous instance method call and returns the job id.</summary>
    public static long Enqueue<T>(this IBackgroundJobClient client, Expression<Action<T>> call, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, options)));

    /// <summary>Enqueues an asynchronous static method call and returns the job id.</summary>
    public static long Enqueue(this IBackgroundJobClient client, Expression<Func<Task>> call, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, options)));

    /// <summary>Enqueues a synchronous static method call and returns the job id.</summary>
    public static long Enqueue(this IBackgroundJobClient client, Expression<Action> call, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, options)));

    /// <summary>Enqueues an asynchronous instance method call and returns the job id.</summary>
    public static Task<long> EnqueueAsync<T>(this IBackgroundJobClient client, Expression<Func<T, Task>> call, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        Client(client).EnqueueAsync(Job.FromExpression(call, options), cancellationToken);

    /// <summary>Enqueues a synchronous instance method call and returns the job id.</summary>
    public static Task<long> EnqueueAsync<T>(this IBackgroundJobClient client, Expression<Action<T>> call, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        Client(client).EnqueueAsync(Job.FromExpression(call, options), cancellationToken);

    /// <summary>Enqueues inside the caller's transaction: the job exists only if it commits.</summary>
    public static Task<long> EnqueueAsync<T>(this IBackgroundJobClient client, Expression<Func<T, Task>> call, NpgsqlTransaction transaction, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        Client(client).EnqueueAsync(Job.FromExpression(call, options), transaction, cancellationToken);

    /// <summary>Enqueues a call to run no earlier than <paramref name="delay"/> from now.</summary>
    public static long Schedule<T>(this IBackgroundJobClient client, Expression<Func<T, Task>> call, TimeSpan delay, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, (options ?? JobOptions.Default) with { Delay = delay, RunAt = null })));

    /// <summary>Enqueues a call to run no earlier than <paramref name="runAt"/>.</summary>
    public static long Schedule<T>(this IBackgroundJobClient client, Expression<Func<T, Task>> call, DateTimeOffset runAt, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, (options ?? JobOptions.Default) with { RunAt = runAt, Delay = null })));

    /// <summary>Enqueues a synchronous call to run no earlier than <paramref name="delay"/> from now.</summary>
    public static long Schedule<T>(this IBackgroundJobClient client, Expression<Action<T>> call, TimeSpan delay, JobOptions? options = null) =>
        Wait(Client(client).EnqueueAsync(Job.FromExpression(call, (options ?? JobOptions.Default) with { Delay = delay, RunAt = null })));

    private static IBackgroundJobClient Client(IBackgroundJobClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client;
    }

    private static long Wait(Task<long> task) => task.GetAwaiter().GetResult();
}
