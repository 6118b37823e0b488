using System.Diagnostics;
using System.Text.RegularExpressions;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>The host executable (<c>run</c>) in a process of its own.</summary>
internal sealed partial class HostProcess : IDisposable
{
    public static (string, string)[] Environment(TestSchema schema, params (string, string)[] more) =>
    [
        ("OfflineTasks__ConnectionString", SharedPostgres.Instance.ConnectionString),
        ("OfflineTasks__Schema", schema.Name),
        ("OfflineTasks__Hangfire__Schema", schema.HangfireSchema),
        ("OfflineTasks__Host__Url", "http://127.0.0.1:0"),
        ("OfflineTasks__Telemetry__SampleInterval", "00:00:00.2"),
        ("OfflineTasks__Telemetry__LeaderLease", "00:00:02"),
        ("OfflineTasks__Telemetry__Queues__0", "default"),
        ("OfflineTasks__Telemetry__Queues__1", "elsewhere"),
        .. more,
    ];

    /// <summary>Shard users-7, whose masters nobody listens on: closed, because they are unreachable.</summary>
    public static readonly (string, string)[] UnreachableShard =
    [
        ("OfflineTasks__Gate__ProbeInterval", "00:00:00.25"),
        ("OfflineTasks__Gate__Shards__users-7__Masters__0__Port", "1"), ("OfflineTasks__Gate__Shards__users-7__Masters__0__User", "probe"),
        ("OfflineTasks__Gate__Shards__users-7__Masters__1__Port", "2"), ("OfflineTasks__Gate__Shards__users-7__Masters__1__User", "probe"),
    ];

    private readonly Process _process;
    private readonly TaskCompletionSource<string> _metricsUrl = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private HostProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => _metricsUrl.TrySetException(new InvalidOperationException(
            $"the host exited ({process.ExitCode}) before reporting its metrics address:\n{string.Join('\n', _output)}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static HostProcess Start((string Key, string Value)[] environment)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OfflineTasks.Host.dll"));
        info.ArgumentList.Add("run");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return new HostProcess(Process.Start(info)!);
    }

    public async Task<string> MetricsUrlAsync(TimeSpan timeout)
    {
        try
        {
            return await _metricsUrl.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the host did not report its metrics address within {timeout.TotalSeconds:0} s:\n{string.Join('\n', _output)}");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (MetricsLine().Match(line) is { Success: true } m)
        {
            _metricsUrl.TrySetResult(m.Groups[1].Value);
        }
    }

    [GeneratedRegex(@"^offlinetasks: dashboard on \S+, metrics on (http://\S+/metrics)$")]
    private static partial Regex MetricsLine();
}
