using System.Runtime.CompilerServices;
using Hangfire;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;
using OfflineTasks.Storage;
using OfflineTasks.Telemetry;

namespace OfflineTasks.Hangfire;

/// <summary>
/// The gate that decides for the jobs of one Hangfire storage. Hangfire's filters are process-wide
/// (<c>GlobalJobFilters</c>), while the gate belongs to the DI container that <c>AddOfflineTasks</c> set up: the
/// filters find it through the storage their context names, so each container's storage gets its own gate (as in a
/// test process that runs several hosts).
/// </summary>
internal sealed class GateBinding(ShardGate gate, OfflineTasksStore store, TimeProvider time, OfflineTasksMetrics metrics, ILogger logger)
{
    // Usually one binding per storage; a process that runs two hosts over one storage keeps both, newest first.
    private static readonly ConditionalWeakTable<JobStorage, List<GateBinding>> Bindings = [];

    public ShardGate Gate { get; } = gate;

    /// <summary>OfflineTasks' tables (the lock on a shard's parked sets).</summary>
    public OfflineTasksStore Store { get; } = store;

    public TimeProvider Time { get; } = time;

    public OfflineTasksMetrics Metrics { get; } = metrics;

    public ILogger Logger { get; } = logger;

    /// <summary>The gate of <paramref name="storage"/>, or null when no OfflineTasks host runs over it in this process.</summary>
    public static GateBinding? For(JobStorage storage)
    {
        if (!Bindings.TryGetValue(storage, out var list))
        {
            return null;
        }

        lock (list)
        {
            return list.Count > 0 ? list[^1] : null;
        }
    }

    public static void Bind(JobStorage storage, GateBinding binding)
    {
        var list = Bindings.GetValue(storage, static _ => []);
        lock (list)
        {
            list.Add(binding);
        }
    }

    public static void Unbind(JobStorage storage, GateBinding binding)
    {
        if (Bindings.TryGetValue(storage, out var list))
        {
            lock (list)
            {
                list.Remove(binding);
            }
        }
    }
}
