using System.Diagnostics;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Host;

public class HostConfigurationTests
{
    private static (int ExitCode, string Error) RunHost(params (string Key, string Value)[] environment) => RunHostCommand("run", environment);

    private static (int ExitCode, string Error) RunHostCommand(string command, params (string Key, string Value)[] environment)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Started from elsewhere on purpose: the host must find its appsettings.json beside itself.
            WorkingDirectory = Path.GetTempPath(),
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OfflineTasks.Host.dll"));
        info.ArgumentList.Add(command);
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(90_000))
        {
            process.Kill();
            throw new TimeoutException("the host did not stop on invalid configuration");
        }

        return (process.ExitCode, stderr.Result + stdout.Result);
    }

    [Fact]
    public void An_invalid_value_stops_the_host_with_a_message_naming_the_key_and_the_value()
    {
        var (exitCode, error) = RunHost(("OfflineTasks__Server__WorkerCount", "0"), ("OfflineTasks__Hangfire__InvisibilityTimeout", "00:00:01"),
            ("OfflineTasks__Server__Queues__0", "Critical"));

        Assert.Equal(2, exitCode);
        Assert.Contains("OfflineTasks:Server:WorkerCount = 0 is invalid: it must be between 1 and 1000.", error);
        Assert.Contains("OfflineTasks:Hangfire:InvisibilityTimeout = 00:00:01 is invalid", error);
        Assert.Contains("OfflineTasks:Server:Queues:0 = 'Critical' is invalid: a Hangfire queue name has lower-case letters, digits, '_' and '-' only.", error);
    }

    [Fact]
    public void A_value_of_the_wrong_type_stops_the_host_naming_the_key()
    {
        var (exitCode, error) = RunHost(("OfflineTasks__Server__WorkerCount", "many"));

        Assert.Equal(2, exitCode);
        Assert.Contains("OfflineTasks:Server:WorkerCount", error);
        Assert.Contains("many", error);
    }

    [Fact]
    public void A_missing_connection_string_stops_the_host()
    {
        var (exitCode, error) = RunHost(("OfflineTasks__ConnectionString", ""));

        Assert.Equal(2, exitCode);
        Assert.Contains("OfflineTasks:ConnectionString is empty", error);
    }

    [Fact]
    public async Task Demo_runs_every_example_job_and_shows_a_shard_closing_and_reopening_on_its_own_mariadb_pair()
    {
        var schema = "t_demo_" + Guid.NewGuid().ToString("N")[..8];
        var pair = new LocalMariaDbPair("host-demo", 54431, 54432);
        pair.Start();
        try
        {
            const string shard = "OfflineTasks__Gate__Shards__users-1__Masters__";
            var (exitCode, output) = RunHostCommand("demo",
                ("OfflineTasks__ConnectionString", SharedPostgres.Instance.ConnectionString), ("OfflineTasks__Schema", schema),
                ("OfflineTasks__Hangfire__Schema", "hf" + schema),
                (shard + "0__Port", pair.PortA.ToString(System.Globalization.CultureInfo.InvariantCulture)), (shard + "0__User", LocalMariaDbPair.ProbeUser),
                (shard + "0__PasswordEnvironmentVariable", "DEMO_PROBE_PASSWORD"),
                (shard + "1__Port", pair.PortB.ToString(System.Globalization.CultureInfo.InvariantCulture)), (shard + "1__User", LocalMariaDbPair.ProbeUser),
                (shard + "1__PasswordEnvironmentVariable", "DEMO_PROBE_PASSWORD"),
                ("DEMO_PROBE_PASSWORD", LocalMariaDbPair.ProbePassword),
                ("Demo__MariaDbScript", Path.Combine(Repository.Root, "scripts", "mariadb-local.sh")), ("Demo__MariaDbPair", pair.Directory));

            Assert.True(exitCode == 0, output);
            Assert.Contains("demo: shard users-1 closed: replication IO thread not running on users-1a", output);
            Assert.Contains("demo: the backfill stopped at its next checkpoint and is Parked: stopped at a checkpoint: shard users-1 closed for", output);
            Assert.Contains("demo: enqueued 10 more jobs for shard users-1: all 10 are Parked as they were created", output);
            Assert.Matches(@"Parked +shard users-1 closed for \d+\.\d s: replication IO thread not running on users-1a", output);
            Assert.Contains("demo: shard users-1 reopened: every signal below its low-water mark for", output);
            Assert.Matches(@"Enqueued +shard users-1 reopened after \d+ s", output);
            Assert.Contains("demo: all jobs succeeded", output);
            Assert.Matches(@"demo: the Hangfire dashboard is at http://127\.0\.0\.1:\d+/hangfire", output);
            Assert.DoesNotContain(LocalMariaDbPair.ProbePassword, output);
        }
        finally
        {
            pair.Stop();
        }

        await using var dataSource = Npgsql.NpgsqlDataSource.Create(SharedPostgres.Instance.ConnectionString);
        await using var drop = dataSource.CreateCommand($"DROP SCHEMA {schema} CASCADE; DROP SCHEMA hf{schema} CASCADE");
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public void An_invalid_gate_threshold_stops_the_host_naming_it()
    {
        var (exitCode, error) = RunHost(("OfflineTasks__Gate__Thresholds__ThreadsRunning__Low", "50"));

        Assert.Equal(2, exitCode);
        Assert.Contains("OfflineTasks:Gate:Thresholds:ThreadsRunning = High 40, Low 50 is invalid: the low-water mark must be below the high-water mark.", error);
    }

    [Fact]
    public void An_alert_rule_for_an_unknown_queue_or_with_low_at_or_above_high_stops_the_host_naming_it()
    {
        var (exitCode, error) = RunHost(
            ("OfflineTasks__Telemetry__Alerts__Rules__0__Queue", "defualt"),
            ("OfflineTasks__Telemetry__Alerts__Rules__1__Low", "900"),
            ("OfflineTasks__Telemetry__Alerts__Rules__2__Name", "parked"),
            ("OfflineTasks__Telemetry__Alerts__Rules__2__Kind", "ShardParked"),
            ("OfflineTasks__Telemetry__Alerts__Rules__2__Shard", "users-9"),
            ("OfflineTasks__Telemetry__Alerts__Rules__2__High", "10"),
            ("OfflineTasks__Telemetry__Alerts__Rules__2__Low", "1"));

        Assert.Equal(2, exitCode);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:0:Queue = defualt is invalid: it is not one of the sampled queues in OfflineTasks:Telemetry:Queues (critical, default).", error);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:1 = High 900, Low 900 is invalid: the low-water mark must be below the high-water mark.", error);
        Assert.Contains("OfflineTasks:Telemetry:Alerts:Rules:2:Shard = users-9 is invalid: no shard is configured in the load-feedback gate (OfflineTasks:Gate:Shards).", error);
    }

    [Fact]
    public async Task An_address_already_in_use_stops_the_host_naming_the_setting()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}";
        var schema = "t_host_" + Guid.NewGuid().ToString("N")[..8];

        var (exitCode, error) = RunHost(("OfflineTasks__ConnectionString", SharedPostgres.Instance.ConnectionString), ("OfflineTasks__Schema", schema),
            ("OfflineTasks__Hangfire__Schema", "hf" + schema), ("OfflineTasks__Host__Url", url));

        Assert.Equal(2, exitCode);
        Assert.Contains($"OfflineTasks:Host:Url = {url} cannot be served: ", error);
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(SharedPostgres.Instance.ConnectionString);
        await using var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS hf{schema} CASCADE");
        await drop.ExecuteNonQueryAsync();
    }

    [Fact]
    public void An_unknown_command_is_named()
    {
        var (exitCode, error) = RunHostCommand("mirgate");

        Assert.Equal(2, exitCode);
        Assert.Contains("unknown command 'mirgate'", error);
    }
}
