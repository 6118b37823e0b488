namespace OfflineTasks.Gate.MySql;

/// <summary>The statements of one status read; each needs at most PROCESS and REPLICATION CLIENT / SLAVE MONITOR.</summary>
internal static class MySqlStatusQueries
{
    public const string GlobalStatus = "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Threads_running')";

    public const string Variables = "SELECT @@GLOBAL.max_connections AS max_connections, @@GLOBAL.read_only AS read_only";

    /// <summary>
    /// Ways to list replication channels, tried in this order until one parses; a client remembers the one that
    /// worked. MariaDB 10.0+ lists every named connection of multi-source replication with <c>SHOW ALL SLAVES
    /// STATUS</c> (its <c>SHOW REPLICA STATUS</c> shows only the default one); MySQL 8.0.22+ knows <c>SHOW REPLICA
    /// STATUS</c> (<c>Replica_*</c>/<c>Source_*</c> columns, every channel; 8.4 dropped <c>SHOW SLAVE STATUS</c>);
    /// older MySQL only <c>SHOW SLAVE STATUS</c>. A server that does not know a form answers ER_PARSE_ERROR
    /// (<c>MySqlErrorCode.ParseError</c>).
    /// </summary>
    public static IReadOnlyList<string> ReplicationStatus { get; } = ["SHOW ALL SLAVES STATUS", "SHOW REPLICA STATUS", "SHOW SLAVE STATUS"];
}
