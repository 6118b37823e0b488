using System.Globalization;
using Hangfire;
using Hangfire.AspNetCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Hangfire;
using OfflineTasks.Hosting;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>
/// An in-process Hangfire host on a test's schemas: Hangfire's real server (with OfflineTasks' filters) and
/// <c>AddOfflineTasks</c>, configured through configuration keys as the worker executable is, with intervals suited
/// to tests. The storage is the schema's own instance, registered in the container so that nothing depends on
/// Hangfire's process-wide <c>JobStorage.Current</c> (tests run in parallel).
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly IHost _host;
    private int _stopped;

    public TestHost(TestSchema schema, int workers = 4, IEnumerable<KeyValuePair<string, string?>>? settings = null, Action<IServiceCollection>? services = null,
        string[]? queues = null)
    {
        HangfireSetup.EnsureInstalled();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        var minimum = Environment.GetEnvironmentVariable("TEST_LOG") == "debug" ? LogLevel.Debug : LogLevel.Warning;
        builder.Logging.AddSimpleConsole().AddFilter((category, level) => level >= minimum && !(category ?? "").StartsWith("Hangfire", StringComparison.Ordinal));
        Configuration = new ConfigurationManager();
        Configuration.AddInMemoryCollection(Defaults(schema));
        if (settings is not null)
        {
            Configuration.AddInMemoryCollection(settings);
        }

        builder.Services.AddSingleton<JobStorage>(schema.Storage);
        builder.Services.AddSingleton<JobActivator>(sp => new AspNetCoreJobActivator(sp.GetRequiredService<IServiceScopeFactory>()));
        // AddHangfire points Hangfire's process-wide log provider at this container's logger factory, which dies with the
        // host; other tests' hosts live on in this process, so Hangfire logs errors to the console instead.
        builder.Services.AddHangfire(c => c.UseOfflineTasks().UseLogProvider(HangfireSetup.LogProvider));
        builder.Services.AddHangfireServer(o =>
        {
            o.WorkerCount = workers;
            o.Queues = queues ?? ["default"];
            o.SchedulePollingInterval = TimeSpan.FromMilliseconds(200);
            o.ServerCheckInterval = TimeSpan.FromSeconds(5);
            o.HeartbeatInterval = TimeSpan.FromSeconds(5);
            o.ShutdownTimeout = TimeSpan.FromSeconds(5);
            o.ServerName = $"test-{Environment.ProcessId}-{Guid.NewGuid():N}";
        });
        builder.Services.AddOfflineTasks(Configuration);
        services?.Invoke(builder.Services);
        _host = builder.Build();
    }

    /// <summary>The configuration the host reads (reloadable: <c>Configuration.Reload()</c> after changing a key).</summary>
    public ConfigurationManager Configuration { get; }

    public IServiceProvider Services => _host.Services;

    public Task StartAsync() => _host.StartAsync();

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _host.StopAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
    }

    private static Dictionary<string, string?> Defaults(TestSchema schema) => new()
    {
        ["OfflineTasks:ConnectionString"] = schema.Server.ConnectionString,
        ["OfflineTasks:Schema"] = schema.Name,
        ["OfflineTasks:Gate:ProbeInterval"] = "00:00:00.25",
        ["OfflineTasks:Gate:ProbeTimeout"] = "00:00:00.5",
        ["OfflineTasks:Gate:HoldTime"] = "00:00:01",
        ["OfflineTasks:Gate:LeaderLease"] = "00:00:02",
        ["OfflineTasks:Gate:StaleAfter"] = "00:00:05",
        ["OfflineTasks:Gate:Ramp:Duration"] = "00:00:00",
        ["OfflineTasks:Telemetry:SampleInterval"] = "00:00:00.5",
        ["OfflineTasks:Telemetry:LeaderLease"] = "00:00:02",
    };
}

/// <summary>Configuration keys of the gate for the test MariaDB pairs.</summary>
public static class GateKeys
{
    /// <summary>The keys that configure <paramref name="pair"/> as shard <paramref name="shard"/> (masters named pair-a and pair-b).</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Shard(string shard, LocalMariaDbPair pair)
    {
        var prefix = $"OfflineTasks:Gate:Shards:{shard}:Masters:";
        foreach (var (master, i) in new[] { ("a", 0), ("b", 1) })
        {
            yield return new($"{prefix}{i}:Name", pair.Name + "-" + master);
            yield return new($"{prefix}{i}:Port", pair.Port(master).ToString(CultureInfo.InvariantCulture));
            yield return new($"{prefix}{i}:User", LocalMariaDbPair.ProbeUser);
            yield return new($"{prefix}{i}:Password", LocalMariaDbPair.ProbePassword);
        }
    }

    /// <summary>Keys and values, for adding to a shard's.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> With(this IEnumerable<KeyValuePair<string, string?>> keys, params (string Key, string Value)[] more) =>
        keys.Concat(more.Select(m => new KeyValuePair<string, string?>(m.Key, m.Value)));
}
