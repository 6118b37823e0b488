namespace OfflineTasks.Telemetry;

/// <summary>The name of OfflineTasks' Meter, for <c>AddOpenTelemetry().WithMetrics(m =&gt; m.AddMeter(OfflineTasksMeter.Name))</c>.</summary>
public static class OfflineTasksMeter
{
    /// <summary><c>OfflineTasks</c>: every instrument listed in docs/metrics.md belongs to it.</summary>
    public const string Name = "OfflineTasks";
}
