namespace OfflineTasks.Storage;

/// <summary>Every statement on the gate's tables (shard_state, the shard events of the event stream, leader). <c>{s}</c> stands for the schema.</summary>
internal static class GateSql
{
    // Takes a role, or renews it for its holder. Returns a row only to the holder; 'acquired' is true when the
    // role changed hands in this statement.
    public const string TryLead = """
        INSERT INTO {s}.leader AS l (role, holder, holder_name, expires_at) VALUES ($1, $2, $3, now() + $4)
        ON CONFLICT (role) DO UPDATE
            SET holder = EXCLUDED.holder, holder_name = EXCLUDED.holder_name, expires_at = EXCLUDED.expires_at,
                acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END
            WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
        RETURNING acquired_at = now() AS acquired
        """;

    public const string Resign = "DELETE FROM {s}.leader WHERE role = $1 AND holder = $2";

    public const string ReadStates = """
        SELECT shard, mode, reason, changed_at, signals::text, policy::text, updated_at, now() - updated_at
        FROM {s}.shard_state ORDER BY shard
        """;

    // Every leader's write (a probe round, a telemetry sample) renews its lease first, in the same transaction, and
    // commits only if that renewal found the role still its own: a leader paused past its lease must not overwrite
    // its successor's writes.
    public const string RenewForWrite = "UPDATE {s}.leader SET expires_at = now() + $3 WHERE role = $1 AND holder = $2 AND expires_at > now()";

    public const string WriteStates = """
        INSERT INTO {s}.shard_state AS st (shard, mode, reason, changed_at, signals, policy, updated_at)
        SELECT u.shard, u.mode, u.reason, u.changed_at, u.signals, u.policy, now()
        FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[], $8::jsonb[])
             AS u(shard, mode, reason, changed_at, signals, policy)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        ON CONFLICT (shard) DO UPDATE
            SET mode = EXCLUDED.mode, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at,
                signals = EXCLUDED.signals, policy = EXCLUDED.policy, updated_at = now()
        """;

    public const string InsertEvents = """
        INSERT INTO {s}.event (kind, shard, from_mode, to_mode, reason, text, fields)
        SELECT 'shard', u.shard, u.from_mode, u.to_mode, u.reason, u.text, u.fields
        FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[]) AS u(shard, from_mode, to_mode, reason, text, fields)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        """;

    // One notification per closing shard, sent only by the role's holder.
    public const string AnnounceClosing = """
        SELECT pg_notify($3, u.payload) FROM unnest($4::text[]) AS u(payload)
        WHERE EXISTS (SELECT 1 FROM {s}.leader WHERE role = $1 AND holder = $2 AND expires_at > now())
        """;

    public const string ReadEvents = """
        SELECT id, shard, at, from_mode, to_mode, reason FROM {s}.event
        WHERE kind = 'shard' AND ($1::text IS NULL OR shard = $1)
        ORDER BY id DESC
        LIMIT $2
        """;

    public const string AppendEvent = "INSERT INTO {s}.event (kind, shard, at, text, fields) VALUES ($1, $2, $3, $4, $5::jsonb)";

    // Newest first, before an id (paging back); the fields column holds the event's whole JSON body. A shard's events
    // include the reloads of the gate's settings, which set every shard's thresholds and hold time.
    public const string ReadStream = """
        SELECT id, at, kind, shard, text, fields::text FROM {s}.event
        WHERE ($1::text IS NULL OR shard = $1 OR (kind = 'config' AND fields ->> 'section' = 'gate')) AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC
        LIMIT $3
        """;
}
