namespace OfflineTasks.Gate.MySql;

/// <summary>
/// How to reach one master: resolved connection settings (the password already read from its environment
/// variable). <see cref="ToString"/> never shows the password.
/// </summary>
/// <param name="Shard">The shard the master belongs to.</param>
/// <param name="Name">The master's name within its shard (e.g. <c>users-2a</c>).</param>
/// <param name="Host">Host name or address; ignored when <paramref name="Socket"/> is set.</param>
/// <param name="Port">TCP port.</param>
/// <param name="User">User name of the probe (needs only PROCESS and REPLICATION CLIENT / SLAVE MONITOR privileges).</param>
/// <param name="Password">Password, or null for none.</param>
/// <param name="Socket">Unix socket path, or null for TCP.</param>
/// <param name="Timeout">Bound of each step of a status read: connecting, and each statement with its rows.</param>
internal sealed record MySqlEndpoint(string Shard, string Name, string Host, int Port, string User, string? Password, string? Socket, TimeSpan Timeout)
{
    /// <summary>Where the master is, without credentials: <c>name (host:port)</c> or <c>name (socket path)</c>.</summary>
    public override string ToString() => Socket is null ? $"{Name} ({Host}:{Port})" : $"{Name} ({Socket})";
}
