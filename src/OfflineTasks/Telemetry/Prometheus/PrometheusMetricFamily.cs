using System.Buffers;
using System.Text;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>
/// What a scrape writes for one SDK <see cref="Metric"/> that does not change between scrapes: the family name,
/// its type, and the <c># HELP</c>/<c># TYPE</c> lines, already UTF-8 encoded. Computed once per metric.
/// </summary>
internal sealed class PrometheusMetricFamily
{
    private PrometheusMetricFamily(string name, PrometheusMetricType type, byte[] header)
    {
        Name = name;
        Type = type;
        Header = header;
        NameUtf8 = Encoding.UTF8.GetBytes(name);
        if (type == PrometheusMetricType.Histogram)
        {
            BucketNameUtf8 = Encoding.UTF8.GetBytes(name + "_bucket");
            SumNameUtf8 = Encoding.UTF8.GetBytes(name + "_sum");
            CountNameUtf8 = Encoding.UTF8.GetBytes(name + "_count");
        }
    }

    public string Name { get; }

    public PrometheusMetricType Type { get; }

    /// <summary>The <c># HELP</c> (when the instrument has a description) and <c># TYPE</c> lines.</summary>
    public byte[] Header { get; }

    public byte[] NameUtf8 { get; }

    public byte[] BucketNameUtf8 { get; } = [];

    public byte[] SumNameUtf8 { get; } = [];

    public byte[] CountNameUtf8 { get; } = [];

    /// <summary>Set once the metric was reported as left out, so the warning is logged once, not every scrape.</summary>
    public bool OmissionLogged { get; set; }

    public static PrometheusMetricFamily Create(Metric metric)
    {
        var type = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => PrometheusMetricType.Counter,
            MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic => PrometheusMetricType.Gauge,
            MetricType.LongGauge or MetricType.DoubleGauge => PrometheusMetricType.Gauge,
            MetricType.Histogram => PrometheusMetricType.Histogram,
            _ => PrometheusMetricType.Unsupported,
        };
        var name = PrometheusNaming.MetricName(metric.Name, metric.Unit, type);
        return new PrometheusMetricFamily(name, type, type == PrometheusMetricType.Unsupported ? [] : RenderHeader(name, metric.Description, type));
    }

    private static byte[] RenderHeader(string name, string? description, PrometheusMetricType type)
    {
        var header = new ArrayBufferWriter<byte>(64 + name.Length * 2 + (description?.Length ?? 0));
        if (!string.IsNullOrEmpty(description))
        {
            header.Write("# HELP "u8);
            PrometheusText.WriteUtf8(header, name);
            header.Write(" "u8);
            PrometheusText.WriteEscaped(header, description, inLabelValue: false);
            header.Write("\n"u8);
        }

        header.Write("# TYPE "u8);
        PrometheusText.WriteUtf8(header, name);
        header.Write(type switch
        {
            PrometheusMetricType.Counter => " counter\n"u8,
            PrometheusMetricType.Histogram => " histogram\n"u8,
            _ => " gauge\n"u8,
        });
        return header.WrittenSpan.ToArray();
    }
}
