using Hangfire.Server;
using OfflineTasks.Gate;

namespace OfflineTasks.Hangfire;

/// <summary>Records each job performance in this process (duration and outcome) in the <c>OfflineTasks</c> Meter.</summary>
internal sealed class JobMetricsFilter : IServerFilter
{
    private const string StartedKey = "OfflineTasks.Started";

    public void OnPerforming(PerformingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (GateBinding.For(context.Storage) is { } binding)
        {
            context.Items[StartedKey] = binding.Time.GetTimestamp();
        }
    }

    public void OnPerformed(PerformedContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (GateBinding.For(context.Storage) is not { } binding || !context.Items.TryGetValue(StartedKey, out var started) || started is not long timestamp)
        {
            return;
        }

        var error = context.Exception is { InnerException: { } inner } wrapper && wrapper is JobPerformanceException ? inner : context.Exception;
        var outcome = error switch
        {
            null => "succeeded",
            ShardClosedException => "parked",
            _ => "failed",
        };
        binding.Metrics.JobPerformed(outcome, binding.Time.GetElapsedTime(timestamp), error is null or ShardClosedException ? null : error.GetType().FullName);
    }
}
