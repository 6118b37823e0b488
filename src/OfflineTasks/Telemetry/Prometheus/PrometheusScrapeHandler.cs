using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>
/// Answers Prometheus scrapes from an OpenTelemetry <c>MeterProvider</c>: each scrape collects the provider's
/// metrics through <see cref="Reader"/> (cumulative temporality) and renders them in text exposition format 0.0.4.
/// Collections never overlap; scrapes that arrive while one runs share its result, and with
/// <see cref="PrometheusScrapeOptions.ResponseCacheDuration"/> a result is reused for that long.
/// </summary>
/// <example>
/// <code>
/// var handler = new PrometheusScrapeHandler();
/// using var provider = Sdk.CreateMeterProviderBuilder().AddMeter("OfflineTasks").AddOfflineTasksPrometheus(handler).Build();
/// ReadOnlyMemory&lt;byte&gt; body = await handler.ScrapeAsync(cancellationToken); // serve with ContentType
/// </code>
/// </example>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "The MeterProvider the reader is added to owns and disposes the reader and its exporter.")]
public sealed class PrometheusScrapeHandler
{
    /// <summary>The content type of a scrape's body: <c>text/plain; version=0.0.4; charset=utf-8</c>.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly Lock _lock = new();
    private readonly PrometheusExporter _exporter;
    private readonly BaseExportingMetricReader _reader;
    private readonly TimeSpan _cacheDuration;
    private readonly TimeProvider _time;
    // The running collection, if any: one at a time, and every scrape that arrives meanwhile waits for it.
    private Task<ReadOnlyMemory<byte>>? _collection;
    private byte[]? _cached;
    private long _cachedAt;

    /// <summary>Creates a handler with default options (no response cache).</summary>
    public PrometheusScrapeHandler()
        : this(new PrometheusScrapeOptions())
    {
    }

    /// <summary>Creates a handler.</summary>
    /// <param name="options">The handler's settings; read once, here.</param>
    /// <param name="timeProvider">The clock that ages cached responses; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logger">Where metrics left out of the scrape and rendering failures are reported; none when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="PrometheusScrapeOptions.ResponseCacheDuration"/> is negative.</exception>
    public PrometheusScrapeHandler(PrometheusScrapeOptions options, TimeProvider? timeProvider = null, ILogger<PrometheusScrapeHandler>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ResponseCacheDuration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options),
                options.ResponseCacheDuration,
                $"{nameof(PrometheusScrapeOptions.ResponseCacheDuration)} = {options.ResponseCacheDuration} is invalid: it must not be negative.");
        }

        _cacheDuration = options.ResponseCacheDuration;
        _time = timeProvider ?? TimeProvider.System;
        _exporter = new PrometheusExporter(logger ?? (ILogger)NullLogger.Instance);
        _reader = new BaseExportingMetricReader(_exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    /// <summary>
    /// The reader to add to the <c>MeterProvider</c> whose metrics this handler serves (see
    /// <see cref="PrometheusMeterProviderBuilderExtensions.AddOfflineTasksPrometheus"/>). It can belong to one
    /// provider only, which owns and disposes it.
    /// </summary>
    public MetricReader Reader => _reader;

    /// <summary>
    /// Collects and renders the provider's metrics, or joins the collection that is already running, or returns the
    /// cached rendering while it is fresh. The bytes are UTF-8 text in <see cref="ContentType"/> and are never modified
    /// afterwards, so they can be written out as they are.
    /// </summary>
    /// <param name="cancellationToken">Stops this caller's wait; the collection itself runs on and serves other scrapes.</param>
    /// <exception cref="InvalidOperationException">The provider has been disposed, or the collection failed.</exception>
    public Task<ReadOnlyMemory<byte>> ScrapeAsync(CancellationToken cancellationToken = default)
    {
        Task<ReadOnlyMemory<byte>> collection;
        lock (_lock)
        {
            if (_cached is not null && _time.GetElapsedTime(_cachedAt) < _cacheDuration)
            {
                return Task.FromResult<ReadOnlyMemory<byte>>(_cached);
            }

            // Off the caller's thread: Collect blocks while the SDK runs the observable instruments' callbacks, and a
            // caller that gives up must not abandon the scrapes waiting on the same collection.
            collection = _collection ??= Task.Run(Collect, CancellationToken.None);
        }

        return collection.WaitAsync(cancellationToken);
    }

    private ReadOnlyMemory<byte> Collect()
    {
        byte[]? body = null;
        try
        {
            if (_exporter.IsShutDown)
            {
                throw new InvalidOperationException("The MeterProvider this handler's reader belongs to has been disposed; there is nothing to scrape.");
            }

            if (!_reader.Collect())
            {
                throw new InvalidOperationException("Collecting metrics for Prometheus failed.", _exporter.LatestError);
            }

            body = _exporter.Latest;
            return body;
        }
        finally
        {
            lock (_lock)
            {
                _collection = null;
                if (body is not null && _cacheDuration > TimeSpan.Zero)
                {
                    _cached = body;
                    _cachedAt = _time.GetTimestamp();
                }
            }
        }
    }
}
