namespace OfflineTasks.Benchmarks;

/// <summary>The benchmark's job: does nothing, so what is measured is the queue itself.</summary>
public static class NoopJob
{
    /// <summary>Returns at once. <paramref name="i"/> only makes each job's arguments differ, as real jobs' do.</summary>
    public static Task RunAsync(int i) => Task.CompletedTask;
}
