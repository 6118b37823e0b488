using System.Diagnostics;
using System.Globalization;

namespace OfflineTasks.Benchmarks.Gate;

/// <summary>One job start (<c>S</c>) or fetch (<c>F</c>) a worker process recorded.</summary>
internal readonly record struct JobRecord(char Kind, long Job, string Shard, DateTimeOffset At);

/// <summary>
/// The gate benchmark's worker processes (<c>gate-worker</c> children of this one), each recording into a file of
/// its own. Stopped by closing their standard input (a graceful Hangfire shutdown), killed by pid after a bound.
/// </summary>
internal sealed class WorkerFleet(GateBenchSettings settings, BenchSchemas schemas, string recordDirectory) : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private int _started;

    public int Count => _processes.Count;

    /// <summary>Starts worker processes until <paramref name="count"/> run; returns once each has said it is ready.</summary>
    public async Task ScaleToAsync(int count)
    {
        while (_processes.Count > count)
        {
            await StopAsync(_processes[^1]);
            _processes.RemoveAt(_processes.Count - 1);
        }

        var starting = new List<Task>();
        while (_processes.Count < count)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };

            // A worker as deployed: tiered compilation on (the benchmark project turns it off for its timed rounds),
            // which also keeps a starting worker from saturating this 2-core machine with JIT work for seconds.
            info.Environment["DOTNET_TieredCompilation"] = "1";
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OfflineTasks.Benchmarks.dll"));
            foreach (var arg in new[]
                     {
                         "gate-worker", "--connection-string", settings.ConnectionString, "--hangfire-schema", schemas.Hangfire, "--schema", schemas.OfflineTasks,
                         "--pairs", settings.PairsArgument(), "--record", Path.Combine(recordDirectory, $"worker-{++_started}.log"),
                     })
            {
                info.ArgumentList.Add(arg);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException("could not start a gate worker");
            _processes.Add(process);
            starting.Add(ReadyAsync(process));
        }

        await Task.WhenAll(starting);
    }

    private static async Task ReadyAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        if (line != "ready")
        {
            throw new InvalidOperationException($"gate worker {process.Id} did not start (said '{line}', exited: {process.HasExited})");
        }
    }

    private static async Task StopAsync(Process process)
    {
        try
        {
            process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Bench.Log($"gate worker {process.Id} did not stop within 30 s; killing it");
            process.Kill(entireProcessTree: true);
        }
        finally
        {
            process.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await ScaleToAsync(0);

    /// <summary>Every record the workers have written so far (they flush every 100 ms).</summary>
    public IReadOnlyList<JobRecord> Records()
    {
        var records = new List<JobRecord>();
        foreach (var file in Directory.EnumerateFiles(recordDirectory, "worker-*.log"))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                var parts = line.Split(' ');
                if (parts.Length == 4 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var job) && long.TryParse(parts[3], CultureInfo.InvariantCulture, out var ticks))
                {
                    records.Add(new JobRecord(parts[0][0], job, parts[2], new DateTimeOffset(ticks, TimeSpan.Zero)));
                }
            }
        }

        records.Sort((a, b) => a.At.CompareTo(b.At));
        return records;
    }
}
