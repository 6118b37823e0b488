using System.Net.Sockets;
using MySqlConnector;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Sorts what MySqlConnector throws into <see cref="MySqlStatusFailure"/>, and finds the MySQL/MariaDB error number
/// to report. The one place that knows error numbers.
/// </summary>
internal static class MySqlErrorClassifier
{
    // Server error numbers MySqlConnector's MySqlErrorCode has no name for.
    private const MySqlErrorCode AccessDeniedNoPassword = (MySqlErrorCode)1698; // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (unix_socket and similar plugins)
    private const MySqlErrorCode MustChangePassword = (MySqlErrorCode)1820; // ER_MUST_CHANGE_PASSWORD
    private const MySqlErrorCode MustChangePasswordLogin = (MySqlErrorCode)1862; // ER_MUST_CHANGE_PASSWORD_LOGIN
    private const MySqlErrorCode AccountLocked = (MySqlErrorCode)3118; // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
    private const MySqlErrorCode MariaDbAccountLocked = (MySqlErrorCode)4151; // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
    private const MySqlErrorCode ConnectionKilled = (MySqlErrorCode)1927; // ER_CONNECTION_KILLED (MariaDB)
    private const MySqlErrorCode StatementTimeout = (MySqlErrorCode)1969; // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)

    // Cannot get to the server or lost it. MySqlConnector reports every failure to connect (refused, unknown host,
    // connect timeout, TLS or authentication-method trouble) as UnableToConnectToHost; the server itself reports a
    // bad handshake, shutting down, network errors on its side, a killed connection and one closed for inactivity.
    private static readonly HashSet<MySqlErrorCode> NetworkErrors =
    [
        MySqlErrorCode.UnableToConnectToHost, MySqlErrorCode.HandshakeError, MySqlErrorCode.ServerShutdown,
        MySqlErrorCode.NetReadError, MySqlErrorCode.NetReadInterrupted, MySqlErrorCode.NetErrorOnWrite, MySqlErrorCode.NetWriteInterrupted,
        MySqlErrorCode.ClientInteractionTimeout, ConnectionKilled,
    ];

    // Bad login, host not allowed or blocked, missing privilege (database, table, PROCESS / SLAVE MONITOR), password
    // expired or must be reset, account locked.
    private static readonly HashSet<MySqlErrorCode> AccessErrors =
    [
        MySqlErrorCode.DatabaseAccessDenied, MySqlErrorCode.AccessDenied, MySqlErrorCode.HostNotPrivileged, MySqlErrorCode.HostIsBlocked,
        MySqlErrorCode.TableAccessDenied, MySqlErrorCode.ColumnAccessDenied, MySqlErrorCode.SpecifiedAccessDeniedError,
        AccessDeniedNoPassword, MustChangePassword, MustChangePasswordLogin, AccountLocked, MariaDbAccountLocked,
    ];

    // A server-side statement timeout: max_statement_time (MariaDB), max_execution_time (MySQL).
    private static readonly HashSet<MySqlErrorCode> TimeoutErrors = [StatementTimeout, MySqlErrorCode.QueryTimeout];

    /// <summary>
    /// The failure kind of <paramref name="exception"/> (from MySqlConnector, or anything else a read threw) and the
    /// server error number to report: that of the outermost <see cref="MySqlException"/> with a positive one, else
    /// none. MySqlConnector's own timeout (<see cref="MySqlErrorCode.CommandTimeoutExpired"/>, also inside a failed
    /// connect) is a <see cref="MySqlStatusFailure.Timeout"/>, and so is a lost connection when the call had blocked
    /// for about its whole timeout first (<paramref name="timedOut"/>). The server's "Too many connections"
    /// (<see cref="MySqlErrorCode.ConnectionCountError"/>) stays <see cref="MySqlStatusFailure.Other"/> with its
    /// number, which the policy reads as load.
    /// </summary>
    public static (MySqlStatusFailure Failure, int? ErrorCode) Classify(Exception exception, bool timedOut)
    {
        ArgumentNullException.ThrowIfNull(exception);
        MySqlErrorCode? code = null;
        var driverTimeout = false;
        var connectionLost = false;
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case MySqlException { ErrorCode: MySqlErrorCode.CommandTimeoutExpired }:
                    driverTimeout = true;
                    break;
                case MySqlException { Number: > 0 } server:
                    code ??= server.ErrorCode;
                    break;

                // A socket error, end of stream (e.g. the server closed the connection) or a socket MySqlConnector
                // closed after its timeout; "Failed to read the result set." wraps them without a number.
                case SocketException or IOException or ObjectDisposedException:
                    connectionLost = true;
                    break;
            }
        }

        var errorCode = code is { } c ? (int)c : (int?)null;
        if (driverTimeout || (code is { } t && TimeoutErrors.Contains(t)))
        {
            return (MySqlStatusFailure.Timeout, errorCode);
        }

        if (code is { } n ? NetworkErrors.Contains(n) : connectionLost)
        {
            return (timedOut ? MySqlStatusFailure.Timeout : MySqlStatusFailure.Unreachable, errorCode);
        }

        if (code is { } a && AccessErrors.Contains(a))
        {
            return (MySqlStatusFailure.AccessDenied, errorCode);
        }

        return (code is null && timedOut ? MySqlStatusFailure.Timeout : MySqlStatusFailure.Other, errorCode);
    }
}
