using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineTasks.AspNetCore;
using OfflineTasks.Telemetry.Prometheus;

namespace OfflineTasks.Benchmarks;

/// <summary>
/// <c>/metrics</c> served by Kestrel on 127.0.0.1 (a free port) with <c>MapOfflineTasksMetrics()</c>, the way the host
/// executable's metrics endpoint serves it: a slim ASP.NET Core app of its own around one <see cref="PrometheusScrapeHandler"/>.
/// </summary>
internal sealed class MetricsServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MetricsServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The scrape URL, e.g. <c>http://127.0.0.1:41234/metrics</c>.</summary>
    public Uri Url { get; }

    public static async Task<MetricsServer> StartAsync(PrometheusScrapeHandler handler)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(handler);
        var app = builder.Build();
        app.MapOfflineTasksMetrics();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel reported no address.");
        return new MetricsServer(app, new Uri(address.TrimEnd('/') + "/metrics"));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
