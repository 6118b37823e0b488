namespace OfflineTasks.Storage;

/// <summary>
/// Every statement on the job tables, one named query each. <c>{s}</c> stands for the schema and is replaced
/// once per storage instance (the schema name is validated, so this is not an injection path).
/// </summary>
internal static class JobSql
{
    // Jobs due now get no history entry: their creation is derived from created_at when read.
    public const string Insert = """
        INSERT INTO {s}.job (state, queue, priority, shard_key, light, type, method, parameter_types, args, max_attempts, scheduled_at, history)
        SELECT t.state::{s}.job_state, t.queue, t.priority, t.shard_key, t.light, t.type, t.method, t.parameter_types, t.args, t.max_attempts, t.scheduled_at,
               CASE WHEN t.state = 'scheduled'
                    THEN {s}.history_append('[]', now(), NULL, 'scheduled', 'enqueued, due at ' || t.scheduled_at)
                    ELSE '[]' END
        FROM (
            SELECT CASE WHEN u.run_at > now() THEN 'scheduled' ELSE 'available' END AS state,
                   coalesce(u.run_at, now()) AS scheduled_at, u.*
            FROM unnest($1::text[], $2::smallint[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::int[], $9::timestamptz[], $10::boolean[])
                 AS u(queue, priority, shard_key, type, method, parameter_types, args, max_attempts, run_at, light)
        ) t
        RETURNING id
        """;

    // Bulk enqueue of jobs due now: take ids, then COPY the rows (state, times and history take their defaults).
    public const string NextIds = "SELECT nextval('{s}.job_id_seq') FROM generate_series(1, $1)";

    public const string CopyIn = "COPY {s}.job (id, queue, priority, shard_key, light, type, method, parameter_types, args, max_attempts) FROM STDIN (FORMAT BINARY)";

    public const string Notify = "SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q";

    // Claim: one statement for up to $2 jobs of one queue, by priority (higher first) then time, skipping rows other
    // servers hold and jobs whose shard the gate has closed ($4), or has left open for light jobs only ($5).
    // {after} is empty for a scan from the head of the queue, or a row comparison that starts the index scan just
    // after the fetch loop's cursor: the index entries of jobs claimed before stay in job_claim_idx until vacuum,
    // and while any transaction holds back the xmin horizon they cannot even be marked dead, so a scan from the
    // head would visit every one of them on every claim. {capped} limits how many jobs of a reopening shard one
    // claim takes (the ramp); the candidates over a shard's cap stay available (their row locks end with the claim).
    private const string ClaimTemplate = """
        WITH candidate AS (
            SELECT id, shard_key, (-priority::integer) AS negated_priority, scheduled_at FROM {s}.job
            WHERE state = 'available' AND queue = $1 {after}
              AND (shard_key IS NULL OR (shard_key <> ALL($4::text[]) AND (light OR shard_key <> ALL($5::text[]))))
              AND EXISTS (SELECT 1 FROM {s}.server WHERE id = $3) -- a server whose lease was taken claims nothing until it re-registers
            ORDER BY (-priority::integer), scheduled_at, id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), picked AS (
            {picked}
        )
        UPDATE {s}.job j
        SET state = 'processing', attempt = j.attempt + 1, attempted_at = now(), server_id = $3
        FROM picked
        WHERE j.id = picked.id
        RETURNING j.id, j.queue, j.shard_key, j.type, j.method, j.parameter_types::text, j.args::text, j.attempt, j.max_attempts, j.defer_count,
                  (-j.priority::integer), j.scheduled_at, j.light, j.deferred_since
        """;

    private const string Uncapped = "SELECT id FROM candidate";

    private const string Capped = """
        SELECT c.id
            FROM (SELECT id, shard_key, row_number() OVER (PARTITION BY shard_key ORDER BY negated_priority, scheduled_at, id) AS rank FROM candidate) c
            LEFT JOIN unnest(${cap_shards}::text[], ${cap_limits}::integer[]) AS cap(shard, jobs) ON cap.shard = c.shard_key
            WHERE cap.jobs IS NULL OR c.rank <= cap.jobs
        """;

