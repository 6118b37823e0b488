using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineTasks.AspNetCore;
using OfflineTasks.Telemetry.Prometheus;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Tests.Telemetry.Prometheus;

/// <summary><c>MapOfflineTasksMetrics</c> in a real Kestrel application on loopback, scraped over HTTP.</summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = ScrapedMeter.Timeout;
    private readonly Meter _meter = new("OfflineTasks.Tests." + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _client = new() { Timeout = Timeout };
    private WebApplication _app = null!;
    private MeterProvider _provider = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddOfflineTasksPrometheus();
        _app = builder.Build();
        _provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(_meter.Name)
            .AddOfflineTasksPrometheus(_app.Services.GetRequiredService<PrometheusScrapeHandler>())
            .Build();
        _app.MapOfflineTasksMetrics();

        using var startTimeout = new CancellationTokenSource(Timeout);
        await _app.StartAsync(startTimeout.Token);
        var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        _client.BaseAddress = new Uri(address);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        using var stopTimeout = new CancellationTokenSource(Timeout);
        await _app.StopAsync(stopTimeout.Token);
        await _app.DisposeAsync();
        _provider.Dispose();
        _meter.Dispose();
    }

    [Fact]
    public async Task A_GET_returns_the_recorded_values_as_text_format_0_0_4()
    {
        _meter.CreateCounter<long>("offlinetasks.jobs.finished", "{job}", "Attempts ended, by how.")
            .Add(7, new KeyValuePair<string, object?>("queue", "default"), new KeyValuePair<string, object?>("outcome", "succeeded"));

        using var response = await _client.GetAsync(new Uri("/metrics", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(PrometheusScrapeHandler.ContentType, response.Content.Headers.ContentType?.ToString());
        Assert.Contains(
            "offlinetasks_jobs_finished_total{outcome=\"succeeded\",queue=\"default\"} 7\n",
            await response.Content.ReadAsStringAsync(),
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_GET_is_served()
    {
        using var response = await _client.PostAsync(new Uri("/metrics", UriKind.Relative), new StringContent(""));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task Concurrent_scrapes_all_get_a_complete_response()
    {
        var counter = _meter.CreateCounter<long>("offlinetasks.jobs.finished", "{job}", "Attempts ended, by how.");
        var gauge = _meter.CreateObservableGauge("offlinetasks.queue.depth", () => Enumerable.Range(0, 50).Select(i =>
            new Measurement<long>(i, new KeyValuePair<string, object?>("queue", "q" + i))), "{job}", "Jobs in the queue.");
        counter.Add(1);

        var scrapes = Enumerable.Range(0, 16).Select(async _ =>
        {
            using var response = await _client.GetAsync(new Uri("/metrics", UriKind.Relative));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        });
        var results = await Task.WhenAll(scrapes).WaitAsync(Timeout);

        Assert.All(results, result =>
        {
            Assert.Equal(HttpStatusCode.OK, result.StatusCode);
            Assert.StartsWith("# HELP offlinetasks_jobs_finished_total ", result.Body, StringComparison.Ordinal);
            Assert.EndsWith("offlinetasks_queue_depth{queue=\"q49\"} 49\n", result.Body, StringComparison.Ordinal);
        });
        GC.KeepAlive(gauge);
    }

    [Fact]
    public async Task Mapping_without_a_registered_handler_says_what_to_register()
    {
        await using var app = WebApplication.CreateSlimBuilder().Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapOfflineTasksMetrics());

        Assert.Contains("AddOfflineTasksPrometheus", error.Message, StringComparison.Ordinal);
    }
}
