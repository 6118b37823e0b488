using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OfflineTasks.Hangfire;
using OfflineTasks.Host;
using OfflineTasks.Host.Examples;
using OfflineTasks.Hosting;
using OfflineTasks.Telemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

// offlinetasks [run|demo [--keep]|enqueue SHARD COUNT] — configuration from appsettings.json (beside the executable), then environment
// variables (e.g. OfflineTasks__Server__WorkerCount=20), then command-line switches (--OfflineTasks:Schema=jobs).
var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "run";
var rest = (args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args).Where(a => a != "--keep").ToArray();
var keep = args.Contains("--keep");
if (command is not ("run" or "demo" or "enqueue"))
{
    Console.Error.WriteLine($"offlinetasks: unknown command '{command}'. Use: run (default), demo [--keep], enqueue SHARD COUNT.");
    return 2;
}

if (command == "enqueue")
{
    var positional = rest.TakeWhile(a => !a.StartsWith('-')).ToArray();
    var settings = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables().AddCommandLine(rest[positional.Length..]).Build();
    return EnqueueCommand.Run(positional, settings);
}

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = rest, ContentRootPath = AppContext.BaseDirectory });
if (command == "demo")
{
    builder.Configuration.AddInMemoryCollection(Demo.Settings);
}

builder.Services.AddOptions<HostSettings>().Bind(builder.Configuration.GetSection("OfflineTasks:Host"));
builder.Services.AddOptions<ServerSettings>().Bind(builder.Configuration.GetSection("OfflineTasks:Server"));
builder.Services.AddOptions<HangfireStorageSettings>().Bind(builder.Configuration.GetSection("OfflineTasks:Hangfire"));
builder.Services.AddSingleton<IValidateOptions<HostSettings>, HostSettingsValidator>();

builder.Services.AddHangfire((services, hangfire) =>
{
    var storage = services.GetRequiredService<IOptions<HangfireStorageSettings>>().Value;
    hangfire
        .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
        .UseSimpleAssemblyNameTypeSerializer()
        .UseRecommendedSerializerSettings()
        .UsePostgreSqlStorage(
            o => o.UseNpgsqlConnection(services.GetRequiredService<IOptions<OfflineTasksOptions>>().Value.ConnectionString),
            new PostgreSqlStorageOptions { SchemaName = storage.Schema }.ForOfflineJobs(storage.InvisibilityTimeout, storage.QueuePollInterval))
        .UseOfflineTasks();
});
builder.Services.AddHangfireServer((services, server) =>
{
    var settings = services.GetRequiredService<IOptions<ServerSettings>>().Value;
    server.WorkerCount = settings.WorkerCount;
    server.Queues = settings.EffectiveQueues;
    server.ShutdownTimeout = settings.ShutdownTimeout;
    server.SchedulePollingInterval = settings.SchedulePollingInterval;
});
builder.Services.AddOfflineTasks(builder.Configuration);

var prometheus = builder.Configuration.GetValue("OfflineTasks:Telemetry:Prometheus:Enabled", true);
var otlp = builder.Configuration.GetSection("OfflineTasks:Telemetry:Otlp").Get<OtlpOptions>() ?? new OtlpOptions();
builder.Services.AddOpenTelemetry()
    .ConfigureResource(r => r.AddService("offlinetasks", serviceInstanceId: $"{Environment.MachineName}:{Environment.ProcessId}"))
    .WithMetrics(metrics =>
    {
        metrics.AddMeter(OfflineTasksMeter.Name);
        if (prometheus)
        {
            metrics.AddPrometheusExporter();
        }

        if (!string.IsNullOrEmpty(otlp.Endpoint) && Uri.TryCreate(otlp.Endpoint, UriKind.Absolute, out var endpoint))
        {
            metrics.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = endpoint;
                exporter.Protocol = otlp.Protocol == "HttpProtobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)otlp.ExportInterval.TotalMilliseconds;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            });
        }
    });
builder.Services.AddTransient<IPhotoIndexer, PhotoIndexer>();

// Behind a reverse proxy on this machine every request comes from a loopback address: take the client's address from
// the proxy's X-Forwarded-For (trusted from loopback proxies only, ASP.NET Core's default), or Hangfire's
// local-requests-only rule would let anyone the proxy serves into the dashboard.
builder.Services.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto);

var url = builder.Configuration["OfflineTasks:Host:Url"] ?? new HostSettings().Url;
builder.WebHost.UseUrls(url);
try
{
    await using var app = builder.Build();

    // Validated once, here, before anything starts: a bad value stops the host with its key and value rather than a
    // start-up failure's stack trace. (Not with ValidateOnStart, whose options monitor would validate again on every
    // reload of appsettings.json and throw on the file watcher's thread; reloads of the gate's and the alerts' settings
    // are validated and, if invalid, rejected and logged by OfflineTasks.) Building the hosted services builds and
    // validates OfflineTasks' settings.
    var host = app.Services.GetRequiredService<IOptions<HostSettings>>();
    _ = host.Value;
    _ = app.Services.GetRequiredService<IOptions<OfflineTasksOptions>>().Value;
    _ = app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().ToList();
    // Hangfire's default: the dashboard answers local requests only. To open it to others, map it in your own app
    // with an authorization policy instead (README, "Dashboard access"): app.MapHangfireDashboardWithAuthorizationPolicy("ops", "/hangfire").
    app.UseForwardedHeaders();
    app.MapHangfireDashboard(builder.Configuration["OfflineTasks:Host:DashboardPath"] ?? new HostSettings().DashboardPath);
    if (prometheus)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
    }

    try
    {
        await app.StartAsync();
    }
    catch (IOException e)
    {
        throw new InvalidOperationException($"OfflineTasks:Host:Url = {url} cannot be served: {e.Message}", e);
    }

    var addresses = app.Urls.ToList();
    Console.WriteLine($"offlinetasks: dashboard on {string.Join(", ", addresses.Select(a => a + host.Value.DashboardPath))}, metrics on {string.Join(", ", addresses.Select(a => a + "/metrics"))}");
    if (command == "demo")
    {
        var exit = await Demo.RunAsync(app, addresses[0] + host.Value.DashboardPath, keep);
        await app.StopAsync();
        return exit;
    }

    await app.WaitForShutdownAsync();
    return 0;
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
