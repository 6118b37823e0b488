using OfflineTasks.Gate.MySql;

namespace OfflineTasks.Tests.Gate.MySql;

public sealed class MySqlStatusParserTests
{
    private const string Endpoint = "users-2a (10.0.3.21:3306)";

    // SHOW REPLICA STATUS\G of MySQL 8.0.28, a healthy GTID replica (the full 8.0.22+ column set).
    private const string MySql8Healthy = """
        *************************** 1. row ***************************
                     Replica_IO_State: Waiting for source to send event
                          Source_Host: 10.0.3.22
                          Source_User: repl
                          Source_Port: 3306
                        Connect_Retry: 60
                      Source_Log_File: binlog.000004
                  Read_Source_Log_Pos: 157
                       Relay_Log_File: users-2a-relay-bin.000002
                        Relay_Log_Pos: 367
                Relay_Source_Log_File: binlog.000004
                   Replica_IO_Running: Yes
                  Replica_SQL_Running: Yes
                      Replicate_Do_DB:
                  Replicate_Ignore_DB:
                   Replicate_Do_Table:
               Replicate_Ignore_Table:
              Replicate_Wild_Do_Table:
          Replicate_Wild_Ignore_Table:
                           Last_Errno: 0
                           Last_Error:
                         Skip_Counter: 0
                  Exec_Source_Log_Pos: 157
                      Relay_Log_Space: 578
                      Until_Condition: None
                       Until_Log_File:
                        Until_Log_Pos: 0
                   Source_SSL_Allowed: No
                   Source_SSL_CA_File:
                   Source_SSL_CA_Path:
                      Source_SSL_Cert:
                    Source_SSL_Cipher:
                       Source_SSL_Key:
                Seconds_Behind_Source: 0
        Source_SSL_Verify_Server_Cert: No
                        Last_IO_Errno: 0
                        Last_IO_Error:
                       Last_SQL_Errno: 0
                       Last_SQL_Error:
          Replicate_Ignore_Server_Ids:
                     Source_Server_Id: 8
                          Source_UUID: 72fb0803-1cb7-11ee-b488-000c29c51569
                     Source_Info_File: mysql.slave_master_info
                            SQL_Delay: 0
                  SQL_Remaining_Delay: NULL
            Replica_SQL_Running_State: Replica has read all relay log; waiting for more updates
                   Source_Retry_Count: 86400
                          Source_Bind:
              Last_IO_Error_Timestamp:
             Last_SQL_Error_Timestamp:
                       Source_SSL_Crl:
                   Source_SSL_Crlpath:
                   Retrieved_Gtid_Set: 72fb0803-1cb7-11ee-b488-000c29c51569:1-1180
                    Executed_Gtid_Set: 939a2d30-0a79-11ee-8276-000c295a81b1:1-2,
        72fb0803-1cb7-11ee-b488-000c29c51569:1-1180
                        Auto_Position: 1
                 Replicate_Rewrite_DB:
                         Channel_Name:
                   Source_TLS_Version:
               Source_public_key_path:
                Get_Source_public_key: 1
                    Network_Namespace:
        """;

