using System.Text;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>
/// OpenTelemetry names and units to Prometheus names, after the OpenTelemetry "Prometheus and OpenMetrics
/// compatibility" specification: invalid characters become <c>_</c> (runs of <c>_</c> collapse to one), the unit is
/// spelled out and appended unless the name already has it, counters end in <c>_total</c>.
/// </summary>
internal static class PrometheusNaming
{
    private const string TotalSuffix = "_total";

    /// <summary>The family name of a metric, e.g. <c>messaging.process.duration</c> + <c>s</c> → <c>messaging_process_duration_seconds</c>.</summary>
    public static string MetricName(string instrumentName, string? unit, PrometheusMetricType type)
    {
        var name = Sanitize(instrumentName);
        var isCounter = type == PrometheusMetricType.Counter;
        if (isCounter && name.EndsWith(TotalSuffix, StringComparison.Ordinal))
        {
            // The unit goes before the type suffix: foo.total in s is foo_seconds_total.
            name = name[..^TotalSuffix.Length];
        }

        var unitSuffix = UnitSuffix(unit, type);
        if (unitSuffix.Length > 0 && !HasTokens(name, unitSuffix))
        {
            name = name.Length == 0 ? unitSuffix : name + "_" + unitSuffix;
        }

        return isCounter ? name + TotalSuffix : name;
    }

    /// <summary>A label name: <c>messaging.destination.name</c> → <c>messaging_destination_name</c>.</summary>
    public static string LabelName(string attributeKey) => Sanitize(attributeKey);

    /// <summary>
    /// The Prometheus spelling of a UCUM unit, or empty for none: annotations (<c>{job}</c>) are dropped,
    /// abbreviations spelled out (<c>s</c> → <c>seconds</c>, <c>By</c> → <c>bytes</c>), <c>a/b</c> becomes
    /// <c>a_per_b</c>, and the dimensionless <c>1</c> becomes <c>ratio</c> for gauges and nothing otherwise
    /// (a count of things is unitless).
    /// </summary>
    public static string UnitSuffix(string? unit, PrometheusMetricType type)
    {
        if (string.IsNullOrWhiteSpace(unit))
        {
            return string.Empty;
        }

        var withoutAnnotations = RemoveAnnotations(unit).Trim();
        if (withoutAnnotations == "1")
        {
            return type == PrometheusMetricType.Gauge ? "ratio" : string.Empty;
        }

        string spelled;
        var slash = withoutAnnotations.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            spelled = SpellUnit(withoutAnnotations);
        }
        else
        {
            var numerator = SpellUnit(withoutAnnotations[..slash].Trim());
            var denominator = SpellPerUnit(withoutAnnotations[(slash + 1)..].Trim());
            spelled = (numerator.Length, denominator.Length) switch
            {
                (_, 0) => numerator,
                (0, _) => "per_" + denominator,
                _ => numerator + "_per_" + denominator,
            };
        }

        return Sanitize(spelled, allowEmpty: true).Trim('_');
    }

    /// <summary>
    /// Replaces every character outside <c>[a-zA-Z0-9_]</c> with <c>_</c>, collapses runs of <c>_</c>, and prefixes
    /// <c>_</c> when the result would start with a digit. Colons are replaced too: Prometheus reserves them for
    /// recording rules.
    /// </summary>
    public static string Sanitize(string value, bool allowEmpty = false)
    {
        if (IsValid(value))
        {
            return value.Length == 0 && !allowEmpty ? "_" : value;
        }

        var builder = new StringBuilder(value.Length + 1);
        if (char.IsAsciiDigit(value[0]))
        {
            builder.Append('_');
        }

        foreach (var c in value)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                builder.Append(c);
            }
            else if (builder.Length == 0 || builder[^1] != '_')
            {
                builder.Append('_');
            }
        }

        return builder.ToString();
    }

    private static bool IsValid(string value)
    {
        if (value.Length > 0 && char.IsAsciiDigit(value[0]))
        {
            return false;
        }

        var previousWasUnderscore = false;
        foreach (var c in value)
        {
            if (c == '_')
            {
                if (previousWasUnderscore)
                {
                    return false;
                }

                previousWasUnderscore = true;
            }
            else if (char.IsAsciiLetterOrDigit(c))
            {
                previousWasUnderscore = false;
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="tokens"/> (e.g. <c>bytes_per_second</c>) appears in <paramref name="name"/> as whole <c>_</c>-separated words.</summary>
    private static bool HasTokens(string name, string tokens) =>
        name == tokens
        || name.StartsWith(tokens + "_", StringComparison.Ordinal)
        || name.EndsWith("_" + tokens, StringComparison.Ordinal)
        || name.Contains("_" + tokens + "_", StringComparison.Ordinal);

    private static string RemoveAnnotations(string unit)
    {
        var open = unit.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return unit;
        }

        var builder = new StringBuilder(unit.Length);
        var depth = 0;
        foreach (var c in unit)
        {
            if (c == '{')
            {
                depth++;
            }
            else if (c == '}' && depth > 0)
            {
                depth--;
            }
            else if (depth == 0)
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static string SpellUnit(string unit) => unit switch
    {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => string.Empty,
        _ => unit,
    };

    private static string SpellPerUnit(string unit) => unit switch
    {
        "s" => "second",
        "m" or "min" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        _ => SpellUnit(unit),
    };
}
