namespace OfflineTasks.Gate.MySql;

/// <summary>A Connector/C call failed: its error number and text (<c>mysql_errno</c>, <c>mysql_error</c>).</summary>
internal sealed class MariaDbException : Exception
{
    public MariaDbException(int number, string message, bool timedOut)
        : base(message)
    {
        Number = number;
        TimedOut = timedOut;
    }

    public MariaDbException()
        : this(0, "MariaDB Connector/C call failed", timedOut: false)
    {
    }

    public MariaDbException(string message)
        : this(0, message, timedOut: false)
    {
    }

    public MariaDbException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The MySQL/MariaDB error number: 1xxx from the server, 2xxx and 5xxx from the client library.</summary>
    public int Number { get; }

    /// <summary>The call failed with a network error after blocking for the whole connect or read timeout.</summary>
    public bool TimedOut { get; }
}
