using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OfflineTasks.AspNetCore;
using OfflineTasks.Telemetry;
using OfflineTasks.Telemetry.Prometheus;

namespace OfflineTasks.Host;

/// <summary>
/// Serves <c>/metrics</c> for Prometheus on <c>OfflineTasks:Telemetry:Prometheus:Url</c> with a small Kestrel app of
/// its own, beside the worker server. Prints the address it listens on (useful with port 0).
/// </summary>
internal sealed class MetricsEndpoint(PrometheusScrapeHandler handler, IOptions<TelemetryOptions> options, ILogger<MetricsEndpoint> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(options.Value.Prometheus.Url);
        builder.Services.AddSingleton(handler);
        _app = builder.Build();
        _app.MapOfflineTasksMetrics();
        try
        {
            await _app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"{TelemetryOptions.SectionName}:Prometheus:Url = {options.Value.Prometheus.Url} cannot be served: {e.Message}", e);
        }
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        logger.LogInformation("Serving Prometheus metrics on {Addresses}", string.Join(", ", addresses.Select(a => a + "/metrics")));
        Console.WriteLine($"offlinetasks: metrics on {string.Join(", ", addresses.Select(a => a + "/metrics"))}");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }
}
