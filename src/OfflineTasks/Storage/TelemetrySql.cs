namespace OfflineTasks.Storage;

/// <summary>The telemetry sampler's statements on OfflineTasks' own tables. <c>{s}</c> stands for the schema.</summary>
internal static class TelemetrySql
{
    // Run in one transaction: the gauges of a sample replace the previous sample's.
    public const string DeleteGauges = "DELETE FROM {s}.fleet_gauge WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())";

    public const string InsertGauges = """
        INSERT INTO {s}.fleet_gauge (metric, subject, state, value, sampled_at)
        SELECT u.metric, u.subject, u.state, u.value, $3
        FROM unnest($4::text[], $5::text[], $6::text[], $7::float8[]) AS u(metric, subject, state, value)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        """;

    public const string WriteAlerts = """
        WITH gone AS (
            DELETE FROM {s}.alert_state WHERE rule <> ALL($3::text[])
              AND EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        )
        INSERT INTO {s}.alert_state AS a (rule, status, since, fired_at, value, resolved_at, updated_at)
        SELECT u.rule, u.status, u.since, u.fired_at, u.value, u.resolved_at, now()
        FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::float8[], $8::timestamptz[]) AS u(rule, status, since, fired_at, value, resolved_at)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        ON CONFLICT (rule) DO UPDATE
            SET status = EXCLUDED.status, since = EXCLUDED.since, fired_at = EXCLUDED.fired_at, value = EXCLUDED.value,
                resolved_at = EXCLUDED.resolved_at, updated_at = now()
        """;

    public const string ReadGauges = "SELECT metric, subject, state, value, sampled_at FROM {s}.fleet_gauge";

    public const string ReadAlerts = "SELECT rule, status, since, fired_at, value, resolved_at FROM {s}.alert_state";

    // Each shard's row of history for this sample (mode, parked jobs, its masters' worst signals), after the gauges
    // of the same sample are written; and a day of history kept.
    public const string AppendHistory = """
        INSERT INTO {s}.shard_history (shard, at, mode, parked, threads_running, connections_ratio, lag_seconds)
        SELECT st.shard, $3, st.mode, COALESCE(g.value, 0),
               (SELECT max((m.v ->> 'threads_running')::float8) FROM jsonb_each(st.signals) AS m(k, v)),
               (SELECT max((m.v ->> 'connections_ratio')::float8) FROM jsonb_each(st.signals) AS m(k, v)),
               (SELECT max((m.v ->> 'lag_seconds')::float8) FROM jsonb_each(st.signals) AS m(k, v))
        FROM {s}.shard_state st
        LEFT JOIN {s}.fleet_gauge g ON g.metric = 'shard_parked' AND g.subject = st.shard AND g.state = ''
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        ON CONFLICT (shard, at) DO NOTHING
        """;

    public const string TrimHistory = """
        DELETE FROM {s}.shard_history WHERE at < $3::timestamptz - interval '1 day'
          AND EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        """;

    public const string ReadHistory = """
        SELECT at, mode, parked, threads_running, connections_ratio, lag_seconds FROM {s}.shard_history
        WHERE shard = $1 AND at >= $2 ORDER BY at
        """;
}
