using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Hangfire;
using Hangfire.States;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// Counts, per storage, the jobs a worker fetched and tried to move to Processing (the last election filter, so it
/// sees every fetch, whether the job then ran or was parked).
/// </summary>
public sealed class ProcessingRecorder : IElectStateFilter
{
    public static readonly ProcessingRecorder Instance = new();
    private readonly ConditionalWeakTable<JobStorage, ConcurrentQueue<string>> _fetched = [];

    public void OnStateElection(ElectStateContext context)
    {
        if (context.TraversedStates.Any(s => s is ProcessingState) || context.CandidateState is ProcessingState)
        {
            _fetched.GetValue(context.Storage, static _ => new()).Enqueue(context.BackgroundJob.Id);
        }
    }

    /// <summary>The ids of the jobs fetched from <paramref name="storage"/>, once per fetch.</summary>
    public IReadOnlyList<string> FetchedFrom(JobStorage storage) => _fetched.TryGetValue(storage, out var q) ? q.ToArray() : [];
}
