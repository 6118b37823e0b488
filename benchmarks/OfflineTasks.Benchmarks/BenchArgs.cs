using System.Globalization;

namespace OfflineTasks.Benchmarks;

/// <summary><c>--name value</c> or <c>--name=value</c> options of a benchmark subcommand.</summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string> _values;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private BenchArgs(Dictionary<string, string> values) => _values = values;

    public static BenchArgs Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ArgumentException($"unexpected argument '{arg}': options look like --name value.");
            }

            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[arg[2..eq]] = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                values[arg[2..]] = args[++i];
            }
            else
            {
                throw new ArgumentException($"option '{arg}' needs a value.");
            }
        }

        return new BenchArgs(values);
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var value) ? value : null;
    }

    public int Int(string name, int fallback, int min, int max)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new ArgumentException($"--{name} must be an integer from {min} to {max}, not '{text}'.");
        }

        return value;
    }

    public double? Double(string name)
    {
        var text = String(name);
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value))
        {
            throw new ArgumentException($"--{name} must be a non-negative number, not '{text}'.");
        }

        return value;
    }

    /// <summary>Throws when an option was given that the benchmark never asked for (a typo would otherwise be ignored).</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown option(s): {string.Join(", ", unknown.Select(k => "--" + k))}.");
        }
    }
}
