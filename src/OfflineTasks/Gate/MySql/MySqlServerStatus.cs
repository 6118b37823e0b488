namespace OfflineTasks.Gate.MySql;

/// <summary>One read of a server's status, with the reading connection's own thread and statement subtracted.</summary>
/// <param name="ThreadsConnected"><c>Threads_connected</c> minus the probe's connection.</param>
/// <param name="ThreadsRunning"><c>Threads_running</c> minus the probe's own statement.</param>
/// <param name="MaxConnections"><c>@@GLOBAL.max_connections</c>, read live (it can change at run time).</param>
/// <param name="ReadOnly"><c>@@GLOBAL.read_only</c>.</param>
/// <param name="Replication">One entry per replication channel (<c>SHOW SLAVE STATUS</c> / <c>SHOW REPLICA STATUS</c> rows); empty when the server replicates from nobody.</param>
internal sealed record MySqlServerStatus(
    long ThreadsConnected,
    long ThreadsRunning,
    long MaxConnections,
    bool ReadOnly,
    IReadOnlyList<ReplicationChannelStatus> Replication);

/// <summary>One replication channel of a server: from which source it replicates and how well.</summary>
/// <param name="SourceHost"><c>Master_Host</c> / <c>Source_Host</c>.</param>
/// <param name="SourcePort"><c>Master_Port</c> / <c>Source_Port</c>.</param>
/// <param name="IoRunning"><c>Slave_IO_Running</c> / <c>Replica_IO_Running</c> is <c>Yes</c> (<c>Connecting</c> counts as not running).</param>
/// <param name="SqlRunning"><c>Slave_SQL_Running</c> / <c>Replica_SQL_Running</c> is <c>Yes</c>.</param>
/// <param name="LagSeconds"><c>Seconds_Behind_Master</c> / <c>Seconds_Behind_Source</c>; null when the server reports NULL (a thread stopped).</param>
/// <param name="LastError">The last IO or SQL error text, or null.</param>
internal sealed record ReplicationChannelStatus(
    string? SourceHost,
    int? SourcePort,
    bool IoRunning,
    bool SqlRunning,
    double? LagSeconds,
    string? LastError);
