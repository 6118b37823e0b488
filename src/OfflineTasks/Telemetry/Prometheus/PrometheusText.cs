using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;

namespace OfflineTasks.Telemetry.Prometheus;

/// <summary>Writes the pieces of text exposition format 0.0.4 as UTF-8: escaped text, numbers, label values.</summary>
internal static class PrometheusText
{
    // Label values escape backslash, double quote and line feed; HELP text escapes backslash and line feed.
    private static readonly SearchValues<char> LabelValueEscapes = SearchValues.Create("\\\"\n");
    private static readonly SearchValues<char> HelpEscapes = SearchValues.Create("\\\n");

    public static void WriteUtf8(ArrayBufferWriter<byte> writer, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        var span = writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        writer.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    public static void WriteEscaped(ArrayBufferWriter<byte> writer, ReadOnlySpan<char> text, bool inLabelValue)
    {
        var escapes = inLabelValue ? LabelValueEscapes : HelpEscapes;
        while (true)
        {
            var next = text.IndexOfAny(escapes);
            if (next < 0)
            {
                WriteUtf8(writer, text);
                return;
            }

            WriteUtf8(writer, text[..next]);
            writer.Write(text[next] switch
            {
                '\\' => @"\\"u8,
                '"' => "\\\""u8,
                _ => @"\n"u8,
            });
            text = text[(next + 1)..];
        }
    }

    /// <summary>A sample value or bucket bound: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c> or <c>NaN</c>.</summary>
    public static void WriteDouble(ArrayBufferWriter<byte> writer, double value) => WriteFloatingPoint(writer, value);

    public static void WriteLong(ArrayBufferWriter<byte> writer, long value) => WriteFormattable(writer, value);

    /// <summary>
    /// An attribute value as a label value (without the quotes): strings escaped, numbers and booleans as
    /// OpenTelemetry spells them, arrays as JSON arrays.
    /// </summary>
    public static void WriteLabelValue(ArrayBufferWriter<byte> writer, object? value)
    {
        switch (value)
        {
            case null:
                break;
            case string text:
                WriteEscaped(writer, text, inLabelValue: true);
                break;
            case bool flag:
                writer.Write(flag ? "true"u8 : "false"u8);
                break;
            case double number:
                WriteDouble(writer, number);
                break;
            case float number:
                WriteFloatingPoint(writer, number);
                break;
            case long number:
                WriteFormattable(writer, number);
                break;
            case int number:
                WriteFormattable(writer, number);
                break;
            case short number:
                WriteFormattable(writer, number);
                break;
            case byte number:
                WriteFormattable(writer, number);
                break;
            case sbyte number:
                WriteFormattable(writer, number);
                break;
            case ushort number:
                WriteFormattable(writer, number);
                break;
            case uint number:
                WriteFormattable(writer, number);
                break;
            case ulong number:
                WriteFormattable(writer, number);
                break;
            case Array array:
                WriteEscaped(writer, ToJsonArray(array), inLabelValue: true);
                break;
            default:
                WriteEscaped(writer, Convert.ToString(value, CultureInfo.InvariantCulture), inLabelValue: true);
                break;
        }
    }

    private static void WriteFloatingPoint<T>(ArrayBufferWriter<byte> writer, T value)
        where T : IFloatingPointIeee754<T>, IUtf8SpanFormattable
    {
        if (T.IsNaN(value))
        {
            writer.Write("NaN"u8);
        }
        else if (T.IsPositiveInfinity(value))
        {
            writer.Write("+Inf"u8);
        }
        else if (T.IsNegativeInfinity(value))
        {
            writer.Write("-Inf"u8);
        }
        else
        {
            WriteFormattable(writer, value);
        }
    }

    private static void WriteFormattable<T>(ArrayBufferWriter<byte> writer, T value)
        where T : IUtf8SpanFormattable
    {
        var sizeHint = 32;
        while (true)
        {
            if (value.TryFormat(writer.GetSpan(sizeHint), out var written, default, CultureInfo.InvariantCulture))
            {
                writer.Advance(written);
                return;
            }

            sizeHint *= 2;
        }
    }

    private static string ToJsonArray(Array array)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var item in array)
            {
                switch (item)
                {
                    case null:
                        json.WriteNullValue();
                        break;
                    case bool flag:
                        json.WriteBooleanValue(flag);
                        break;
                    case long or int or short or byte or sbyte or ushort or uint:
                        json.WriteNumberValue(Convert.ToInt64(item, CultureInfo.InvariantCulture));
                        break;
                    case double or float when double.IsFinite(Convert.ToDouble(item, CultureInfo.InvariantCulture)):
                        json.WriteNumberValue(Convert.ToDouble(item, CultureInfo.InvariantCulture));
                        break;
                    default:
                        json.WriteStringValue(Convert.ToString(item, CultureInfo.InvariantCulture));
                        break;
                }
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
