using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace OfflineTasks.Benchmarks;

/// <summary>Small helpers every benchmark uses: the connection string, schemas, statistics and the stderr log.</summary>
internal static class Bench
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=54339;Username=postgres;Database=postgres";

    /// <summary><c>--connection-string</c>, else <c>$OFFLINETASKS_BENCH_CONNECTION</c>, else run.sh's PostgreSQL.</summary>
    public static string ConnectionString(BenchArgs args) =>
        args.String("connection-string") ?? Environment.GetEnvironmentVariable("OFFLINETASKS_BENCH_CONNECTION") ?? DefaultConnectionString;

    /// <summary>A fresh schema name, <c>bench_xxxxxxxx</c>.</summary>
    public static string NewSchema() => "bench_" + Guid.NewGuid().ToString("N")[..8];

    public static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 0; // fixtures (a 1,000,000-row insert, VACUUM) may take longer than the default 30 s
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Drops <paramref name="schema"/>; logs (does not throw) when that fails, so the benchmark's own error stays visible.</summary>
    public static async Task DropSchemaAsync(NpgsqlDataSource dataSource, string schema)
    {
        try
        {
            await ExecuteAsync(dataSource, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
        }
        catch (NpgsqlException e)
        {
            Log($"could not drop schema {schema}: {e.Message}");
        }
    }

    public static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>CPU time this process has used so far (all threads).</summary>
    public static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>The <paramref name="p"/>-quantile (0..1) of <paramref name="values"/>, interpolated between neighbours.</summary>
    public static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = p * (sorted.Length - 1);
        var below = (int)Math.Floor(rank);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (rank - below);
    }

    public static double Median(IEnumerable<double> values) => Percentile(values, 0.5);

    /// <summary>Formats <paramref name="value"/> with the invariant culture, e.g. <c>Format(3.14159, "0.00")</c> is <c>3.14</c>.</summary>
    public static string Format(double value, string format = "0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static void Log(string message) => Console.Error.WriteLine("bench: " + message);
}
