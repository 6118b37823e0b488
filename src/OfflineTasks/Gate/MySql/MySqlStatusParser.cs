using System.Globalization;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Turns the rows of the two status statements (<see cref="MySqlStatusQueries"/>) into a
/// <see cref="MySqlServerStatus"/>. Reads both the MariaDB / MySQL 5.x columns (<c>Slave_IO_Running</c>,
/// <c>Seconds_Behind_Master</c>, <c>Master_Host</c>, …) and MySQL 8.0.22+'s (<c>Replica_IO_Running</c>,
/// <c>Seconds_Behind_Source</c>, <c>Source_Host</c>, …). A missing or unreadable value that the status needs
/// is a <see cref="MySqlStatusException"/> (<see cref="MySqlStatusFailure.Unreadable"/>) naming it.
/// </summary>
internal static class MySqlStatusParser
{
    /// <summary>The probe's own connection, counted in <c>Threads_connected</c>.</summary>
    private const long OwnConnections = 1;

    /// <summary>The probe's own status statement, counted in <c>Threads_running</c> while it runs.</summary>
    private const long OwnRunningStatements = 1;

    private const string StatusSource = "The status statement";
    private const string ReplicationSource = "The replication status";

    /// <summary>
    /// Reads <paramref name="status"/>, rows of <c>Variable_name</c> and <c>Value</c> (names in any case) for
    /// <c>Threads_connected</c>, <c>Threads_running</c>, <c>max_connections</c> and <c>read_only</c>, and
    /// <paramref name="replication"/>, one row per replication channel.
    /// </summary>
    public static MySqlServerStatus Parse(string endpoint, IReadOnlyList<MySqlRow> status, IReadOnlyList<MySqlRow> replication)
    {
        var values = StatusVariables(endpoint, status);
        var threadsConnected = Integer(endpoint, "Threads_connected", Required(endpoint, StatusSource, values, "Threads_connected"));
        var threadsRunning = Integer(endpoint, "Threads_running", Required(endpoint, StatusSource, values, "Threads_running"));
        var maxConnections = Integer(endpoint, "max_connections", Required(endpoint, StatusSource, values, "max_connections"));
        var readOnly = Boolean(endpoint, "read_only", Required(endpoint, StatusSource, values, "read_only"));

        var channels = new List<ReplicationChannelStatus>(replication.Count);
        foreach (var row in replication)
        {
            channels.Add(Channel(endpoint, row));
        }

        return new MySqlServerStatus(
            Math.Max(0, threadsConnected - OwnConnections),
            Math.Max(0, threadsRunning - OwnRunningStatements),
            maxConnections,
            readOnly,
            channels);
    }

    private static ReplicationChannelStatus Channel(string endpoint, MySqlRow row)
    {
        var io = Required(endpoint, ReplicationSource, row, "Slave_IO_Running", "Replica_IO_Running");
        var sql = Required(endpoint, ReplicationSource, row, "Slave_SQL_Running", "Replica_SQL_Running");
        var lag = Required(endpoint, ReplicationSource, row, "Seconds_Behind_Master", "Seconds_Behind_Source");
        var host = Optional(row, "Master_Host", "Source_Host");
        var port = Optional(row, "Master_Port", "Source_Port");

        return new ReplicationChannelStatus(
            SourceHost: string.IsNullOrEmpty(host) ? null : host,
            SourcePort: string.IsNullOrEmpty(port) ? null : Port(endpoint, port),
            IoRunning: IsYes(io),
            SqlRunning: IsYes(sql),
            LagSeconds: string.IsNullOrEmpty(lag) ? null : Integer(endpoint, "Seconds_Behind_Master/Seconds_Behind_Source", lag),
            LastError: LastError(Optional(row, "Last_IO_Error"), Optional(row, "Last_SQL_Error")));
    }

    // "Connecting" (the IO thread is trying to reach its source) and "Preparing" count as not running.
    private static bool IsYes(string? value) => string.Equals(value, "Yes", StringComparison.OrdinalIgnoreCase);

    private static string? LastError(string? io, string? sql) => (string.IsNullOrEmpty(io), string.IsNullOrEmpty(sql)) switch
    {
        (true, true) => null,
        (false, true) => io,
        (true, false) => sql,
        _ => $"{io}; {sql}",
    };

    private static MySqlRow StatusVariables(string endpoint, IReadOnlyList<MySqlRow> rows)
    {
        var names = new List<string>(rows.Count);
        var values = new List<string?>(rows.Count);
        foreach (var row in rows)
        {
            names.Add(Required(endpoint, StatusSource, row, "Variable_name") ?? string.Empty);
            values.Add(Required(endpoint, StatusSource, row, "Value"));
        }

        return new MySqlRow(names, values);
    }

    /// <summary>The value (possibly null) of the first of <paramref name="names"/> the row has; none is an error naming them.</summary>
    private static string? Required(string endpoint, string source, MySqlRow row, params string[] names)
    {
        foreach (var name in names)
        {
            if (row.TryGetValue(name, out var value))
            {
                return value;
            }
        }

        var present = row.Columns.Any() ? string.Join(", ", row.Columns) : "nothing";
        throw Unreadable(endpoint, $"{source} returned no {string.Join(" or ", names)} (only {present})");
    }

    private static string? Optional(MySqlRow row, string column, string? otherName = null) =>
        row.TryGetValue(column, out var value) || (otherName is not null && row.TryGetValue(otherName, out value)) ? value : null;

    private static long Integer(string endpoint, string name, string? value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw Unreadable(endpoint, $"{name} is {Quote(value)}, not a whole number");

    private static int Port(string endpoint, string value)
    {
        var port = Integer(endpoint, "Master_Port/Source_Port", value);
        return port is >= 0 and <= 65535 ? (int)port : throw Unreadable(endpoint, $"Master_Port/Source_Port is '{value}', not a port");
    }

    private static bool Boolean(string endpoint, string name, string? value) => value?.Trim().ToUpperInvariant() switch
    {
        "1" or "ON" or "TRUE" => true,
        "0" or "OFF" or "FALSE" => false,
        _ => throw Unreadable(endpoint, $"{name} is {Quote(value)}, not 0/1/ON/OFF"),
    };

    private static string Quote(string? value) => value is null ? "NULL" : $"'{value}'";

    private static MySqlStatusException Unreadable(string endpoint, string message) =>
        new(endpoint, MySqlStatusFailure.Unreadable, null, message);
}
