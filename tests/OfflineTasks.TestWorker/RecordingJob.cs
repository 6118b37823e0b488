using Hangfire.Server;
using Npgsql;
using OfflineTasks.Hangfire;

namespace OfflineTasks.TestWorker;

/// <summary>
/// A job for multi-process tests: records each run (job id, worker pid, start, end) in the test schema's
/// <c>test_run</c> table, so a test can count runs per job across worker processes.
/// </summary>
public sealed class RecordingJob(NpgsqlDataSource dataSource, WorkerSettings settings)
{
    /// <summary>The statement that creates the table of runs in <paramref name="schema"/>.</summary>
    public static string CreateTable(string schema) =>
        $"CREATE TABLE IF NOT EXISTS {schema}.test_run (job_id text NOT NULL, pid int NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)";

    /// <summary>Runs for <paramref name="sleepMs"/>, then records the run. Hangfire passes <paramref name="context"/> (enqueue it as null).</summary>
    public async Task RunAsync(int n, int sleepMs, PerformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = DateTimeOffset.UtcNow;
        await Task.Delay(sleepMs, context.CancellationToken.ShutdownToken);
        await RecordAsync(context.BackgroundJob.Id, started);
    }

    /// <summary>The same on the shard its first argument names.</summary>
    [Shard("{0}")]
    public async Task OnShardAsync(string shard, int n, int sleepMs, PerformContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = DateTimeOffset.UtcNow;
        await Task.Delay(sleepMs, context.CancellationToken.ShutdownToken);
        await RecordAsync(context.BackgroundJob.Id, started);
    }

    private async Task RecordAsync(string jobId, DateTimeOffset started)
    {
        await using var command = dataSource.CreateCommand(
            $"INSERT INTO {settings.Schema}.test_run (job_id, pid, started_at, finished_at) VALUES ($1, $2, $3, now())");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = Environment.ProcessId });
        command.Parameters.Add(new NpgsqlParameter { Value = started });
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>What the test passes to a worker process.</summary>
public sealed record WorkerSettings(string ConnectionString, string Schema);
