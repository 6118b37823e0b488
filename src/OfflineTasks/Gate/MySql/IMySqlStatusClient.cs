namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Reads one MySQL or MariaDB server's status over a connection it keeps open between reads (and opens again
/// after an error). One client per probed master; the prober never uses one client from two threads at once.
/// </summary>
internal interface IMySqlStatusClient : IAsyncDisposable
{
    /// <summary>
    /// Reads the server's load, settings and replication status. Counts exclude the client's own connection and
    /// running statement. Throws <see cref="MySqlStatusException"/> when the server cannot be reached, refuses the
    /// login, times out or answers something that cannot be read; honours <paramref name="cancellationToken"/>
    /// even while the server hangs.
    /// </summary>
    Task<MySqlServerStatus> ReadStatusAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Creates the <see cref="IMySqlStatusClient"/> for each probed master. <c>AddOfflineTasksGate</c> registers
/// <see cref="MySqlStatusClientFactory"/> unless one is registered first (tests do, to fake servers).
/// </summary>
internal interface IMySqlStatusClientFactory
{
    /// <summary>Creates a client for <paramref name="endpoint"/>. Must not connect yet.</summary>
    IMySqlStatusClient Create(MySqlEndpoint endpoint);
}