    // The same replica of MySQL 8.0 after its source went away: the receiver retries, the applier waits.
    private const string MySql8Connecting = """
        *************************** 1. row ***************************
                     Replica_IO_State: Reconnecting after a failed source event read
                          Source_Host: 10.0.3.22
                          Source_User: repl
                          Source_Port: 3306
                        Connect_Retry: 60
                      Source_Log_File: binlog.000004
                  Read_Source_Log_Pos: 2371
                       Relay_Log_File: users-2a-relay-bin.000002
                        Relay_Log_Pos: 2581
                Relay_Source_Log_File: binlog.000004
                   Replica_IO_Running: Connecting
                  Replica_SQL_Running: Yes
                      Replicate_Do_DB:
                  Replicate_Ignore_DB:
                   Replicate_Do_Table:
               Replicate_Ignore_Table:
              Replicate_Wild_Do_Table:
          Replicate_Wild_Ignore_Table:
                           Last_Errno: 0
                           Last_Error:
                         Skip_Counter: 0
                  Exec_Source_Log_Pos: 2371
                      Relay_Log_Space: 2792
                      Until_Condition: None
                       Until_Log_File:
                        Until_Log_Pos: 0
                   Source_SSL_Allowed: No
                   Source_SSL_CA_File:
                   Source_SSL_CA_Path:
                      Source_SSL_Cert:
                    Source_SSL_Cipher:
                       Source_SSL_Key:
                Seconds_Behind_Source: NULL
        Source_SSL_Verify_Server_Cert: No
                        Last_IO_Errno: 2003
                        Last_IO_Error: error reconnecting to source 'repl@10.0.3.22:3306' - retry-time: 60 retries: 2 message: Can't connect to MySQL server on '10.0.3.22:3306' (111)
                       Last_SQL_Errno: 0
                       Last_SQL_Error:
          Replicate_Ignore_Server_Ids:
                     Source_Server_Id: 8
                          Source_UUID: 72fb0803-1cb7-11ee-b488-000c29c51569
                     Source_Info_File: mysql.slave_master_info
                            SQL_Delay: 0
                  SQL_Remaining_Delay: NULL
            Replica_SQL_Running_State: Replica has read all relay log; waiting for more updates
                   Source_Retry_Count: 86400
                          Source_Bind:
              Last_IO_Error_Timestamp: 231121 14:02:51
             Last_SQL_Error_Timestamp:
                       Source_SSL_Crl:
                   Source_SSL_Crlpath:
                   Retrieved_Gtid_Set: 72fb0803-1cb7-11ee-b488-000c29c51569:1-1187
                    Executed_Gtid_Set: 72fb0803-1cb7-11ee-b488-000c29c51569:1-1187
                        Auto_Position: 1
                 Replicate_Rewrite_DB:
                         Channel_Name:
                   Source_TLS_Version:
               Source_public_key_path:
                Get_Source_public_key: 1
                    Network_Namespace:
        """;

    // SHOW ALL SLAVES STATUS\G of MariaDB 10.11.19, master b of the local pair replicating from a.
    private const string MariaDbHealthy = """
        *************************** 1. row ***************************
                       Connection_name:
                       Slave_SQL_State: Slave has read all relay log; waiting for more updates
                        Slave_IO_State: Waiting for master to send event
                           Master_Host: 127.0.0.1
                           Master_User: repl
                           Master_Port: 54491
                         Connect_Retry: 1
                       Master_Log_File: binlog.000003
                   Read_Master_Log_Pos: 325
                        Relay_Log_File: relay-bin.000002
                         Relay_Log_Pos: 621
                 Relay_Master_Log_File: binlog.000003
                      Slave_IO_Running: Yes
                     Slave_SQL_Running: Yes
                       Replicate_Do_DB:
                   Replicate_Ignore_DB:
                    Replicate_Do_Table:
                Replicate_Ignore_Table:
               Replicate_Wild_Do_Table:
           Replicate_Wild_Ignore_Table:
                            Last_Errno: 0
                            Last_Error:
                          Skip_Counter: 0
                   Exec_Master_Log_Pos: 325
                       Relay_Log_Space: 924
                       Until_Condition: None
                        Until_Log_File:
                         Until_Log_Pos: 0
                    Master_SSL_Allowed: No
                    Master_SSL_CA_File:
                    Master_SSL_CA_Path:
                       Master_SSL_Cert:
                     Master_SSL_Cipher:
                        Master_SSL_Key:
                 Seconds_Behind_Master: 0
         Master_SSL_Verify_Server_Cert: No
                         Last_IO_Errno: 0
                         Last_IO_Error:
                        Last_SQL_Errno: 0
                        Last_SQL_Error:
           Replicate_Ignore_Server_Ids:
                      Master_Server_Id: 1
                        Master_SSL_Crl:
                    Master_SSL_Crlpath:
                            Using_Gtid: Slave_Pos
                           Gtid_IO_Pos:
               Replicate_Do_Domain_Ids:
           Replicate_Ignore_Domain_Ids:
                         Parallel_Mode: optimistic
                             SQL_Delay: 0
                   SQL_Remaining_Delay: NULL
               Slave_SQL_Running_State: Slave has read all relay log; waiting for more updates
                      Slave_DDL_Groups: 0
        Slave_Non_Transactional_Groups: 0
            Slave_Transactional_Groups: 0
                  Replicate_Rewrite_DB:
                  Retried_transactions: 0
                    Max_relay_log_size: 1073741824
                  Executed_log_entries: 8
             Slave_received_heartbeats: 49
                Slave_heartbeat_period: 5.000
                        Gtid_Slave_Pos:
        """;

