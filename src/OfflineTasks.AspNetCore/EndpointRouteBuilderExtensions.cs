using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using OfflineTasks.Telemetry.Prometheus;

namespace OfflineTasks.AspNetCore;

/// <summary>Maps the OfflineTasks endpoints into an ASP.NET Core application.</summary>
public static class EndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves the Prometheus scrape (text exposition format 0.0.4) at <paramref name="pattern"/>, for GET requests,
    /// from the <see cref="PrometheusScrapeHandler"/> registered in the application's services
    /// (<see cref="PrometheusServiceCollectionExtensions.AddOfflineTasksPrometheus"/>).
    /// </summary>
    /// <returns>The endpoint's builder, e.g. to require authorization or a host.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="PrometheusScrapeHandler"/> is registered.</exception>
    public static IEndpointConventionBuilder MapOfflineTasksMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        var handler = endpoints.ServiceProvider.GetService<PrometheusScrapeHandler>()
            ?? throw new InvalidOperationException(
                $"No {nameof(PrometheusScrapeHandler)} is registered: call services.{nameof(PrometheusServiceCollectionExtensions.AddOfflineTasksPrometheus)}() "
                + "and add the handler's Reader to the MeterProvider.");

        RequestDelegate scrape = context => WriteScrapeAsync(handler, context);
        return endpoints.MapGet(pattern, scrape).WithDisplayName("OfflineTasks Prometheus metrics");
    }

    private static async Task WriteScrapeAsync(PrometheusScrapeHandler handler, HttpContext context)
    {
        var body = await handler.ScrapeAsync(context.RequestAborted);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = PrometheusScrapeHandler.ContentType;
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, context.RequestAborted);
    }
}
