namespace OfflineTasks.Gate.MySql;

/// <summary>
/// The two statements of one status read, sent together in one round trip once the client knows which form the
/// server answers. Each needs at most PROCESS and REPLICATION CLIENT (MariaDB: SLAVE MONITOR).
/// </summary>
internal static class MySqlStatusQueries
{
    /// <summary>
    /// Ways to read <c>Threads_connected</c>, <c>Threads_running</c>, <c>max_connections</c> and <c>read_only</c> in
    /// one statement, as <c>Variable_name</c>/<c>Value</c> rows, tried in this order until one works; a client
    /// remembers the one that worked. MariaDB and MySQL 5.6 keep the status variables in
    /// <c>information_schema.GLOBAL_STATUS</c>; MySQL 5.7+ in <c>performance_schema.global_status</c> (8.0 removed
    /// the other; 5.7 answers it with error 3167 unless <c>show_compatibility_56</c> is on).
    /// </summary>
    public static IReadOnlyList<string> Status { get; } =
    [
        Variables("information_schema.GLOBAL_STATUS"),
        Variables("performance_schema.global_status"),
    ];

    /// <summary>
    /// Ways to list replication channels, tried in this order until one parses; a client remembers the one that
    /// worked. MariaDB 10.0+ lists every named connection of multi-source replication with <c>SHOW ALL SLAVES
    /// STATUS</c> (its <c>SHOW REPLICA STATUS</c> shows only the default one); MySQL 8.0.22+ knows <c>SHOW REPLICA
    /// STATUS</c> (<c>Replica_*</c>/<c>Source_*</c> columns, every channel; 8.4 dropped <c>SHOW SLAVE STATUS</c>);
    /// older MySQL only <c>SHOW SLAVE STATUS</c>. A server that does not know a form answers ER_PARSE_ERROR
    /// (<c>MySqlErrorCode.ParseError</c>).
    /// </summary>
    public static IReadOnlyList<string> ReplicationStatus { get; } = ["SHOW ALL SLAVES STATUS", "SHOW REPLICA STATUS", "SHOW SLAVE STATUS"];

    private static string Variables(string table) =>
        $"SELECT VARIABLE_NAME AS Variable_name, VARIABLE_VALUE AS Value FROM {table} WHERE VARIABLE_NAME IN ('Threads_connected', 'Threads_running') " +
        "UNION ALL SELECT 'max_connections', @@GLOBAL.max_connections UNION ALL SELECT 'read_only', @@GLOBAL.read_only";
}
