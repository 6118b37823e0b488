using Npgsql;
using OfflineTasks.Jobs;

namespace OfflineTasks.TestWorker;

/// <summary>
/// A job for multi-process tests: records each run (job id, worker pid, start, end) in the test schema's
/// <c>test_run</c> table, so a test can count runs per job across worker processes.
/// </summary>
public sealed class RecordingJob(NpgsqlDataSource dataSource, WorkerSettings settings)
{
    public const string CreateTable = "CREATE TABLE IF NOT EXISTS {0}.test_run (job_id bigint NOT NULL, pid int NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL)";

    public async Task RunAsync(int n, int sleepMs, JobContext context)
    {
        var started = DateTimeOffset.UtcNow;
        await Task.Delay(sleepMs, context.CancellationToken);
        await using var command = dataSource.CreateCommand(
            $"INSERT INTO {settings.Schema}.test_run (job_id, pid, started_at, finished_at) VALUES ($1, $2, $3, now())");
        command.Parameters.Add(new NpgsqlParameter { Value = context.JobId });
        command.Parameters.Add(new NpgsqlParameter { Value = Environment.ProcessId });
        command.Parameters.Add(new NpgsqlParameter { Value = started });
        await command.ExecuteNonQueryAsync(context.CancellationToken);
    }
}

/// <summary>What the test passes to a worker process.</summary>
public sealed record WorkerSettings(string ConnectionString, string Schema);
