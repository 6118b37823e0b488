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
        INSERT INTO {s}.alert_state AS a (rule, status, since, fired_at, value, updated_at)
        SELECT u.rule, u.status, u.since, u.fired_at, u.value, now()
        FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::float8[]) AS u(rule, status, since, fired_at, value)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        ON CONFLICT (rule) DO UPDATE
            SET status = EXCLUDED.status, since = EXCLUDED.since, fired_at = EXCLUDED.fired_at, value = EXCLUDED.value, updated_at = now()
        """;

    public const string ReadGauges = "SELECT metric, subject, state, value, sampled_at FROM {s}.fleet_gauge";

    public const string ReadAlerts = "SELECT rule, status, since, fired_at, value FROM {s}.alert_state";
}