    /// <summary>The claim statement: from the head or after a cursor ($6..$8), with or without per-shard caps (after them).</summary>
    public static string Claim(bool afterCursor, bool capped)
    {
        var sql = ClaimTemplate
            .Replace("{after}", afterCursor ? "AND ((-priority::integer), scheduled_at, id) > ($6, $7, $8)" : "", StringComparison.Ordinal)
            .Replace("{picked}", capped ? Capped : Uncapped, StringComparison.Ordinal);
        var next = afterCursor ? 9 : 6;
        return sql
            .Replace("{cap_shards}", (next).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{cap_limits}", (next + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    // Completion batch: every outcome of one server in one statement. Only rows this server still holds are
    // written: if its lease expired and the job was rescued, the rescued run owns the job now.
    public const string Complete = """
        UPDATE {s}.job j
        SET state = u.state::{s}.job_state,
            scheduled_at = CASE WHEN u.delay IS NULL THEN j.scheduled_at ELSE now() + u.delay END,
            finalized_at = CASE WHEN u.state IN ('succeeded', 'failed') THEN now() END,
            attempt = j.attempt - u.refund,
            defer_count = j.defer_count + u.deferred,
            deferred_since = CASE WHEN u.deferred = 1 THEN coalesce(j.deferred_since, now()) END,
            last_error = coalesce(u.error, j.last_error),
            history = CASE WHEN u.state = 'succeeded' THEN j.history
                           ELSE {s}.history_append_attempt(j.history, j.attempted_at, j.attempt, j.server_id, u.state, u.reason) END
        FROM unnest($1::bigint[], $2::text[], $3::interval[], $4::int[], $5::int[], $6::jsonb[], $7::text[])
             AS u(id, state, delay, refund, deferred, error, reason)
        WHERE j.id = u.id AND j.state = 'processing' AND j.server_id = $8
        """;

    public const string RegisterServer = """
        INSERT INTO {s}.server (id, name, queues, slots, lease_expires_at) VALUES ($1, $2, $3, $4, now() + $5)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), lease_expires_at = now() + $5
        """;

    public const string Heartbeat = "UPDATE {s}.server SET heartbeat_at = now(), lease_expires_at = now() + $2 WHERE id = $1";

    // Hand back whatever the server still holds (called last at shutdown), then forget the server.
    public const string UnregisterServer = """
        WITH released AS (
            UPDATE {s}.job j
            SET state = 'available', attempt = greatest(j.attempt - 1, 0),
                history = {s}.history_append_attempt(j.history, j.attempted_at, j.attempt, j.server_id, 'available',
                    'handed back: worker server ' || $2 || ' stopped')
            WHERE j.state = 'processing' AND j.server_id = $1
            RETURNING j.id
        )
        DELETE FROM {s}.server WHERE id = $1
        """;

    // Rescue: forget servers whose lease expired, then release every job no live server holds. A job with no
    // attempt left fails instead, so a job that kills its worker every time cannot loop forever.
    public const string Rescue = """
        WITH dead AS (
            DELETE FROM {s}.server WHERE lease_expires_at < now() RETURNING id
        ), orphans AS (
            SELECT j.id FROM {s}.job j
            WHERE j.state = 'processing'
              AND NOT EXISTS (SELECT 1 FROM {s}.server s WHERE s.id = j.server_id AND s.id NOT IN (SELECT id FROM dead))
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {s}.job j
        SET state = CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'available' END::{s}.job_state,
            finalized_at = CASE WHEN j.attempt >= j.max_attempts THEN now() END,
            history = {s}.history_append_attempt(j.history, j.attempted_at, j.attempt, j.server_id,
                CASE WHEN j.attempt >= j.max_attempts THEN 'failed' ELSE 'available' END,
                'lease expired: worker server ' || coalesce(j.server_id::text, '?') || ' stopped heartbeating'
                    || CASE WHEN j.attempt >= j.max_attempts THEN ' and no attempt is left' ELSE '' END)
        FROM orphans
        WHERE j.id = orphans.id
        RETURNING j.queue, j.state::text
        """;

    public const string Promote = """
        WITH due AS (
            SELECT id FROM {s}.job
            WHERE state = 'scheduled' AND scheduled_at <= now()
            ORDER BY scheduled_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {s}.job j
        SET state = 'available', history = {s}.history_append(j.history, now(), 'scheduled', 'available', NULL)
        FROM due
        WHERE j.id = due.id
        RETURNING j.queue
        """;

    public const string Prune = """
        DELETE FROM {s}.job
        WHERE id IN (
            SELECT id FROM {s}.job
            WHERE state IN ('succeeded', 'deleted') AND finalized_at < now() - $1
            ORDER BY finalized_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        """;

    public const string Delete = """
        UPDATE {s}.job j
        SET state = 'deleted', finalized_at = now(), history = {s}.history_append(j.history, now(), j.state::text, 'deleted', $2)
        WHERE j.id = $1 AND j.state IN ('scheduled', 'available', 'failed')
        """;

    public const string Get = """
        SELECT id, state::text, queue, priority, shard_key, type, method, args::text, attempt, max_attempts, defer_count,
               created_at, scheduled_at, attempted_at, finalized_at, last_error::text, history::text, server_id
        FROM {s}.job WHERE id = $1
        """;

    public const string CountByState = "SELECT state::text, count(*) FROM {s}.job GROUP BY state";
}
