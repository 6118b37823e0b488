using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Networks;
using MySqlConnector;
using Testcontainers.MySql;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// A MariaDB master-master pair in containers (Testcontainers.MySql): each master on the default bridge with its port
/// published on 127.0.0.1 (the gate probes it there), and both on a user-defined network of the pair's own, over which
/// they replicate from each other. Disconnecting a master from that network partitions the pair without hiding
/// either master from the gate. The image is <see cref="Image"/>; every container and network carries
/// <see cref="Label"/>, so the test script removes leftovers.
/// </summary>
public sealed class ContainerMariaDbPair : IAsyncDisposable
{
    /// <summary>The label on every container and network the tests create.</summary>
    public const string Label = "org.offlinetasks.test";

    public const string ProbeUser = "probe";
    public const string ProbePassword = "probe-pass";
    public const string AppUser = "app";
    public const string AppPassword = "app-pass";

    private readonly Dictionary<string, (MySqlContainer Container, int Port)> _masters = [];
    private INetwork? _network;

    static ContainerMariaDbPair() =>
        // The resource reaper's image cannot be pulled here; the containers are disposed by the tests and leftovers removed by label.
        Environment.SetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED", "true");

    private ContainerMariaDbPair(string name) => Name = name;

    /// <summary>The image: <c>OFFLINETASKS_MARIADB_IMAGE</c>, else the project's own (built by <c>scripts/images.sh</c>).</summary>
    public static string Image => Environment.GetEnvironmentVariable("OFFLINETASKS_MARIADB_IMAGE") is { Length: > 0 } image ? image : "offlinetasks/mariadb:10.11";

    /// <summary>The pair's name; its masters are <c>{Name}-a</c> and <c>{Name}-b</c>.</summary>
    public string Name { get; }

    /// <summary>The user-defined network the masters replicate over.</summary>
    public string Network => _network?.Name ?? throw new InvalidOperationException("not started");

