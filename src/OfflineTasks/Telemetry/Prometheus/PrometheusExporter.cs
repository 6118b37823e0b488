using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>
/// Renders every collection its reader hands it and keeps the latest rendering for
/// <see cref="PrometheusScrapeHandler"/> to serve.
/// </summary>
/// <remarks>
/// Not marked <c>[ExportModes(ExportModes.Pull)]</c>: for a pull-only exporter the SDK's reader collects only
/// inside a scope that it opens through an internal interface (visible to the SDK's own Prometheus exporters
/// alone), so <see cref="MetricReader.Collect"/> from this library would always return false and export nothing.
/// Being push-capable only means <c>MeterProvider.ForceFlush</c> and shutdown render one batch more.
/// </remarks>
internal sealed class PrometheusExporter(ILogger logger) : BaseExporter<Metric>
{
    private readonly Lock _lock = new();
    private readonly PrometheusTextSerializer _serializer = new(logger);
    private byte[] _latest = [];
    private Exception? _latestError;
    private volatile bool _shutDown;

    /// <summary>The text of the latest successful export (empty before the first); never modified afterwards.</summary>
    public byte[] Latest
    {
        get
        {
            lock (_lock)
            {
                return _latest;
            }
        }
    }

    /// <summary>Why the latest export failed, or null when it succeeded.</summary>
    public Exception? LatestError
    {
        get
        {
            lock (_lock)
            {
                return _latestError;
            }
        }
    }

    /// <summary>
    /// Whether the reader has been shut down (with its MeterProvider). The SDK goes on answering collections after
    /// that, once with the last values and then with nothing, so the handler has to ask.
    /// </summary>
    public bool IsShutDown => _shutDown;

    public override ExportResult Export(in Batch<Metric> batch)
    {
        lock (_lock)
        {
            try
            {
                // A copy, so a response still being written never sees the next scrape's bytes.
                _latest = _serializer.Serialize(batch).ToArray();
                _latestError = null;
                return ExportResult.Success;
            }
            catch (Exception ex)
            {
                _latestError = ex;
                logger.LogError(ex, "Rendering metrics for Prometheus failed.");
                return ExportResult.Failure;
            }
        }
    }

    protected override bool OnShutdown(int timeoutMilliseconds)
    {
        _shutDown = true;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        _shutDown = true;
        base.Dispose(disposing);
    }
}
