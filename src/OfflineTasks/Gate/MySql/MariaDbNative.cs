using System.Reflection;
using System.Runtime.InteropServices;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// The few functions of MariaDB Connector/C (libmariadb) the status probe calls. Declarations follow
/// <c>mysql.h</c> of Connector/C 3.x; the only struct read is <c>MYSQL_FIELD</c>, and only its first member
/// (<c>char *name</c>). C <c>unsigned long</c> is <see cref="CULong"/> (64 bits on Linux and macOS, 32 on Windows).
/// </summary>
internal static unsafe partial class MariaDbNative
{
    private const string LibraryName = "libmariadb";

    // enum mysql_option
    internal const int MYSQL_OPT_CONNECT_TIMEOUT = 0;
    internal const int MYSQL_SET_CHARSET_NAME = 7;
    internal const int MYSQL_OPT_LOCAL_INFILE = 8;
    internal const int MYSQL_OPT_PROTOCOL = 9;
    internal const int MYSQL_OPT_READ_TIMEOUT = 11;
    internal const int MYSQL_OPT_WRITE_TIMEOUT = 12;

    // enum mysql_protocol_type
    internal const uint MYSQL_PROTOCOL_TCP = 1;
    internal const uint MYSQL_PROTOCOL_SOCKET = 2;

    private static readonly Lock InitializationLock = new();
    private static bool _initialized;

    static MariaDbNative() => NativeLibrary.SetDllImportResolver(typeof(MariaDbNative).Assembly, Resolve);

    /// <summary>
    /// Loads the library and runs <c>mysql_library_init</c> once, before the first <c>mysql_init</c> (which would
    /// otherwise run it itself, and that is not safe from two threads at once).
    /// </summary>
    internal static void EnsureInitialized()
    {
        lock (InitializationLock)
        {
            if (_initialized)
            {
                return;
            }

            if (mysql_server_init(0, null, null) != 0)
            {
                throw new InvalidOperationException("MariaDB Connector/C could not initialise (mysql_library_init failed).");
            }

            _initialized = true;
        }
    }

    internal static string? ToManagedString(IntPtr utf8) => utf8 == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(utf8);

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName)
        {
            return IntPtr.Zero;
        }

        foreach (var candidate in Candidates())
        {
            if (NativeLibrary.TryLoad(candidate, assembly, searchPath, out var handle))
            {
                return handle;
            }
        }

        throw new DllNotFoundException(
            $"MariaDB Connector/C could not be loaded (tried {string.Join(", ", Candidates())}). Install it: on Debian or Ubuntu "
            + "the 'libmariadb3' package, on Fedora/RHEL 'mariadb-connector-c', on macOS 'brew install mariadb-connector-c', "
            + "on Windows the MariaDB Connector/C installer (libmariadb.dll on the PATH).");
    }

    private static IEnumerable<string> Candidates()
    {
        if (OperatingSystem.IsWindows())
        {
            return ["libmariadb.dll", "libmariadb"];
        }

        if (OperatingSystem.IsMacOS())
        {
            return
            [
                "libmariadb.3.dylib", "libmariadb.dylib",
                "/opt/homebrew/lib/mariadb/libmariadb.3.dylib", "/usr/local/lib/mariadb/libmariadb.3.dylib", "libmariadb",
            ];
        }

        return ["libmariadb.so.3", "libmariadb.so", "libmariadb"];
    }

    [LibraryImport(LibraryName)]
    private static partial int mysql_server_init(int argc, byte** argv, byte** groups);

    [LibraryImport(LibraryName)]
    internal static partial MariaDbConnectionHandle mysql_init(IntPtr mysql);

    [LibraryImport(LibraryName)]
    internal static partial int mysql_options(MariaDbConnectionHandle mysql, int option, void* value);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr mysql_real_connect(
        MariaDbConnectionHandle mysql, string? host, string? user, string? password, string? database, uint port, string? unixSocket, CULong clientFlags);

    [LibraryImport(LibraryName)]
    internal static partial int mysql_real_query(MariaDbConnectionHandle mysql, byte* query, CULong length);

    [LibraryImport(LibraryName)]
    internal static partial MariaDbResultHandle mysql_store_result(MariaDbConnectionHandle mysql);

    [LibraryImport(LibraryName)]
    internal static partial uint mysql_field_count(MariaDbConnectionHandle mysql);

    [LibraryImport(LibraryName)]
    internal static partial uint mysql_num_fields(MariaDbResultHandle result);

    /// <summary>Returns a <c>MYSQL_FIELD*</c>; its first member is <c>char *name</c>.</summary>
    [LibraryImport(LibraryName)]
    internal static partial IntPtr mysql_fetch_field_direct(MariaDbResultHandle result, uint fieldNumber);

    /// <summary>Returns a <c>MYSQL_ROW</c> (<c>char**</c>, one pointer per field, null for SQL NULL), or null after the last row.</summary>
    [LibraryImport(LibraryName)]
    internal static partial IntPtr mysql_fetch_row(MariaDbResultHandle result);

    /// <summary>Returns an <c>unsigned long*</c>: the byte length of each field of the row last fetched.</summary>
    [LibraryImport(LibraryName)]
    internal static partial CULong* mysql_fetch_lengths(MariaDbResultHandle result);

    [LibraryImport(LibraryName)]
    internal static partial uint mysql_errno(MariaDbConnectionHandle mysql);

    /// <summary>Returns a <c>const char*</c> owned by the connection (never freed by the caller).</summary>
    [LibraryImport(LibraryName)]
    internal static partial IntPtr mysql_error(MariaDbConnectionHandle mysql);

    /// <summary>Returns a <c>char*</c> owned by the connection, e.g. <c>10.11.19-MariaDB-0+deb12u1-log</c>.</summary>
    [LibraryImport(LibraryName)]
    internal static partial IntPtr mysql_get_server_info(MariaDbConnectionHandle mysql);

    [LibraryImport(LibraryName)]
    internal static partial void mysql_close(IntPtr mysql);

    [LibraryImport(LibraryName)]
    internal static partial void mysql_free_result(IntPtr result);
}