    // The same MariaDB channel with its SQL thread stopped by a duplicate key (lag is NULL then).
    private const string MariaDbSqlStopped = """
        *************************** 1. row ***************************
                       Connection_name:
                       Slave_SQL_State:
                        Slave_IO_State: Waiting for master to send event
                           Master_Host: 127.0.0.1
                           Master_Port: 54491
                      Slave_IO_Running: Yes
                     Slave_SQL_Running: No
                            Last_Errno: 1062
                            Last_Error: Could not execute Write_rows_v1 event on table app.t; Duplicate entry '7' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log binlog.000003, end_log_pos 1021
                 Seconds_Behind_Master: NULL
                         Last_IO_Errno: 0
                         Last_IO_Error:
                        Last_SQL_Errno: 1062
                        Last_SQL_Error: Could not execute Write_rows_v1 event on table app.t; Duplicate entry '7' for key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's master log binlog.000003, end_log_pos 1021
                            Using_Gtid: Slave_Pos
        """;

    [Fact]
    public void Reads_the_MySQL_8_replica_status_columns()
    {
        var status = Parse(RecordedRows.Vertical(MySql8Healthy));

        var channel = Assert.Single(status.Replication);
        Assert.Equal(new ReplicationChannelStatus("10.0.3.22", 3306, IoRunning: true, SqlRunning: true, LagSeconds: 0, LastError: null), channel);
    }

    [Fact]
    public void Reads_the_MariaDB_slave_status_columns()
    {
        var status = Parse(RecordedRows.Vertical(MariaDbHealthy));

        var channel = Assert.Single(status.Replication);
        Assert.Equal(new ReplicationChannelStatus("127.0.0.1", 54491, IoRunning: true, SqlRunning: true, LagSeconds: 0, LastError: null), channel);
    }

