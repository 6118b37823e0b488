using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OfflineTasks.Hosting;
using OfflineTasks.Host;
using OfflineTasks.Host.Examples;
using OfflineTasks.Storage;

// offlinetasks [run|migrate|demo]  — configuration from appsettings.json, then environment variables
// (e.g. OfflineTasks__Server__WorkerCount=20), then command-line switches (--OfflineTasks:Schema=jobs).
var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "run";
var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
if (command is not ("run" or "migrate" or "demo"))
{
    Console.Error.WriteLine($"offlinetasks: unknown command '{command}'. Use: run (default), migrate, demo.");
    return 2;
}

// appsettings.json is read from beside the executable, wherever it is started from.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = rest, ContentRootPath = AppContext.BaseDirectory });
if (command == "demo")
{
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        // Short backoff so the demo's flaky job visibly retries within seconds.
        ["OfflineTasks:Server:RetryBaseDelay"] = "00:00:01",
        ["OfflineTasks:Server:ShutdownTimeout"] = "00:00:05",
        // A quick gate, so the demo's shard closes and reopens within seconds.
        ["OfflineTasks:Gate:ProbeInterval"] = "00:00:00.5",
        ["OfflineTasks:Gate:HoldTime"] = "00:00:02",
        ["OfflineTasks:Gate:Ramp:Duration"] = "00:00:02",
        // The demo's metrics go to a free port, so it never clashes with a running worker's 9464.
        ["OfflineTasks:Telemetry:Prometheus:Url"] = "http://127.0.0.1:0",
    });
}

builder.Services.AddOfflineTasks(builder.Configuration);
builder.Services.AddOfflineTasksServer(builder.Configuration);
builder.Services.AddOfflineTasksGate(builder.Configuration);
builder.Services.AddOfflineTasksTelemetry(builder.Configuration);
if (command != "migrate" && builder.Configuration.GetValue("OfflineTasks:Telemetry:Prometheus:Enabled", true))
{
    builder.Services.AddHostedService<MetricsEndpoint>();
}
builder.Services.AddTransient<IPhotoIndexer, PhotoIndexer>();

try
{
    using var host = builder.Build();
    switch (command)
    {
        case "migrate":
            var storage = host.Services.GetRequiredService<IOptions<PostgresStorageOptions>>().Value;
            var applied = await new Migrator(host.Services.GetRequiredService<PostgresJobStorage>().DataSource, storage.Schema).MigrateAsync();
            Console.WriteLine($"offlinetasks: schema '{storage.Schema}' is up to date ({applied} migration(s) applied).");
            return 0;
        case "demo":
            return await Demo.RunAsync(host);
        default:
            await host.RunAsync();
            return 0;
    }
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine("offlinetasks: invalid configuration:");
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine("  - " + failure);
    }

    return 2;
}
catch (InvalidOperationException e) when (e.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
                                          || e.Message.StartsWith("OfflineTasks:", StringComparison.Ordinal))
{
    Console.Error.WriteLine("offlinetasks: invalid configuration: " + e.Message);
    return 2;
}
