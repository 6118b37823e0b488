using System.Diagnostics;
using Npgsql;
using OfflineTasks.Jobs;
using OfflineTasks.Storage;

namespace OfflineTasks.Benchmarks;

/// <summary>
/// A job table as a busy fleet leaves it: mostly finished jobs, and a tenth waiting or running. Loaded with one
/// set-based <c>INSERT … SELECT generate_series</c> (it is a fixture, not the code under test). For 1,000,000 jobs:
/// <list type="bullet">
/// <item>ids 1–900,000 (the oldest): succeeded;</item>
/// <item>the newest 100,000, interleaved by <c>(id - 900,000) % 100</c>: 60 % available (due), 10 % scheduled after a
/// gate deferral (<c>deferred_since</c> set, always with a shard key), 10 % scheduled for later, 10 % scheduled for a
/// retry (with <c>last_error</c>), 3 % processing, 7 % failed;</item>
/// <item>queues by a hash of the id: default 50 %, emails 25 %, reports 15 %, imports 10 %; 10 % have priority 10;</item>
/// <item>shard keys by another hash: users-1, users-2, orders-1, orders-2 on 40 % of the jobs (every deferred one);</item>
/// <item>created_at 0.5 s apart, the newest now (1,000,000 jobs span ~5.8 days).</item>
/// </list>
/// </summary>
internal static class QueueFixture
{
    public static readonly string[] Queues = ["default", "emails", "reports", "imports"];

    public static readonly string[] Shards = ["users-1", "users-2", "orders-1", "orders-2"];

    // $1 = jobs. b is the job's bucket among the newest tenth (-1 for the older, finished ones).
    private const string Insert = """
        INSERT INTO {s}.job (id, state, queue, priority, shard_key, type, method, parameter_types, args, attempt, max_attempts,
                             defer_count, created_at, scheduled_at, attempted_at, finalized_at, server_id, last_error, history,
                             light, deferred_since)
        SELECT g, k.state::{s}.job_state, k.queue, k.priority, k.shard_key,
               CASE k.queue WHEN 'default' THEN 'Shop.Jobs.RecalculateCart, Shop.Jobs' WHEN 'emails' THEN 'Shop.Jobs.SendOrderEmail, Shop.Jobs'
                            WHEN 'reports' THEN 'Shop.Reports.DailySalesReport, Shop.Reports' ELSE 'Shop.Imports.ImportSupplierFeed, Shop.Imports' END,
               'RunAsync', '["System.Int64","System.String"]'::jsonb, jsonb_build_array(g, 'order-' || g),
               k.attempt, 10, k.defer_count, k.created_at,
               CASE WHEN k.deferred THEN now() + make_interval(secs => g % 300 + 1)
                    WHEN k.state = 'scheduled' THEN now() + make_interval(secs => g % 3600 + 1)
                    ELSE k.created_at END,
               CASE k.state WHEN 'succeeded' THEN k.created_at + interval '50 ms'
                            WHEN 'processing' THEN now() - make_interval(secs => g % 120)
                            WHEN 'failed' THEN k.created_at + interval '1 hour'
                            ELSE CASE WHEN k.retry THEN k.created_at + interval '1 minute' END END,
               CASE k.state WHEN 'succeeded' THEN k.created_at + interval '80 ms' WHEN 'failed' THEN k.created_at + interval '1 hour 1 second' END,
               CASE WHEN k.state IN ('succeeded', 'processing', 'failed') OR k.retry
                    THEN ('00000000-0000-4000-8000-00000000000' || (g % 4 + 1))::uuid END,
               CASE WHEN k.state = 'failed' OR k.retry
                    THEN jsonb_build_object('Attempt', k.attempt, 'ExceptionType', 'System.TimeoutException', 'Message', 'The operation has timed out.',
                                            'StackTrace', '   at Shop.Jobs.Http.SupplierClient.GetAsync(String path)' || chr(10) || '   at Shop.Jobs.RunAsync(Int64 id, String key)') END,
               CASE WHEN k.state = 'failed' OR k.retry
                    THEN jsonb_build_array(jsonb_build_object('at', k.created_at + interval '1 minute', 'from', 'processing', 'to', 'scheduled',
                                                              'reason', 'attempt 1 failed: System.TimeoutException, retry in 00:00:15'))
                    ELSE '[]'::jsonb END,
               k.queue = 'emails',
               CASE WHEN k.deferred THEN now() - make_interval(secs => g % 900 + 1) END
        FROM generate_series(1, $1::int) AS g
        CROSS JOIN LATERAL (SELECT CASE WHEN g <= $1::int - $1::int / 10 THEN -1 ELSE (g - ($1::int - $1::int / 10)) % 100 END AS b,
                                   abs(hashint4(g)::bigint) % 20 AS q, abs(hashint4(-g)::bigint) % 10 AS h) AS r
        CROSS JOIN LATERAL (SELECT r.b BETWEEN 60 AND 69 AS deferred, r.b BETWEEN 80 AND 89 AS retry) AS d
        CROSS JOIN LATERAL (
            SELECT CASE WHEN r.b < 0 THEN 'succeeded' WHEN r.b < 60 THEN 'available' WHEN r.b < 90 THEN 'scheduled'
                        WHEN r.b < 93 THEN 'processing' ELSE 'failed' END AS state,
                   CASE WHEN r.q < 10 THEN 'default' WHEN r.q < 15 THEN 'emails' WHEN r.q < 18 THEN 'reports' ELSE 'imports' END AS queue,
                   CASE WHEN abs(hashint4(g + 12345)::bigint) % 10 = 0 THEN 10 ELSE 0 END AS priority,
                   CASE WHEN d.deferred THEN (ARRAY['users-1', 'users-2', 'orders-1', 'orders-2'])[r.h % 4 + 1]
                        WHEN r.h >= 6 THEN (ARRAY['users-1', 'users-2', 'orders-1', 'orders-2'])[r.h - 5] END AS shard_key,
                   CASE WHEN r.b < 0 OR r.b BETWEEN 90 AND 92 THEN 1 WHEN r.b >= 93 THEN 10 WHEN d.retry THEN 1 + g % 3 ELSE 0 END AS attempt,
                   CASE WHEN d.deferred THEN 1 + g % 4 ELSE 0 END AS defer_count,
                   now() - make_interval(secs => ($1::int - g) * 0.5) AS created_at,
                   d.deferred, d.retry) AS k
        """;

