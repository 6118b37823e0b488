namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Runs a client's operations one after another. A caller that stops waiting (its token is cancelled) gets
/// control back at once, but its operation keeps running, and the next one starts only after it ends: a
/// connection the operations share is never used by two of them at once, even when one is stuck in a
/// blocking driver call, and at most one is stuck at a time.
/// </summary>
internal sealed class SerialOperations
{
    private readonly Lock _lock = new();
    private Task _last = Task.CompletedTask;

    /// <summary>
    /// Starts <paramref name="operation"/> after every operation started before it has ended, unless
    /// <paramref name="cancellationToken"/> is cancelled by then. The operation receives the token; the
    /// returned task ends with the operation or with an <see cref="OperationCanceledException"/> as soon as
    /// the token is cancelled, whichever comes first.
    /// </summary>
    public Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        Task<T> run;
        lock (_lock)
        {
            run = After(_last, operation, cancellationToken);

            // Observes an abandoned operation's exception, so the next one waits for its end and nothing else.
            _last = run.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return run.WaitAsync(cancellationToken);
    }

    private static async Task<T> After<T>(Task previous, Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return await operation(cancellationToken).ConfigureAwait(false);
    }
}
