using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OfflineTasks.Hangfire;
using OfflineTasks.Hosting;
using OfflineTasks.TestWorker;

// A Hangfire worker process with OfflineTasks for the multi-process tests:
//   OfflineTasks.TestWorker <connection-string> <offlinetasks-schema> <hangfire-schema> <workers> <queues,comma,separated> <invisibility-ms>
// Further settings (the gate's shards, intervals) come as OfflineTasks__... environment variables.
// Prints "ready" once the host has started; stops on SIGTERM (graceful) or dies on SIGKILL.
var settings = new WorkerSettings(args[0], args[1]);
var hangfireSchema = args[2];
var workers = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
var queues = args[4].Split(',');
var invisibility = TimeSpan.FromMilliseconds(int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture));

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Configuration.AddEnvironmentVariables();
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["OfflineTasks:ConnectionString"] = settings.ConnectionString,
    ["OfflineTasks:Schema"] = settings.Schema,
});
builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(settings.ConnectionString));
builder.Services.AddTransient<RecordingJob>();
// Locks left by a killed test process expire after 10 s (Hangfire.PostgreSql's default is 10 min), as in the test's own storage.
var options = new PostgreSqlStorageOptions { SchemaName = hangfireSchema, DistributedLockTimeout = TimeSpan.FromSeconds(10) }
    .ForOfflineJobs(invisibility, TimeSpan.FromMilliseconds(100));
builder.Services.AddSingleton<JobStorage>(new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(settings.ConnectionString, options), options));
builder.Services.AddHangfire(c => c.UseOfflineTasks());
builder.Services.AddHangfireServer(o =>
{
    o.WorkerCount = workers;
    o.Queues = queues;
    o.SchedulePollingInterval = TimeSpan.FromMilliseconds(200);
    o.ShutdownTimeout = TimeSpan.FromSeconds(5);
});
builder.Services.AddOfflineTasks(builder.Configuration);

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("ready");
await host.WaitForShutdownAsync();
