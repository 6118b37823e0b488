using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OfflineTasks.Hosting;
using OfflineTasks.Server;

namespace OfflineTasks.Tests.Infrastructure;

/// <summary>An in-process worker server on a test schema, with fast intervals suited to tests.</summary>
public sealed class WorkerHost : IAsyncDisposable
{
    private readonly IHost _host;

    public WorkerHost(TestSchema schema, Action<JobServerOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        // The Host project's appsettings.json lands in the test output too: filter here so it does not raise the level.
        var minimum = Environment.GetEnvironmentVariable("TEST_LOG") == "debug" ? LogLevel.Debug : LogLevel.Warning;
        builder.Logging.AddSimpleConsole().AddFilter((_, level) => level >= minimum);
        builder.Services.AddOfflineTasks(configure: o =>
        {
            o.ConnectionString = schema.Server.ConnectionString;
            o.Schema = schema.Name;
        });
        builder.Services.AddOfflineTasksServer(configure: o =>
        {
            o.WorkerCount = 4;
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.SchedulerInterval = TimeSpan.FromMilliseconds(50);
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            o.LeaseDuration = TimeSpan.FromSeconds(2);
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(200);
            o.ShutdownTimeout = TimeSpan.FromSeconds(5);
            configure?.Invoke(o);
        });
        services?.Invoke(builder.Services);
        _host = builder.Build();
    }

    public IServiceProvider Services => _host.Services;

    public JobServer Server => _host.Services.GetRequiredService<JobServer>();

    public Task StartAsync() => _host.StartAsync();

    public Task StopAsync() => _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
