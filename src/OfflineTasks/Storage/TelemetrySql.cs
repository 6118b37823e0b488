namespace OfflineTasks.Storage;

/// <summary>The telemetry sampler's statements. <c>{s}</c> stands for the schema.</summary>
internal static class TelemetrySql
{
    // One sample: every count is an index-only scan of a partial index (job_claim_idx, job_scheduled_idx,
    // job_processing_idx, job_failed_idx, job_shard_available_idx, job_deferred_idx), so its cost grows with the jobs waiting or running,
    // not with the finished jobs that make up most of the table.
    public const string SampleAvailable = "SELECT queue, count(*), min(scheduled_at) FROM {s}.job WHERE state = 'available' GROUP BY queue";

    public const string SampleScheduled = "SELECT queue, count(*) FROM {s}.job WHERE state = 'scheduled' GROUP BY queue";

    public const string SampleProcessing = "SELECT queue, count(*) FROM {s}.job WHERE state = 'processing' GROUP BY queue";

    public const string SampleFailed = "SELECT queue, count(*) FROM {s}.job WHERE state = 'failed' GROUP BY queue";

    // Parked jobs: available jobs of the shards that are not open ($1), and jobs deferred by the gate.
    public const string SampleParked = """
        SELECT shard_key, count(*), 0::bigint FROM {s}.job WHERE state = 'available' AND shard_key = ANY($1::text[]) GROUP BY shard_key
        UNION ALL
        SELECT shard_key, 0::bigint, count(*) FROM {s}.job WHERE state = 'scheduled' AND deferred_since IS NOT NULL GROUP BY shard_key
        """;

    public const string Now = "SELECT now()";

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
