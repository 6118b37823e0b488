using System.Diagnostics;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Telemetry;

/// <summary>
/// The Prometheus alerting rules shipped in deploy/prometheus (the Prometheus counterpart of the built-in alerts):
/// promtool must accept the rule file and pass its unit tests (offlinetasks-alerts.test.yml, which pins the
/// hysteresis, the max-not-sum aggregation and one alert per queue or shard). promtool comes with the
/// prometheus package that scripts/setup.sh installs.
/// </summary>
public sealed class PrometheusRulesTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string Folder => Path.Combine(Repository.Root, "deploy", "prometheus");

    [Fact]
    public async Task Promtool_accepts_the_alerting_rules()
    {
        var (exitCode, output) = await PromtoolAsync("check", "rules", "offlinetasks-alerts.yml");

        Assert.True(exitCode == 0, $"promtool check rules offlinetasks-alerts.yml exited with {exitCode}:\n{output}");
    }

    [Fact]
    public async Task The_alerting_rules_pass_their_promtool_unit_tests()
    {
        var (exitCode, output) = await PromtoolAsync("test", "rules", "offlinetasks-alerts.test.yml");

        Assert.True(exitCode == 0, $"promtool test rules offlinetasks-alerts.test.yml exited with {exitCode}:\n{output}");
    }

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo(FindPromtool())
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(Timeout))
        {
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                Assert.Fail($"promtool {string.Join(' ', arguments)} did not finish in {Timeout.TotalSeconds} s:\n{await stdout}{await stderr}");
            }
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }

    /// <summary>promtool on the PATH, else the Debian package's /usr/bin/promtool; fails with a hint when neither exists.</summary>
    private static string FindPromtool()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            var candidate = Path.Combine(directory, "promtool");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail("promtool not found on the PATH or in /usr/bin: install the prometheus package (scripts/setup.sh does)");
        return "";
    }
}
