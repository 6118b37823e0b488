using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using OfflineTasks.Client;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Host;

/// <summary>The host executable's <c>/metrics</c>, scraped over HTTP from a real worker process on a real PostgreSQL.</summary>
public sealed partial class HostMetricsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Metrics_pass_promtool_and_report_the_queue_depth_the_database_holds()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(
            ("OfflineTasks__ConnectionString", SharedPostgres.Instance.ConnectionString),
            ("OfflineTasks__Schema", schema.Name),
            ("OfflineTasks__Telemetry__SampleInterval", "00:00:00.2"),
            ("OfflineTasks__Telemetry__LeaderLease", "00:00:02"),
            ("OfflineTasks__Telemetry__Prometheus__Url", "http://127.0.0.1:0"));
        var url = await host.MetricsUrlAsync(Timeout);

        // Jobs the worker does not take: delayed jobs, and a queue it does not serve.
        for (var i = 0; i < 7; i++)
        {
            await schema.Client.EnqueueAsync(Job.FromExpression(() => TestJobs.TakesInt(i), new JobOptions { Delay = TimeSpan.FromHours(1) }));
        }

        await schema.Client.EnqueueManyAsync(Enumerable.Range(0, 30).Select(i => Job.FromExpression(() => TestJobs.TakesInt(i), new JobOptions { Queue = "elsewhere" })).ToList());

        using var http = new HttpClient();
        var text = await Eventually.Until(() => http.GetStringAsync(url),
            t => t.Contains("offlinetasks_queue_depth{queue=\"elsewhere\",state=\"available\"} 30\n", StringComparison.Ordinal)
                && t.Contains("offlinetasks_queue_depth{queue=\"default\",state=\"scheduled\"} 7\n", StringComparison.Ordinal),
            Timeout, "the sampled depths in the scrape");

        Assert.Equal(await schema.ScalarAsync<long>("SELECT count(*) FROM {s}.job WHERE queue = 'elsewhere' AND state = 'available'"), Gauge(text, "offlinetasks_queue_depth", "queue=\"elsewhere\",state=\"available\""));
        Assert.Equal(await schema.ScalarAsync<long>("SELECT count(*) FROM {s}.job WHERE queue = 'default' AND state = 'scheduled'"), Gauge(text, "offlinetasks_queue_depth", "queue=\"default\",state=\"scheduled\""));
        Assert.True(Gauge(text, "offlinetasks_queue_oldest_age_seconds", "queue=\"elsewhere\"") >= 0);
        Assert.Equal(0, Gauge(text, "offlinetasks_alert_state", "alert=\"default-backlog\",kind=\"queue_depth\",queue=\"default\""));

        var (exitCode, output) = await Promtool.CheckMetricsAsync(text);
        Assert.True(exitCode == 0 && output.Length == 0, $"promtool check metrics exited with {exitCode}:\n{output}\n--- scrape ---\n{text}");
    }

    private static double Gauge(string text, string name, string labels)
    {
        var match = Regex.Match(text, "^" + Regex.Escape($"{name}{{{labels}}}") + @" (\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{name}{{{labels}}} is not in the scrape:\n{text}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>The host executable (<c>run</c>) in a process of its own.</summary>
    private sealed partial class HostProcess : IDisposable
    {
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

        public static HostProcess Start(params (string Key, string Value)[] environment)
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

        [GeneratedRegex(@"offlinetasks: metrics on (http://\S+/metrics)")]
        private static partial Regex MetricsLine();
    }
}
