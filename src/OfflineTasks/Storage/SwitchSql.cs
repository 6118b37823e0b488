namespace OfflineTasks.Storage;

/// <summary>Every statement on the operators' switches (shard_switch, switch_audit). <c>{s}</c> stands for the schema.</summary>
internal static class SwitchSql
{
    // $1 shard, $2 mode, $3 reason, $4 actor, $5 at, $6 until, $7 audit action.
    public const string Set = """
        WITH s AS (
            INSERT INTO {s}.shard_switch AS w (shard, mode, reason, actor, set_at, until) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (shard) DO UPDATE
                SET mode = EXCLUDED.mode, reason = EXCLUDED.reason, actor = EXCLUDED.actor, set_at = EXCLUDED.set_at, until = EXCLUDED.until
            RETURNING w.shard)
        INSERT INTO {s}.switch_audit (at, shard, action, actor, reason, until) SELECT $5, shard, $7, $4, $3, $6 FROM s
        """;

    // $1 shard, $2 at, $3 actor, $4 reason.
    public const string Clear = """
        WITH d AS (DELETE FROM {s}.shard_switch WHERE shard = $1 RETURNING shard)
        INSERT INTO {s}.switch_audit (at, shard, action, actor, reason) SELECT $2, shard, 'cleared', $3, $4 FROM d
        """;

    // $1 now: switches whose time is up go, each leaving an 'expired' entry.
    public const string Expire = """
        WITH d AS (DELETE FROM {s}.shard_switch WHERE until IS NOT NULL AND until <= $1 RETURNING shard, reason)
        INSERT INTO {s}.switch_audit (at, shard, action, actor, reason) SELECT $1, shard, 'expired', 'offlinetasks', reason FROM d
        """;

    public const string Read = "SELECT shard, mode, reason, actor, set_at, until FROM {s}.shard_switch ORDER BY shard";

    public const string ReadAudit = """
        SELECT id, at, shard, action, actor, reason, until FROM {s}.switch_audit
        WHERE $1::text IS NULL OR shard = $1
        ORDER BY id DESC
        LIMIT $2
        """;
}
