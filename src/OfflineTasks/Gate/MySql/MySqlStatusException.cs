namespace OfflineTasks.Gate.MySql;

/// <summary>What went wrong reading a server's status.</summary>
internal enum MySqlStatusFailure
{
    /// <summary>The server could not be reached (refused, reset, host unknown).</summary>
    Unreachable,

    /// <summary>The server refused the probe's login or privileges.</summary>
    AccessDenied,

    /// <summary>Connecting or reading took longer than the timeout (e.g. a hung server).</summary>
    Timeout,

    /// <summary>The server answered something the probe cannot read.</summary>
    Unreadable,

    /// <summary>Any other server or client error.</summary>
    Other,
}

/// <summary>A status read failed. Carries the endpoint (never its password) and the server's error code.</summary>
internal sealed class MySqlStatusException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MySqlStatusException(string endpoint, MySqlStatusFailure failure, int? errorCode, string message, Exception? inner = null)
        : base(errorCode is { } code ? $"{endpoint}: {message} (error {code})" : $"{endpoint}: {message}", inner)
    {
        Endpoint = endpoint;
        Failure = failure;
        ErrorCode = errorCode;
    }

    /// <summary>Creates the exception.</summary>
    public MySqlStatusException()
        : this("unknown endpoint", MySqlStatusFailure.Other, null, "status read failed")
    {
    }

    /// <summary>Creates the exception.</summary>
    public MySqlStatusException(string message)
        : this("unknown endpoint", MySqlStatusFailure.Other, null, message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public MySqlStatusException(string message, Exception innerException)
        : this("unknown endpoint", MySqlStatusFailure.Other, null, message, innerException)
    {
    }

    /// <summary>The master, as <see cref="MySqlEndpoint.ToString"/> shows it.</summary>
    public string Endpoint { get; }

    /// <summary>The kind of failure.</summary>
    public MySqlStatusFailure Failure { get; }

    /// <summary>The MySQL/MariaDB error number (e.g. 1045 access denied, 2003 cannot connect, 2013 lost connection), if any.</summary>
    public int? ErrorCode { get; }
}
