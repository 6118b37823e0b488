using System.Globalization;
using System.Text;
using OfflineTasks.Gate;
using OfflineTasks.Telemetry;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// A shard's recent past as a server-rendered SVG: above, its masters' worst signals as a share of their high-water
/// marks (the dashed line is high-water), over a band that is red while the shard was closed and amber while it was
/// light-only; below, its parked jobs.
/// </summary>
internal static class ShardChart
{
    private const int Width = 720;
    private const int Left = 44;
    private const int Right = 8;
    private const int SignalsTop = 10;
    private const int SignalsHeight = 110;
    private const int ParkedTop = 150;
    private const int ParkedHeight = 60;
    private const int Height = 232;

    private static readonly (string Label, string Color, Func<ShardHistoryPoint, double?> Value, Func<ResolvedThresholds, Mark> Mark)[] Signals =
    [
        ("threads running", "#1f77b4", p => p.ThreadsRunning, t => t.ThreadsRunning),
        ("connections", "#9467bd", p => p.ConnectionsRatio, t => t.ConnectionsRatio),
        ("replication lag", "#ff7f0e", p => p.LagSeconds, t => t.ReplicationLagSeconds),
    ];

    public static string Render(IReadOnlyList<ShardHistoryPoint> points, ResolvedThresholds? marks, DateTimeOffset from, DateTimeOffset to)
    {
        if (points.Count == 0)
        {
            return "<div class=\"alert alert-info\">No history yet: the telemetry leader records a point per sample (OfflineTasks:Telemetry:SampleInterval).</div>";
        }

        var span = Math.Max(1, (to - from).TotalSeconds);
        double X(DateTimeOffset at) => Left + ((Width - Left - Right) * Math.Clamp((at - from).TotalSeconds / span, 0, 1));
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"offlinetasks-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"Signals and parked jobs\" style=\"font:10px sans-serif\">");

        // The shard's mode, as bands behind the signals.
        for (var i = 0; i < points.Count; i++)
        {
            var mode = points[i].Mode;
            if (mode == ShardMode.Open)
            {
                continue;
            }

            var x0 = X(points[i].At);
            var x1 = i + 1 < points.Count ? X(points[i + 1].At) : X(to);
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect class=\"offlinetasks-chart-{(mode == ShardMode.Closed ? "closed" : "light")}\" x=\"{x0:0.#}\" y=\"{SignalsTop}\" width=\"{Math.Max(1, x1 - x0):0.#}\" height=\"{SignalsHeight}\" fill=\"{(mode == ShardMode.Closed ? "#f2dede" : "#fcf8e3")}\"/>");
        }

        // Signals as a share of high-water, capped at 150 %.
        const double Cap = 1.5;
        double SignalY(double share) => SignalsTop + SignalsHeight - (SignalsHeight * Math.Clamp(share, 0, Cap) / Cap);
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{SignalY(1):0.#}\" y2=\"{SignalY(1):0.#}\" stroke=\"#d9534f\" stroke-dasharray=\"4 3\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{SignalY(1) + 3:0.#}\" text-anchor=\"end\">high</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{SignalY(0) + 3:0.#}\" text-anchor=\"end\">0</text>");
        var legend = Left;
        foreach (var (label, color, value, mark) in Signals)
        {
            if (marks is null || mark(marks) is not { High: > 0 } m)
            {
                continue;
            }

            var line = Polyline(points, p => value(p) is { } v ? SignalY(v / m.High) : null, X);
            if (line.Length > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"offlinetasks-chart-signal\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{line}\"/>");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{legend}\" y=\"{SignalsTop + SignalsHeight + 6}\" width=\"10\" height=\"3\" fill=\"{color}\"/><text x=\"{legend + 14}\" y=\"{SignalsTop + SignalsHeight + 10}\">{E(label)} (of high {m.High.ToString("0.##", CultureInfo.InvariantCulture)})</text>");
            legend += 190;
        }

        // Parked jobs.
        var max = Math.Max(1, points.Max(p => p.Parked));
        double ParkedY(double parked) => ParkedTop + ParkedHeight - (ParkedHeight * parked / max);
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{ParkedTop + ParkedHeight}\" y2=\"{ParkedTop + ParkedHeight}\" stroke=\"#ccc\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{ParkedTop + 3}\" text-anchor=\"end\">{max.ToString("0", CultureInfo.InvariantCulture)}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{ParkedTop + ParkedHeight + 3}\" text-anchor=\"end\">0</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"offlinetasks-chart-parked\" fill=\"none\" stroke=\"#5cb85c\" stroke-width=\"1.5\" points=\"{Polyline(points, p => ParkedY(p.Parked), X)}\"/>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{ParkedTop - 4}\">parked jobs</text>");

        // Time axis.
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Height - 4}\">{E(Utc(from))}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right}\" y=\"{Height - 4}\" text-anchor=\"end\">{E(Utc(to))}</text>");
        return svg.Append("</svg>").ToString();
    }

    private static string Polyline(IReadOnlyList<ShardHistoryPoint> points, Func<ShardHistoryPoint, double?> y, Func<DateTimeOffset, double> x)
    {
        var line = new StringBuilder();
        foreach (var p in points)
        {
            if (y(p) is { } v)
            {
                line.Append(CultureInfo.InvariantCulture, $"{x(p.At):0.#},{v:0.#} ");
            }
        }

        return line.ToString().TrimEnd();
    }
}
