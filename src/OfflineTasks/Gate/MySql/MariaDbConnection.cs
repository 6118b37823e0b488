using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// One blocking Connector/C connection: open, run a statement and read its whole result as text, close.
/// Every call blocks the calling thread, bounded by the connect, read and write timeouts set at open. Not
/// thread-safe: one thread at a time.
/// </summary>
internal sealed unsafe class MariaDbConnection : IDisposable
{
    private readonly MariaDbConnectionHandle _handle;
    private readonly TimeSpan _timeout;

    private MariaDbConnection(MariaDbConnectionHandle handle, TimeSpan timeout)
    {
        _handle = handle;
        _timeout = timeout;
        ServerVersion = MariaDbNative.ToManagedString(MariaDbNative.mysql_get_server_info(handle)) ?? string.Empty;
    }

    /// <summary>The server's version text, e.g. <c>10.11.19-MariaDB-0+deb12u1-log</c>.</summary>
    public string ServerVersion { get; }

    /// <summary>
    /// Connects to <paramref name="endpoint"/> (its socket when set, else TCP to host and port; never the
    /// library's default socket) with <see cref="MySqlEndpoint.Timeout"/> as connect, read and write timeout,
    /// whole seconds, at least 1.
    /// </summary>
    /// <exception cref="MariaDbException">The connection failed.</exception>
    public static MariaDbConnection Open(MySqlEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        MariaDbNative.EnsureInitialized();
        var timeoutSeconds = (uint)Math.Clamp(Math.Ceiling(endpoint.Timeout.TotalSeconds), 1, int.MaxValue);
        var handle = MariaDbNative.mysql_init(IntPtr.Zero);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new MariaDbException(2008, "mysql_init failed: out of memory", timedOut: false);
        }

        try
        {
            SetOption(handle, MariaDbNative.MYSQL_OPT_CONNECT_TIMEOUT, timeoutSeconds);
            SetOption(handle, MariaDbNative.MYSQL_OPT_READ_TIMEOUT, timeoutSeconds);
            SetOption(handle, MariaDbNative.MYSQL_OPT_WRITE_TIMEOUT, timeoutSeconds);
            SetOption(handle, MariaDbNative.MYSQL_OPT_PROTOCOL, endpoint.Socket is null ? MariaDbNative.MYSQL_PROTOCOL_TCP : MariaDbNative.MYSQL_PROTOCOL_SOCKET);

            // A server could answer any statement with a LOAD DATA LOCAL request for a client file; refuse them.
            SetOption(handle, MariaDbNative.MYSQL_OPT_LOCAL_INFILE, 0);
            SetOption(handle, MariaDbNative.MYSQL_SET_CHARSET_NAME, "utf8mb4");

            var timeout = TimeSpan.FromSeconds(timeoutSeconds);
            var started = Stopwatch.GetTimestamp();
            var connected = MariaDbNative.mysql_real_connect(
                handle,
                endpoint.Socket is null ? endpoint.Host : "localhost",
                endpoint.User,
                endpoint.Password,
                database: null,
                (uint)endpoint.Port,
                endpoint.Socket,
                default);
            if (connected == IntPtr.Zero)
            {
                throw Failure(handle, started, timeout);
            }

            return new MariaDbConnection(handle, timeout);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="sql"/> and returns every row of its result as text (none for a statement without a result).</summary>
    /// <exception cref="MariaDbException">The statement failed; the connection may be broken.</exception>
    public IReadOnlyList<MySqlRow> Query(string sql)
    {
        var started = Stopwatch.GetTimestamp();
        var bytes = Encoding.UTF8.GetBytes(sql);
        fixed (byte* text = bytes)
        {
            if (MariaDbNative.mysql_real_query(_handle, text, new CULong((nuint)bytes.Length)) != 0)
            {
                throw Failure(_handle, started, _timeout);
            }
        }

        using var result = MariaDbNative.mysql_store_result(_handle);
        if (result.IsInvalid)
        {
            return MariaDbNative.mysql_field_count(_handle) == 0 ? [] : throw Failure(_handle, started, _timeout);
        }

        var columns = ColumnNames(result);
        var rows = new List<MySqlRow>();
        var values = new string?[columns.Length];
        IntPtr row;
        while ((row = MariaDbNative.mysql_fetch_row(result)) != IntPtr.Zero)
        {
            var fields = (byte**)row;
            var lengths = MariaDbNative.mysql_fetch_lengths(result);
            for (var i = 0; i < columns.Length; i++)
            {
                values[i] = fields[i] is null ? null : Encoding.UTF8.GetString(fields[i], checked((int)lengths[i].Value));
            }

            rows.Add(new MySqlRow(columns, values));
        }

        return rows;
    }

    public void Dispose() => _handle.Dispose();

    private static string[] ColumnNames(MariaDbResultHandle result)
    {
        var names = new string[MariaDbNative.mysql_num_fields(result)];
        for (var i = 0; i < names.Length; i++)
        {
            // MYSQL_FIELD starts with `char *name`.
            var field = MariaDbNative.mysql_fetch_field_direct(result, (uint)i);
            names[i] = field == IntPtr.Zero ? $"column{i}" : MariaDbNative.ToManagedString(*(IntPtr*)field) ?? $"column{i}";
        }

        return names;
    }

    private static void SetOption(MariaDbConnectionHandle handle, int option, uint value)
    {
        if (MariaDbNative.mysql_options(handle, option, &value) != 0)
        {
            throw new InvalidOperationException($"mysql_options({option}, {value}) failed");
        }
    }

    private static void SetOption(MariaDbConnectionHandle handle, int option, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* text = bytes)
        {
            if (MariaDbNative.mysql_options(handle, option, text) != 0)
            {
                throw new InvalidOperationException($"mysql_options({option}, '{value}') failed");
            }
        }
    }

    /// <summary>The connection's last error; a network error after the whole timeout counts as timed out.</summary>
    private static MariaDbException Failure(MariaDbConnectionHandle handle, long started, TimeSpan timeout)
    {
        var number = (int)MariaDbNative.mysql_errno(handle);
        var message = MariaDbNative.ToManagedString(MariaDbNative.mysql_error(handle));
        var blockedForTimeout = Stopwatch.GetElapsedTime(started) >= timeout * 0.9;
        return new MariaDbException(number, string.IsNullOrEmpty(message) ? $"error {number}" : message, blockedForTimeout);
    }
}
