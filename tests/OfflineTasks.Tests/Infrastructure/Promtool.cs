using System.ComponentModel;
using System.Diagnostics;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>Prometheus's checker (Debian's prometheus package; scripts/setup.sh installs it).</summary>
public static class Promtool
{
    private static readonly TimeSpan PromtoolTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs <c>promtool check metrics</c> with <paramref name="text"/> on its standard input.</summary>
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string text)
    {
        var info = new ProcessStartInfo("promtool")
        {
            ArgumentList = { "check", "metrics" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("promtool is not installed: run scripts/setup.sh (it installs Debian's prometheus package).", e);
        }

        using (process)
        using (var timeout = new CancellationTokenSource(PromtoolTimeout))
        {
            try
            {
                var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
                await process.StandardInput.WriteAsync(text.AsMemory(), timeout.Token);
                process.StandardInput.Close();
                await process.WaitForExitAsync(timeout.Token);
                return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                throw new TimeoutException($"promtool check metrics did not finish within {PromtoolTimeout.TotalSeconds:0} s.");
            }
        }
    }
}
