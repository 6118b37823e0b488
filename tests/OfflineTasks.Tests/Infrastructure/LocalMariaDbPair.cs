using System.Diagnostics;
using System.Globalization;
using MySqlConnector;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// A real MariaDB master-master pair for tests (masters "a" and "b", replicating from each other), started and
/// stopped through the project's own scripts/mariadb-local.sh (from the machine's packages, on loopback ports,
/// in data directories under .local/test-mariadb-NAME).
/// </summary>
public sealed class LocalMariaDbPair
{
    public const string ProbeUser = "probe";
    public const string ProbePassword = "probe-pass";
    public const string AppUser = "app";
    public const string AppPassword = "app-pass";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);

    private readonly string _directory;

    public LocalMariaDbPair(string name, int portA, int portB)
    {
        Name = name;
        _directory = Path.Combine(Repository.Root, ".local", "test-mariadb-" + name);
        PortA = portA;
        PortB = portB;
    }

    public string Name { get; }

    /// <summary>The pair's directory, as scripts/mariadb-local.sh takes it.</summary>
    public string Directory => _directory;

    public int PortA { get; }

    public int PortB { get; }

    /// <summary>Connection settings of the <c>app</c> user (all privileges) on master a; use <see cref="AppEndpoint"/> for b.</summary>
    internal MySqlEndpoint AppConnectionInfo => AppEndpoint("a", TimeSpan.FromSeconds(5));

    /// <summary>Starts both masters (initialising them the first time) and waits until they replicate both ways.</summary>
    public void Start() => Script("start", _directory, Invariant(PortA), Invariant(PortB));

    public void Stop() => Script("stop", _directory);

    /// <summary>Stops one master (SIGTERM), keeping its data and replication settings.</summary>
    public void StopOne(string master) => Script("stop-one", _directory, Check(master));

    /// <summary>Starts one master again and waits until both masters replicate again.</summary>
    public void StartOne(string master) => Script("start-one", _directory, Check(master));

    /// <summary>The mariadbd process id of <paramref name="master"/> (for SIGSTOP/SIGCONT).</summary>
    public int Pid(string master) => int.Parse(Script("pid", _directory, Check(master)).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Runs a statement as root on <paramref name="master"/>; returns its rows, tab-separated, one per line, without a header.</summary>
    public string Sql(string master, string statement) => Script("sql", _directory, Check(master), statement).TrimEnd('\n');

    public int Port(string master) => Check(master) == "a" ? PortA : PortB;

    /// <summary>The Unix socket of <paramref name="master"/>.</summary>
    public string SocketPath(string master) => Path.Combine(_directory, Check(master), "mariadbd.sock");

    /// <summary>The probe user's endpoint of <paramref name="master"/> ("a" or "b"), over TCP.</summary>
    internal MySqlEndpoint Endpoint(string master, TimeSpan timeout) =>
        new("test-" + Name, Name + "-" + master, "127.0.0.1", Port(master), ProbeUser, ProbePassword, Socket: null, timeout);

    /// <summary>The app user's endpoint of <paramref name="master"/> (all privileges; for load connections), over TCP.</summary>
    internal MySqlEndpoint AppEndpoint(string master, TimeSpan timeout) => Endpoint(master, timeout) with { User = AppUser, Password = AppPassword };

    /// <summary>Opens a connection of the app user to <paramref name="master"/> (unpooled: disposing it closes it on the server too).</summary>
    public MySqlConnection OpenAppConnection(string master)
    {
        var connection = new MySqlConnection(MySqlStatusClient.ConnectionString(AppEndpoint(master, TimeSpan.FromSeconds(5)), timeoutSeconds: 5));
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static string Check(string master) =>
        master is "a" or "b" ? master : throw new ArgumentOutOfRangeException(nameof(master), master, "a master is \"a\" or \"b\"");

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Script(params string[] arguments)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(Repository.Root, "scripts", "mariadb-local.sh"));
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(ScriptTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mariadb-local.sh {string.Join(' ', arguments)} did not finish in {ScriptTimeout.TotalSeconds:0} s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"mariadb-local.sh {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
        }

        return stdout.Result;
    }
}

/// <summary>
/// The one MariaDB pair test classes share (ports 54411/54412); started on first use, stopped when the test
/// process exits. Classes that stop, hang or reconfigure a master use a pair of their own.
/// </summary>
public static class SharedMariaDbPair
{
    private static readonly Lazy<LocalMariaDbPair> Pair = new(() =>
    {
        var pair = new LocalMariaDbPair("shared", 54411, 54412);
        pair.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => pair.Stop();
        return pair;
    });

    public static LocalMariaDbPair Instance => Pair.Value;

    internal static MySqlEndpoint AppConnectionInfo => Instance.AppConnectionInfo;

    internal static MySqlEndpoint Endpoint(string master, TimeSpan timeout) => Instance.Endpoint(master, timeout);

    public static string Sql(string master, string statement) => Instance.Sql(master, statement);

    public static int Pid(string master) => Instance.Pid(master);
}
