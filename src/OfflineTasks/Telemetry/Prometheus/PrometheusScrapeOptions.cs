namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>Settings of <see cref="PrometheusScrapeHandler"/>.</summary>
public sealed class PrometheusScrapeOptions
{
    /// <summary>
    /// How long a rendered scrape is served again to later scrapes before metrics are collected anew. Zero (the
    /// default) collects for every scrape; scrapes that arrive while a collection runs share it either way.
    /// Must not be negative.
    /// </summary>
    public TimeSpan ResponseCacheDuration { get; set; } = TimeSpan.Zero;
}
