namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Creates <see cref="MySqlStatusClient"/>s: MySqlConnector, one unpooled connection per master kept open between
/// reads, over TCP (or the endpoint's Unix socket), every step bounded by <see cref="MySqlEndpoint.Timeout"/>. The
/// probe user needs only PROCESS and REPLICATION CLIENT (on MariaDB 10.5+: BINLOG MONITOR and SLAVE MONITOR)
/// privileges.
/// </summary>
internal sealed class MySqlStatusClientFactory : IMySqlStatusClientFactory
{
    public IMySqlStatusClient Create(MySqlEndpoint endpoint) => new MySqlStatusClient(endpoint);
}
