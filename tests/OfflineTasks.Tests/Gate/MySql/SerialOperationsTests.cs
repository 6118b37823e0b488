using System.Diagnostics;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Gate.MySql;

public sealed class SerialOperationsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_cancelled_caller_is_released_at_once_and_the_next_operation_starts_only_after_the_abandoned_one_ends()
    {
        var operations = new SerialOperations();
        var stuck = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var stopwatch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => operations.RunAsync(_ => stuck.Task, cancellation.Token));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");

        var second = operations.RunAsync(
            _ =>
            {
                secondStarted.SetResult();
                return Task.FromResult(2);
            },
            CancellationToken.None);
        await Task.Delay(200);
        Assert.False(secondStarted.Task.IsCompleted, "the second operation started while the first was still running");

        stuck.SetResult(1);
        Assert.Equal(2, await second.WaitAsync(Bound));
    }

    [Fact]
    public async Task An_operation_whose_caller_gave_up_before_its_turn_never_runs()
    {
        var operations = new SerialOperations();
        var first = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = false;
        _ = operations.RunAsync(_ => first.Task, CancellationToken.None);
        using var cancellation = new CancellationTokenSource();

        var waiting = operations.RunAsync(
            _ =>
            {
                ran = true;
                return Task.FromResult(0);
            },
            cancellation.Token);
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        first.SetResult(1);

        Assert.Equal(3, await operations.RunAsync(_ => Task.FromResult(3), CancellationToken.None).WaitAsync(Bound));
        Assert.False(ran);
    }

    [Fact]
    public async Task A_failed_operation_does_not_stop_the_next()
    {
        var operations = new SerialOperations();

        await Assert.ThrowsAsync<InvalidOperationException>(() => operations.RunAsync<int>(_ => throw new InvalidOperationException("boom"), CancellationToken.None));

        Assert.Equal(4, await operations.RunAsync(_ => Task.FromResult(4), CancellationToken.None).WaitAsync(Bound));
    }
}
