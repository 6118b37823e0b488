using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OfflineTasks.Hosting;
using OfflineTasks.TestWorker;

// A worker process for the multi-process tests: OfflineTasks.TestWorker <connection-string> <schema> <slots> <lease-ms>
// Prints "ready" once the server is claiming; stops on SIGTERM (graceful) or dies on SIGKILL.
// The load-feedback gate runs when OfflineTasks__Gate__Shards__... environment variables configure shards.
var settings = new WorkerSettings(args[0], args[1]);
var slots = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var lease = TimeSpan.FromMilliseconds(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(settings.ConnectionString));
builder.Services.AddTransient<RecordingJob>();
builder.Services.AddOfflineTasks(configure: o =>
{
    o.ConnectionString = settings.ConnectionString;
    o.Schema = settings.Schema;
});
builder.Services.AddOfflineTasksServer(configure: o =>
{
    o.WorkerCount = slots;
    o.LeaseDuration = lease;
    o.HeartbeatInterval = lease / 4;
    o.PollInterval = TimeSpan.FromMilliseconds(200);
    o.SchedulerInterval = TimeSpan.FromMilliseconds(100);
    o.ShutdownTimeout = TimeSpan.FromSeconds(5);
});

// Gate tests pass the gate's settings as OfflineTasks__Gate__... environment variables.
if (builder.Configuration.GetSection("OfflineTasks:Gate:Shards").Exists())
{
    builder.Services.AddOfflineTasksGate(builder.Configuration);
}

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("ready");
await host.WaitForShutdownAsync();
