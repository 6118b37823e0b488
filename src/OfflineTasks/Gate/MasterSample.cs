using MySqlConnector;
using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Gate;

/// <summary>One probe of one master: its status, or why it could not be read.</summary>
internal sealed record MasterSample(MySqlEndpoint Master, DateTimeOffset SampledAt, TimeSpan Duration, MySqlServerStatus? Status, MySqlStatusFailure? Failure, string? Error,
    int? ErrorCode = null)
{
    /// <summary>MySQL's "Too many connections": the server is full, which is load, not a mystery.</summary>
    public const int TooManyConnections = (int)MySqlErrorCode.ConnectionCountError;

    public static MasterSample Read(MySqlEndpoint master, DateTimeOffset at, TimeSpan duration, MySqlServerStatus status) =>
        new(master, at, duration, status, null, null);

    public static MasterSample Failed(MySqlEndpoint master, DateTimeOffset at, TimeSpan duration, MySqlStatusFailure failure, string error, int? errorCode = null) =>
        new(master, at, duration, null, failure, error, errorCode);

    /// <summary>
    /// The read timed out, but only well after the probe timeout, twice: the prober's own process was stalled (CPU or
    /// thread pool starvation), so the sample says nothing about the server.
    /// </summary>
    public bool Stalled { get; init; }

    /// <summary><c>Threads_connected / max_connections</c>, or null when unknown.</summary>
    public double? ConnectionsRatio => Status is { MaxConnections: > 0 } s ? (double)s.ThreadsConnected / s.MaxConnections : null;

    /// <summary>The largest replication lag over the master's channels, or null when unknown.</summary>
    public double? LagSeconds => Status?.Replication.Max(c => c.LagSeconds);
}
