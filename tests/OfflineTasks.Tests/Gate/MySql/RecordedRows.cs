using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Gate.MySql;

/// <summary>
/// Result rows as the mysql client prints them with \G ("*** 1. row ***" then "Name: value" lines), so that
/// output recorded from real servers can be pasted into tests as is. A value of exactly NULL is SQL NULL; a line
/// without "Name:" continues the previous value (e.g. a GTID set spanning lines).
/// </summary>
internal static class RecordedRows
{
    public static IReadOnlyList<MySqlRow> Vertical(string recorded)
    {
        var rows = new List<MySqlRow>();
        List<(string Column, string? Value)>? current = null;
        foreach (var rawLine in recorded.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith("***", StringComparison.Ordinal))
            {
                Flush();
                current = [];
                continue;
            }

            if (current is null || line.Trim().Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(": ", StringComparison.Ordinal);
            var endsWithColon = line.TrimEnd().EndsWith(':');
            var name = colon > 0 ? line[..colon].Trim() : endsWithColon ? line.TrimEnd()[..^1].Trim() : null;
            if (name is null || name.Contains(' ', StringComparison.Ordinal))
            {
                var (column, value) = current[^1];
                current[^1] = (column, value + "\n" + line.Trim());
                continue;
            }

            var text = colon > 0 ? line[(colon + 2)..].Trim() : string.Empty;
            current.Add((name, text == "NULL" ? null : text));
        }

        Flush();
        return rows;

        void Flush()
        {
            if (current is { Count: > 0 })
            {
                rows.Add(new MySqlRow([.. current]));
            }
        }
    }

    /// <summary>The rows of the status statement (<see cref="MySqlStatusQueries.Status"/>) as MariaDB names them.</summary>
    public static IReadOnlyList<MySqlRow> Status(long threadsConnected, long threadsRunning, string maxConnections = "100", string readOnly = "0") =>
    [
        new MySqlRow(("Variable_name", "THREADS_CONNECTED"), ("Value", threadsConnected.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        new MySqlRow(("Variable_name", "THREADS_RUNNING"), ("Value", threadsRunning.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        new MySqlRow(("Variable_name", "max_connections"), ("Value", maxConnections)),
        new MySqlRow(("Variable_name", "read_only"), ("Value", readOnly)),
    ];
}
