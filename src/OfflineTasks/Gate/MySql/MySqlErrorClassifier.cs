namespace OfflineTasks.Gate.MySql;

/// <summary>Sorts MySQL/MariaDB error numbers (server 1xxx/3xxx/4xxx, client library 2xxx/5xxx) into <see cref="MySqlStatusFailure"/>.</summary>
internal static class MySqlErrorClassifier
{
    // Cannot get to the server or lost it: socket/host/connect errors, server gone or lost, handshake failed,
    // network read/write errors (Connector/C), server shutting down, connection killed or closed for inactivity.
    // 1042 is also what MySqlConnector reports when it cannot connect.
    private static readonly HashSet<int> NetworkErrors =
        [2001, 2002, 2003, 2004, 2005, 2006, 2012, 2013, 2055, 5013, 5014, 1042, 1053, 1927, 4031];

    // Bad login, host not allowed, missing privilege (database, table, PROCESS / SLAVE MONITOR), password
    // expired or must be reset, account locked.
    private static readonly HashSet<int> AccessErrors = [1044, 1045, 1130, 1142, 1143, 1227, 1698, 1820, 1862, 3118, 4151];

    // A server-side statement timeout: max_statement_time (MariaDB), max_execution_time (MySQL).
    private static readonly HashSet<int> TimeoutErrors = [1969, 3024];

    /// <summary>
    /// The failure kind of error <paramref name="number"/> (null when unknown). A network error counts as a
    /// <see cref="MySqlStatusFailure.Timeout"/> when the call had blocked for its whole timeout first.
    /// </summary>
    public static MySqlStatusFailure Classify(int? number, bool timedOut)
    {
        if (number is not { } n)
        {
            return timedOut ? MySqlStatusFailure.Timeout : MySqlStatusFailure.Other;
        }

        if (NetworkErrors.Contains(n))
        {
            return timedOut ? MySqlStatusFailure.Timeout : MySqlStatusFailure.Unreachable;
        }

        if (AccessErrors.Contains(n))
        {
            return MySqlStatusFailure.AccessDenied;
        }

        return TimeoutErrors.Contains(n) ? MySqlStatusFailure.Timeout : MySqlStatusFailure.Other;
    }
}