    [Fact]
    public void An_IO_thread_that_is_still_connecting_counts_as_not_running_and_its_error_is_kept()
    {
        var channel = Assert.Single(Parse(RecordedRows.Vertical(MySql8Connecting)).Replication);

        Assert.False(channel.IoRunning);
        Assert.True(channel.SqlRunning);
        Assert.Null(channel.LagSeconds);
        Assert.StartsWith("error reconnecting to source 'repl@10.0.3.22:3306'", channel.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_NULL_lag_is_unknown_not_zero()
    {
        var channel = Assert.Single(Parse(RecordedRows.Vertical(MariaDbSqlStopped)).Replication);

        Assert.True(channel.IoRunning);
        Assert.False(channel.SqlRunning);
        Assert.Null(channel.LagSeconds);
        Assert.Contains("Duplicate entry '7'", channel.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public void Both_errors_are_kept_when_both_threads_failed()
    {
        var row = new MySqlRow(
            ("Slave_IO_Running", "No"), ("Slave_SQL_Running", "No"), ("Seconds_Behind_Master", null),
            ("Last_IO_Error", "Got fatal error 1236 from master"), ("Last_SQL_Error", "Duplicate entry"));

        var channel = Assert.Single(Parse([row]).Replication);

        Assert.Equal("Got fatal error 1236 from master; Duplicate entry", channel.LastError);
    }

    [Fact]
    public void A_lagging_channel_reports_its_lag_in_seconds()
    {
        var row = new MySqlRow(("Replica_IO_Running", "Yes"), ("Replica_SQL_Running", "Yes"), ("Seconds_Behind_Source", "42"), ("Source_Host", "db"), ("Source_Port", "3306"));

        Assert.Equal(42, Assert.Single(Parse([row]).Replication).LagSeconds);
    }

    [Fact]
    public void Every_channel_of_a_multi_source_replica_is_listed()
    {
        var rows = RecordedRows.Vertical(MySql8Healthy).Concat(RecordedRows.Vertical(MySql8Connecting)).ToList();

        var status = Parse(rows);

        Assert.Equal([true, false], status.Replication.Select(c => c.IoRunning));
    }

    [Fact]
    public void A_server_that_replicates_from_nobody_has_no_channels()
    {
        var status = MySqlStatusParser.Parse(Endpoint, RecordedRows.Status(12, 3, "151", "0"), []);

        Assert.Empty(status.Replication);
        Assert.Equal(new MySqlServerStatus(11, 2, 151, false, status.Replication), status);
    }

    [Theory]
    [InlineData(1, 1, 0, 0)]
    [InlineData(0, 0, 0, 0)]
    [InlineData(250, 17, 249, 16)]
    public void The_probes_own_connection_and_statement_are_not_counted(long connected, long running, long expectedConnected, long expectedRunning)
    {
        var status = MySqlStatusParser.Parse(Endpoint, RecordedRows.Status(connected, running, "100", "OFF"), []);

        Assert.Equal(expectedConnected, status.ThreadsConnected);
        Assert.Equal(expectedRunning, status.ThreadsRunning);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData("OFF", false)]
    public void Reads_read_only_as_a_number_or_a_word(string value, bool expected)
    {
        var status = MySqlStatusParser.Parse(Endpoint, RecordedRows.Status(5, 2, "100", value), []);

        Assert.Equal(expected, status.ReadOnly);
    }

    [Fact]
    public void Reads_the_status_names_in_any_case()
    {
        var rows = new[]
        {
            new MySqlRow(("Variable_name", "Threads_connected"), ("Value", "5")),
            new MySqlRow(("Variable_name", "Threads_running"), ("Value", "2")),
            new MySqlRow(("Variable_name", "MAX_CONNECTIONS"), ("Value", "2000")),
            new MySqlRow(("Variable_name", "read_only"), ("Value", "1")),
        };

        var status = MySqlStatusParser.Parse(Endpoint, rows, []);

        Assert.Equal(2000, status.MaxConnections);
        Assert.True(status.ReadOnly);
    }

    [Fact]
    public void A_missing_Threads_connected_is_an_unreadable_answer_that_names_it()
    {
        var withoutConnected = RecordedRows.Status(5, 3).Skip(1).ToList();

        var e = Assert.Throws<MySqlStatusException>(() => MySqlStatusParser.Parse(Endpoint, withoutConnected, []));

        Assert.Equal(MySqlStatusFailure.Unreadable, e.Failure);
        Assert.Equal(Endpoint, e.Endpoint);
        Assert.Contains("Threads_connected", e.Message, StringComparison.Ordinal);
        Assert.StartsWith(Endpoint, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_that_is_not_a_number_is_an_unreadable_answer_that_names_it()
    {
        var e = Assert.Throws<MySqlStatusException>(() =>
            MySqlStatusParser.Parse(Endpoint, RecordedRows.Status(5, 2, "lots", "0"), []));

        Assert.Equal(MySqlStatusFailure.Unreadable, e.Failure);
        Assert.Contains("max_connections is 'lots'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_replication_row_without_thread_states_is_an_unreadable_answer_that_names_both_forms()
    {
        var row = new MySqlRow(("Master_Host", "db"), ("Seconds_Behind_Master", "0"));

        var e = Assert.Throws<MySqlStatusException>(() => Parse([row]));

        Assert.Equal(MySqlStatusFailure.Unreadable, e.Failure);
        Assert.Contains("Slave_IO_Running or Replica_IO_Running", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Column_names_are_matched_whatever_their_case()
    {
        var row = new MySqlRow(("SLAVE_IO_RUNNING", "yes"), ("slave_sql_running", "Yes"), ("seconds_behind_master", "3"));

        var channel = Assert.Single(Parse([row]).Replication);

        Assert.True(channel.IoRunning);
        Assert.Equal(3, channel.LagSeconds);
        Assert.Null(channel.SourceHost);
        Assert.Null(channel.SourcePort);
    }

    private static MySqlServerStatus Parse(IReadOnlyList<MySqlRow> replication) =>
        MySqlStatusParser.Parse(Endpoint, RecordedRows.Status(8, 2, "100", "0"), replication);
}
