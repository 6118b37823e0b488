using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using MySqlConnector;

namespace OfflineTasks.Benchmarks.Stress;

/// <summary>
/// One master of a pair that <c>scripts/mariadb-local.sh</c> runs (its directory and node, a or b), reached on
/// 127.0.0.1 only, as the <c>app</c> user the script creates (all privileges). What the stresses act on.
/// </summary>
public sealed class MariaDbServer
{
    private const string AppUser = "app";
    private const string AppPassword = "app-pass";

    /// <summary>Describes master <paramref name="node"/> of the pair in <paramref name="pairDirectory"/>, listening on 127.0.0.1:<paramref name="port"/>.</summary>
    public MariaDbServer(string pairDirectory, string node, int port, string? host = null)
    {
        if (node is not ("a" or "b"))
        {
            throw new ArgumentException($"node must be a or b, not '{node}'", nameof(node));
        }

        // Stresses touch only servers on this machine's loopback.
        var address = IPAddress.Parse(host ?? "127.0.0.1");
        if (!IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"stresses act only on loopback servers, not {address}", nameof(host));
        }

        PairDirectory = pairDirectory;
        Node = node;
        Port = port;
        Host = address.ToString();
    }

    /// <summary>The pair's directory, as scripts/mariadb-local.sh takes it.</summary>
    public string PairDirectory { get; }

    /// <summary>a or b.</summary>
    public string Node { get; }

    /// <summary>The other master of the pair's node.</summary>
    public string PeerNode => Node == "a" ? "b" : "a";

    public int Port { get; }

    public string Host { get; }

    public override string ToString() => $"{Path.GetFileName(PairDirectory)}/{Node} ({Host}:{Port})";

    /// <summary>An unpooled connection string of the app user: disposing a connection closes it on the server.</summary>
    public string ConnectionString(int timeoutSeconds = 5) => new MySqlConnectionStringBuilder
    {
        Server = Host,
        Port = (uint)Port,
        UserID = AppUser,
        Password = AppPassword,
        Pooling = false,
        ConnectionTimeout = (uint)timeoutSeconds,
        DefaultCommandTimeout = (uint)timeoutSeconds,
        AllowLoadLocalInfile = false,
    }.ConnectionString;

    /// <summary>Opens a connection of the app user.</summary>
    public async Task<MySqlConnection> OpenAsync(int timeoutSeconds = 5, CancellationToken cancellationToken = default)
    {
        var connection = new MySqlConnection(ConnectionString(timeoutSeconds));
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="sql"/> on a connection of its own; returns the first column of the first row, if any.</summary>
    public async Task<string?> ScalarAsync(string sql, int timeoutSeconds = 5, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(timeoutSeconds, cancellationToken);
        return await ScalarAsync(connection, sql, cancellationToken);
    }

    /// <summary>Runs <paramref name="sql"/> on <paramref name="connection"/>; returns the first column of the first row, if any.</summary>
    public static async Task<string?> ScalarAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? null : Convert.ToString(value, CultureInfo.InvariantCulture);
    }

    /// <summary>A global status variable, read on <paramref name="connection"/>.</summary>
    public static async Task<long> StatusAsync(MySqlConnection connection, string variable, CancellationToken cancellationToken = default) =>
        long.Parse(await ScalarAsync(connection, $"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = '{variable}'", cancellationToken)
            ?? throw new InvalidOperationException($"no status variable {variable}"), CultureInfo.InvariantCulture);

    /// <summary>Whether both replication threads of every channel run on <paramref name="connection"/>'s server (and it has a channel).</summary>
    public static async Task<bool> ReplicatingAsync(MySqlConnection connection, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SHOW ALL SLAVES STATUS";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var channels = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            channels++;
            if (reader.GetString(reader.GetOrdinal("Slave_IO_Running")) != "Yes" || reader.GetString(reader.GetOrdinal("Slave_SQL_Running")) != "Yes")
            {
                return false;
            }
        }

        return channels > 0;
    }

    /// <summary>The pid of this master's mariadbd (from the script).</summary>
    public int Pid() => int.Parse(Script("pid", Node).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs scripts/mariadb-local.sh with <paramref name="command"/> on this pair; returns its stdout. Throws on failure.</summary>
    public string Script(string command, params string[] args)
    {
        var info = new ProcessStartInfo(Path.Combine(Repository.Root, "scripts", "mariadb-local.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(command);
        info.ArgumentList.Add(PairDirectory);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start scripts/mariadb-local.sh");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill();
            throw new TimeoutException($"scripts/mariadb-local.sh {command} {PairDirectory} did not finish within 2 min");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/mariadb-local.sh {command} {PairDirectory} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        }

        return stdout;
    }
}

/// <summary>Signals to a process by pid (SIGSTOP, SIGCONT, SIGTERM), through libc.</summary>
public static class Signals
{
    public const int Term = 15;
    public const int Cont = 18;
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; throws if it cannot.</summary>
    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>The process state letter from /proc (R, S, T for stopped, Z, …), or null when it is gone.</summary>
    public static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length ? stat[end + 2] : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>The repository's root: the directory above benchmarks/ (or $OFFLINETASKS_REPO).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("OFFLINETASKS_REPO") is { Length: > 0 } given)
        {
            return given;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "mariadb-local.sh")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository (scripts/mariadb-local.sh) above " + AppContext.BaseDirectory);
    }
}
