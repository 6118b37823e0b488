namespace OfflineTasks.Internal;

/// <summary>
/// A resettable wake-up for one waiting loop. The loop calls <see cref="Reset"/> before it looks at the state
/// it waits for, then <see cref="WaitAsync"/>; a <see cref="Set"/> after the reset is never lost.
/// </summary>
internal sealed class AsyncSignal(TimeProvider time)
{
    private TaskCompletionSource _source = NewSource();

    public void Set() => Volatile.Read(ref _source).TrySetResult();

    public void Reset()
    {
        var current = Volatile.Read(ref _source);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _source, NewSource(), current);
        }
    }

    /// <summary>True when set, false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _source).Task;
        if (task.IsCompleted)
        {
            return true;
        }

        try
        {
            await task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
