namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Creates status clients that talk to MySQL or MariaDB through MariaDB Connector/C (<c>libmariadb.so.3</c>,
/// Debian's <c>libmariadb3</c> package; <c>libmariadb.3.dylib</c> or <c>libmariadb.dll</c> elsewhere), loaded
/// on the first read. Each client keeps one connection to its master, connects over TCP (or the endpoint's
/// Unix socket) with <see cref="MySqlEndpoint.Timeout"/> as connect, read and write timeout (whole seconds, at
/// least one), and runs its blocking driver calls on a thread of its own, so a hung server holds up no caller
/// that cancels. The probe user needs only PROCESS and REPLICATION CLIENT (on MariaDB 10.5+: BINLOG MONITOR
/// and SLAVE MONITOR) privileges. A missing library shows as a <see cref="MySqlStatusException"/>
/// (<see cref="MySqlStatusFailure.Other"/>) whose message names the package to install.
/// </summary>
public sealed class MariaDbStatusClientFactory : IMySqlStatusClientFactory
{
    /// <inheritdoc />
    public IMySqlStatusClient Create(MySqlEndpoint endpoint) => new MariaDbStatusClient(endpoint);
}
