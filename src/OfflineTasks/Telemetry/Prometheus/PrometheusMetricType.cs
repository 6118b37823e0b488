namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>The Prometheus metric type an OpenTelemetry metric is exposed as.</summary>
internal enum PrometheusMetricType
{
    /// <summary>Not representable in text format 0.0.4 (exponential histograms); the metric is left out.</summary>
    Unsupported,

    /// <summary>A monotonic cumulative sum (OpenTelemetry counter).</summary>
    Counter,

    /// <summary>A gauge, or a non-monotonic sum (up-down counter).</summary>
    Gauge,

    /// <summary>An explicit-bucket histogram.</summary>
    Histogram,
}
