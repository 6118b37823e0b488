using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>
/// Renders a batch of SDK metrics in Prometheus text exposition format 0.0.4. Each family gets its <c># HELP</c>
/// and <c># TYPE</c> lines once: metrics whose Prometheus names coincide are written as one family when their
/// types agree, and the later one is left out (with a warning, once) when they do not. Exponential histograms
/// have no text form and are left out too. Not thread-safe; buffers are reused from one scrape to the next.
/// </summary>
internal sealed class PrometheusTextSerializer(ILogger logger)
{
    // Tag keys are low-cardinality; the bound only keeps a misbehaving instrument from growing the cache forever.
    private const int MaxCachedLabelNames = 4096;

    private static readonly ConditionalWeakTable<Metric, PrometheusMetricFamily>.CreateValueCallback CreateFamily = PrometheusMetricFamily.Create;

    // Keyed by the SDK's Metric objects, so entries go away with the metric (e.g. when its meter is disposed).
    private readonly ConditionalWeakTable<Metric, PrometheusMetricFamily> _families = new();
    private readonly Dictionary<string, LabelName> _labelNames = new(StringComparer.Ordinal);
    private readonly ArrayBufferWriter<byte> _output = new(16 * 1024);
    private readonly ArrayBufferWriter<byte> _labels = new(256);
    private readonly List<Label> _pointLabels = [];
    private readonly List<FamilyMember> _members = [];
    private readonly Dictionary<string, (int First, int Last)> _membersByName = new(StringComparer.Ordinal);

    /// <summary>Renders <paramref name="metrics"/>; the result is valid until the next call.</summary>
    public ReadOnlySpan<byte> Serialize(in Batch<Metric> metrics)
    {
        _output.ResetWrittenCount();
        try
        {
            GroupByFamily(metrics);
            var members = CollectionsMarshal.AsSpan(_members);
            for (var i = 0; i < members.Length; i++)
            {
                if (members[i].ContinuesFamily)
                {
                    continue;
                }

                var headerWritten = false;
                for (var j = i; j >= 0; j = members[j].Next)
                {
                    WriteMetric(members[j].Metric, members[i].Family, ref headerWritten);
                }
            }
        }
        finally
        {
            // Don't keep the batch's metrics or tag values alive until the next scrape.
            _members.Clear();
            _membersByName.Clear();
            _pointLabels.Clear();
        }

        return _output.WrittenSpan;
    }

    private void GroupByFamily(in Batch<Metric> metrics)
    {
        foreach (var metric in metrics)
        {
            var family = _families.GetValue(metric, CreateFamily);
            if (family.Type == PrometheusMetricType.Unsupported)
            {
                LogOmission(metric, family, "exponential histograms have no form in text format 0.0.4; give the instrument an explicit-bucket histogram view");
                continue;
            }

            if (!_membersByName.TryGetValue(family.Name, out var span))
            {
                _membersByName[family.Name] = (_members.Count, _members.Count);
                _members.Add(new FamilyMember(metric, family, ContinuesFamily: false));
                continue;
            }

            var first = _members[span.First].Family;
            if (first.Type != family.Type)
            {
                LogOmission(metric, family, $"its Prometheus name {family.Name} is already used by a {first.Type.ToString().ToLowerInvariant()}, and one family cannot have two types");
                continue;
            }

            var index = _members.Count;
            _members.Add(new FamilyMember(metric, family, ContinuesFamily: true));
            CollectionsMarshal.AsSpan(_members)[span.Last].Next = index;
            _membersByName[family.Name] = (span.First, index);
        }
    }