    /// <summary>
    /// Loads <paramref name="jobs"/> jobs into the empty job table of <paramref name="schema"/> and ANALYZEs it, with
    /// autovacuum off on the table (so that nothing sets the visibility map behind the benchmark's back; turn it on
    /// again with <see cref="EnableAutovacuumAsync"/>).
    /// </summary>
    public static async Task LoadAsync(PostgresJobStorage storage, string schema, int jobs)
    {
        var clock = Stopwatch.StartNew();
        await Bench.ExecuteAsync(storage.DataSource, $"ALTER TABLE {schema}.job SET (autovacuum_enabled = false)");
        await using (var command = storage.DataSource.CreateCommand(Insert.Replace("{s}", schema, StringComparison.Ordinal)))
        {
            command.CommandTimeout = 0;
            command.Parameters.Add(new NpgsqlParameter { Value = jobs });
            await command.ExecuteNonQueryAsync();
        }

        var inserted = clock.Elapsed;
        await Bench.ExecuteAsync(storage.DataSource, $"ANALYZE {schema}.job");
        var counts = await storage.CountByStateAsync();
        Bench.Log($"fixture: {jobs} jobs inserted in {inserted.TotalSeconds:0.0} s, analyzed in {(clock.Elapsed - inserted).TotalSeconds:0.0} s: " +
            string.Join(", ", counts.Where(c => c.Value > 0).Select(c => $"{c.Key.ToString().ToLowerInvariant()} {c.Value}")));
        foreach (var (state, expected) in Expected(jobs))
        {
            if (counts[state] != expected)
            {
                throw new InvalidOperationException($"the fixture has {counts[state]} {state} jobs, not {expected}.");
            }
        }

        await LogSizesAsync(storage.DataSource, schema);
    }

    public static Task EnableAutovacuumAsync(PostgresJobStorage storage, string schema) =>
        Bench.ExecuteAsync(storage.DataSource, $"ALTER TABLE {schema}.job RESET (autovacuum_enabled)");

    /// <summary>Logs the job table's and its indexes' sizes.</summary>
    public static async Task LogSizesAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT c.relname, pg_relation_size(c.oid), coalesce(s.n_live_tup, 0)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE n.nspname = '{schema}' AND (c.relname = 'job' OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = '{schema}.job'::regclass))
            ORDER BY c.relkind DESC, c.relname
            """);
        await using var reader = await command.ExecuteReaderAsync();
        var parts = new List<string>();
        while (await reader.ReadAsync())
        {
            parts.Add($"{reader.GetString(0)} {reader.GetInt64(1) / 1024.0 / 1024.0:0.0} MB");
        }

        Bench.Log("fixture sizes: " + string.Join(", ", parts));
    }

    /// <summary>What the fixture's counts per state should be (for a check after loading).</summary>
    public static IReadOnlyDictionary<JobState, long> Expected(int jobs)
    {
        var waiting = jobs / 10;
        long Share(int from, int to) => Enumerable.Range(1, waiting).LongCount(k => k % 100 >= from && k % 100 < to);
        return new Dictionary<JobState, long>
        {
            [JobState.Succeeded] = jobs - waiting,
            [JobState.Available] = Share(0, 60),
            [JobState.Scheduled] = Share(60, 90),
            [JobState.Processing] = Share(90, 93),
            [JobState.Failed] = Share(93, 100),
        };
    }
}