    /// <summary>Starts both masters and sets up replication both ways.</summary>
    public static async Task<ContainerMariaDbPair> StartAsync(string name)
    {
        var pair = new ContainerMariaDbPair(name);
        try
        {
            await pair.StartContainersAsync();
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>The published port of <paramref name="master"/> ("a" or "b") on 127.0.0.1; it stays across a stop and start.</summary>
    public int Port(string master) => _masters[master].Port;

    /// <summary>The container id of <paramref name="master"/>.</summary>
    public string Id(string master) => _masters[master].Container.Id;

    /// <summary>The gate's configuration keys for this pair as <paramref name="shard"/> (masters named <c>{Name}-a</c>, <c>{Name}-b</c>).</summary>
    public IEnumerable<KeyValuePair<string, string?>> GateKeys(string shard)
    {
        var prefix = $"OfflineTasks:Gate:Shards:{shard}:Masters:";
        foreach (var (master, i) in new[] { ("a", 0), ("b", 1) })
        {
            yield return new($"{prefix}{i}:Name", Name + "-" + master);
            yield return new($"{prefix}{i}:Port", Port(master).ToString(CultureInfo.InvariantCulture));
            yield return new($"{prefix}{i}:User", ProbeUser);
            yield return new($"{prefix}{i}:Password", ProbePassword);
        }
    }

    /// <summary>Runs <paramref name="sql"/> as root on <paramref name="master"/>.</summary>
    public async Task SqlAsync(string master, string sql)
    {
        await using var connection = new MySqlConnection(RootConnectionString(master));
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Opens a connection as the application user to <paramref name="master"/>.</summary>
    public async Task<MySqlConnection> OpenAppConnectionAsync(string master)
    {
        var connection = new MySqlConnection(new MySqlConnectionStringBuilder
        {
            Server = "127.0.0.1", Port = (uint)Port(master), UserID = AppUser, Password = AppPassword, Database = "app", Pooling = false,
        }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary><c>docker pause</c>: the server's processes are frozen; clients hang as on a hung host.</summary>
    public void Pause(string master) => DockerCli.Run("pause", Id(master));

    public void Unpause(string master) => DockerCli.Run("unpause", Id(master));

    /// <summary><c>docker stop -t 1</c>: the master shuts down, and is killed if that takes more than a second.</summary>
    public Task StopAsync(string master)
    {
        DockerCli.Run("stop", "-t", "1", Id(master));
        return Task.CompletedTask;
    }

    /// <summary>Starts a stopped master again (same port) and waits until it answers.</summary>
    public async Task StartAsync(string master, TimeSpan timeout)
    {
        await _masters[master].Container.StartAsync();
        await Eventually.Until(async () =>
        {
            try
            {
                await SqlAsync(master, "SELECT 1");
                return true;
            }
            catch (MySqlException)
            {
                return false;
            }
        }, ok => ok, timeout, $"{Name}-{master} to answer after its start");
    }

    /// <summary><c>docker network disconnect</c> from the pair's network: the masters no longer reach each other.</summary>
    public void Partition(string master) => DockerCli.Run("network", "disconnect", Network, Id(master));

    /// <summary>Connects <paramref name="master"/> to the pair's network again, under its alias.</summary>
    public void Reconnect(string master) => DockerCli.Run("network", "connect", "--alias", Name + "-" + master, Network, Id(master));

    /// <summary>Whether <paramref name="master"/> is on the pair's network.</summary>
    public bool IsConnected(string master) =>
        DockerCli.Run("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", Id(master)).Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(Network);

    public async ValueTask DisposeAsync()
    {
        foreach (var (container, _) in _masters.Values)
        {
            await container.DisposeAsync();
        }

        if (_network is not null)
        {
            await _network.DisposeAsync();
        }
    }

    private async Task StartContainersAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        _network = new NetworkBuilder().WithName($"offlinetasks-{Name}-{suffix}").WithLabel(Label, "true").Build();
        await _network.CreateAsync();
        foreach (var (master, id) in new[] { ("a", 1), ("b", 2) })
        {
            var port = FreePort();
            var container = new MySqlBuilder(Image)
                .WithName($"offlinetasks-{Name}-{master}-{suffix}")
                .WithLabel(Label, "true")
                .WithUsername(AppUser)
                .WithPassword(AppPassword)
                .WithDatabase("app")
                .WithPortBinding(port, 3306)
                .WithCommand($"--server-id={id}", $"--gtid-domain-id={id}", "--log-bin=binlog", "--log-slave-updates", "--binlog-format=ROW",
                    "--auto-increment-increment=2", $"--auto-increment-offset={id}", "--max-connections=100", "--skip-name-resolve",
                    "--slave-net-timeout=3")
                .Build();
            _masters[master] = (container, port);
        }

        await Task.WhenAll(_masters.Values.Select(m => m.Container.StartAsync()));
        foreach (var master in _masters.Keys)
        {
            Reconnect(master);
        }

        foreach (var (master, peer) in new[] { ("a", "b"), ("b", "a") })
        {
            await SqlAsync(master, $"""
                SET SESSION sql_log_bin = 0;
                CREATE OR REPLACE USER 'repl'@'%' IDENTIFIED BY 'repl-pass';
                GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
                CREATE OR REPLACE USER '{ProbeUser}'@'%' IDENTIFIED BY '{ProbePassword}';
                GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO '{ProbeUser}'@'%';
                RESET MASTER;
                SET GLOBAL gtid_slave_pos = '';
                CHANGE MASTER TO MASTER_HOST = '{Name}-{peer}', MASTER_PORT = 3306, MASTER_USER = 'repl', MASTER_PASSWORD = 'repl-pass',
                  MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1;
                """);
        }

        foreach (var master in _masters.Keys)
        {
            await SqlAsync(master, "START SLAVE");
        }
    }

    private string RootConnectionString(string master) => new MySqlConnectionStringBuilder
    {
        Server = "127.0.0.1", Port = (uint)Port(master), UserID = "root", Password = AppPassword, Pooling = false, ConnectionTimeout = 5, AllowUserVariables = true,
    }.ConnectionString;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A test class's own container pair (an xunit class fixture): started before its first test, removed after its last.</summary>
public abstract class ContainerPairFixture(string name) : IAsyncLifetime
{
    public ContainerMariaDbPair Pair { get; private set; } = null!;

    public async Task InitializeAsync() => Pair = await ContainerMariaDbPair.StartAsync(name);

    public async Task DisposeAsync()
    {
        if (Pair is not null)
        {
            await Pair.DisposeAsync();
        }
    }
}

/// <summary>The docker CLI, for what Testcontainers does not do (pause, network connect and disconnect), on the tests' engine (DOCKER_HOST).</summary>
public static class DockerCli
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string Run(params string[] arguments)
    {
        var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"docker {string.Join(' ', arguments)} did not finish in {Timeout.TotalSeconds:0} s");
        }

        return process.ExitCode == 0
            ? stdout.Result.Trim()
            : throw new InvalidOperationException($"docker {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
    }
}
