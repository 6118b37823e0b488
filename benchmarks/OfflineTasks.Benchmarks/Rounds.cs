using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OfflineTasks.Benchmarks;

/// <summary>One round's figures, as its process printed them.</summary>
internal sealed record RoundResult(RoundMode Mode, double EnqueuePerSecond, double ProcessPerSecond);

/// <summary>Starts rounds as child processes of this harness and reads their result lines.</summary>
internal static partial class Rounds
{
    /// <summary>Runs one round of <paramref name="mode"/> in a process of its own with the given options.</summary>
    public static async Task<RoundResult> RunAsync(RoundMode mode, IEnumerable<string> options)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OfflineTasks.Benchmarks.dll"));
        info.ArgumentList.Add("round");
        info.ArgumentList.Add("--mode");
        info.ArgumentList.Add(RoundSettings.Name(mode));
        foreach (var option in options)
        {
            info.ArgumentList.Add(option);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start a round");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var match = ResultLine().Match(output);
        if (process.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException($"the {RoundSettings.Name(mode)} round failed (exit {process.ExitCode}): {output}");
        }

        var result = new RoundResult(mode, double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
        Bench.Log($"round {RoundSettings.Name(mode)}: enqueue_per_s={result.EnqueuePerSecond:0} process_per_s={result.ProcessPerSecond:0}");
        return result;
    }

    /// <summary>
    /// Runs <paramref name="rounds"/> pairs of <paramref name="a"/> and <paramref name="b"/>, alternating which goes
    /// first, so both see the machine in the same states as often; returns each pair.
    /// </summary>
    public static async Task<List<(RoundResult A, RoundResult B)>> PairsAsync(int rounds, RoundMode a, RoundMode b, Func<RoundMode, IEnumerable<string>> options)
    {
        var pairs = new List<(RoundResult, RoundResult)>();
        for (var i = 0; i < rounds; i++)
        {
            if (i % 2 == 0)
            {
                var first = await RunAsync(a, options(a));
                pairs.Add((first, await RunAsync(b, options(b))));
            }
            else
            {
                var first = await RunAsync(b, options(b));
                pairs.Add((await RunAsync(a, options(a)), first));
            }
        }

        return pairs;
    }

    [GeneratedRegex(@"^round mode=\S+ enqueue_per_s=(\S+) process_per_s=(\S+)$", RegexOptions.Multiline)]
    private static partial Regex ResultLine();
}