    private void WriteMetric(Metric metric, PrometheusMetricFamily family, ref bool headerWritten)
    {
        var type = metric.MetricType;
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            if (!headerWritten)
            {
                _output.Write(family.Header);
                headerWritten = true;
            }

            RenderLabels(point.Tags);
            switch (type)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    WriteSample(family.NameUtf8, point.GetSumLong());
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    WriteSample(family.NameUtf8, point.GetSumDouble());
                    break;
                case MetricType.LongGauge:
                    WriteSample(family.NameUtf8, point.GetGaugeLastValueLong());
                    break;
                case MetricType.DoubleGauge:
                    WriteSample(family.NameUtf8, point.GetGaugeLastValueDouble());
                    break;
                case MetricType.Histogram:
                    WriteHistogram(family, in point);
                    break;
            }
        }
    }

    private void WriteHistogram(PrometheusMetricFamily family, in MetricPoint point)
    {
        var count = point.GetHistogramCount();
        long cumulative = 0;
        var infinityWritten = false;
        foreach (var bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            WriteBucket(family.BucketNameUtf8, bucket.ExplicitBound, cumulative);
            infinityWritten |= double.IsPositiveInfinity(bucket.ExplicitBound);
        }

        if (!infinityWritten)
        {
            WriteBucket(family.BucketNameUtf8, double.PositiveInfinity, count);
        }

        WriteSample(family.SumNameUtf8, point.GetHistogramSum());
        WriteSample(family.CountNameUtf8, count);
    }

    private void WriteSample(ReadOnlySpan<byte> name, long value)
    {
        WriteSeries(name);
        PrometheusText.WriteLong(_output, value);
        _output.Write("\n"u8);
    }

    private void WriteSample(ReadOnlySpan<byte> name, double value)
    {
        WriteSeries(name);
        PrometheusText.WriteDouble(_output, value);
        _output.Write("\n"u8);
    }

    /// <summary>The name and the point's labels, up to and including the space before the value.</summary>
    private void WriteSeries(ReadOnlySpan<byte> name)
    {
        _output.Write(name);
        if (_labels.WrittenCount > 0)
        {
            _output.Write("{"u8);
            _output.Write(_labels.WrittenSpan);
            _output.Write("} "u8);
        }
        else
        {
            _output.Write(" "u8);
        }
    }

    private void WriteBucket(ReadOnlySpan<byte> name, double upperBound, long cumulativeCount)
    {
        _output.Write(name);
        _output.Write("{"u8);
        if (_labels.WrittenCount > 0)
        {
            _output.Write(_labels.WrittenSpan);
            _output.Write(","u8);
        }

        _output.Write("le=\""u8);
        PrometheusText.WriteDouble(_output, upperBound);
        _output.Write("\"} "u8);
        PrometheusText.WriteLong(_output, cumulativeCount);
        _output.Write("\n"u8);
    }

    /// <summary>Renders the point's tags as <c>name="value",…</c> into <see cref="_labels"/>, once per point.</summary>
    private void RenderLabels(ReadOnlyTagCollection tags)
    {
        _labels.ResetWrittenCount();
        if (tags.Count == 0)
        {
            return;
        }

        _pointLabels.Clear();
        var anyRenamed = false;
        foreach (var tag in tags)
        {
            if (tag.Value is null)
            {
                // Prometheus does not tell an empty label from a missing one.
                continue;
            }

            var name = GetLabelName(tag.Key);
            anyRenamed |= name.Renamed;
            _pointLabels.Add(new Label(tag.Key, name.Utf8, tag.Value));
        }

        // Distinct keys can only meet under one label name if sanitising changed one of them. The specification
        // merges such labels: values joined with ';' in the order of the original keys.
        var merge = anyRenamed && HasDuplicateNames(_pointLabels);
        if (merge)
        {
            _pointLabels.Sort(static (a, b) =>
            {
                var byName = a.Name.AsSpan().SequenceCompareTo(b.Name);
                return byName != 0 ? byName : string.CompareOrdinal(a.Key, b.Key);
            });
        }

        var labels = CollectionsMarshal.AsSpan(_pointLabels);
        if (labels.IsEmpty)
        {
            return;
        }

        for (var i = 0; i < labels.Length; i++)
        {
            if (merge && i > 0 && labels[i - 1].Name.AsSpan().SequenceEqual(labels[i].Name))
            {
                _labels.Write(";"u8);
            }
            else
            {
                if (i > 0)
                {
                    _labels.Write("\","u8);
                }

                _labels.Write(labels[i].Name);
                _labels.Write("=\""u8);
            }

            PrometheusText.WriteLabelValue(_labels, labels[i].Value);
        }

        _labels.Write("\""u8);
    }

    private static bool HasDuplicateNames(List<Label> labels)
    {
        for (var i = 1; i < labels.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (labels[i].Name.AsSpan().SequenceEqual(labels[j].Name))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private LabelName GetLabelName(string key)
    {
        if (_labelNames.TryGetValue(key, out var name))
        {
            return name;
        }

        if (_labelNames.Count >= MaxCachedLabelNames)
        {
            _labelNames.Clear();
        }

        var sanitized = PrometheusNaming.LabelName(key);
        name = new LabelName(Encoding.UTF8.GetBytes(sanitized), !string.Equals(sanitized, key, StringComparison.Ordinal));
        _labelNames[key] = name;
        return name;
    }

    private void LogOmission(Metric metric, PrometheusMetricFamily family, string reason)
    {
        if (family.OmissionLogged)
        {
            return;
        }

        family.OmissionLogged = true;
        logger.LogWarning("Metric {MetricName} of meter {MeterName} is left out of the Prometheus scrape: {Reason}.", metric.Name, metric.MeterName, reason);
    }

    private readonly record struct LabelName(byte[] Utf8, bool Renamed);

    private readonly record struct Label(string Key, byte[] Name, object? Value);

    /// <summary>A metric to write; <see cref="Next"/> chains the metrics that share its family name (-1 ends the chain).</summary>
    private record struct FamilyMember(Metric Metric, PrometheusMetricFamily Family, bool ContinuesFamily)
    {
        public int Next { get; set; } = -1;
    }
}
