using System.Diagnostics;
using System.Globalization;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>A Hangfire worker with OfflineTasks in a process of its own (tests/OfflineTasks.TestWorker), for crash and multi-process tests.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "ready")
            {
                _ready.TrySetResult();
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"[worker {process.Id}] {e.Data}");
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public static async Task<WorkerProcess> StartAsync(TestSchema schema, int workers, IReadOnlyDictionary<string, string>? environment = null, string queues = "default")
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "OfflineTasks.TestWorker.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
                 {
                     dll, schema.Server.ConnectionString, schema.Name, schema.HangfireSchema, workers.ToString(CultureInfo.InvariantCulture), queues,
                     ((int)TestSchema.InvisibilityTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                 })
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var worker = new WorkerProcess(Process.Start(info)!);
        await worker._ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return worker;
    }

    /// <summary>SIGKILL: the process dies at once, holding whatever it had fetched.</summary>
    public void KillHard()
    {
        _process.Kill();
        _process.WaitForExit(10_000);
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
}
