using System.Diagnostics;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for tests, started and stopped through the project's own scripts/pg-local.sh
/// (from the machine's packages, on a loopback port, in a data directory under .local/).
/// </summary>
public sealed class LocalPostgres
{
    private readonly string _dataDirectory;

    public LocalPostgres(string name, int port)
    {
        _dataDirectory = Path.Combine(Repository.Root, ".local", "test-" + name);
        Port = port;
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Maximum Pool Size=50;Timeout=5";
    }

    public int Port { get; }

    public string ConnectionString { get; }

    public void Start() => Script("start", _dataDirectory, Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public void Stop() => Script("stop", _dataDirectory);

    public void Restart() => Script("restart", _dataDirectory);

    private static void Script(params string[] arguments)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(Repository.Root, "scripts", "pg-local.sh"));
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"pg-local.sh {string.Join(' ', arguments)} did not finish in 120 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg-local.sh {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
        }
    }
}

/// <summary>The one PostgreSQL server most test classes share (each in a schema of its own). Stopped when the test process exits.</summary>
public static class SharedPostgres
{
    private static readonly Lazy<LocalPostgres> Server = new(() =>
    {
        var server = new LocalPostgres("shared", 54401);
        server.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        return server;
    });

    public static LocalPostgres Instance => Server.Value;
}

public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OfflineTasks.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Repository root (OfflineTasks.sln) not found above " + AppContext.BaseDirectory);
    }
}
