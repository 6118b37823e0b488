using Npgsql;

namespace OfflineTasks.Benchmarks;

/// <summary>
/// A large Hangfire storage, loaded with SQL in a few statements (not one enqueue at a time): <c>--jobs</c> jobs, of
/// which 90 % succeeded, 6 % enqueued (two thirds in <c>default</c>, a third in <c>critical</c>, each with its
/// Enqueued state), 2 % scheduled, 0.5 % processing, 0.5 % failed and 1 % parked on shard <c>bench-1</c> (a tenth of
/// those light). The first enqueued jobs are the oldest (~14 h). What a long-running fleet's storage looks like
/// before the expiration manager has caught up.
/// </summary>
internal static class HangfireFixture
{
    public static readonly string[] Queues = ["critical", "default"];

    public static async Task LoadAsync(NpgsqlDataSource dataSource, string schema, int jobs)
    {
        var enqueued = jobs * 6 / 100;
        var scheduled = jobs * 2 / 100;
        var processing = jobs / 200;
        var failed = jobs / 200;
        var parked = jobs / 100;
        var succeeded = jobs - enqueued - scheduled - processing - failed - parked;
        var s = "\"" + schema + "\"";
        var invocation = """'{"Type":"OfflineTasks.Benchmarks.NoopJob, OfflineTasks.Benchmarks","Method":"Run","ParameterTypes":"[\"System.Int32\"]","Arguments":null}'::jsonb""";

        // One statement per kind: the job rows, then the rows that index them (queue, sets, states).
        await Bench.ExecuteAsync(dataSource, $"""
            INSERT INTO {s}.job (statename, invocationdata, arguments, createdat, expireat)
            SELECT 'Succeeded', {invocation}, '[1]'::jsonb, now() at time zone 'utc' - interval '1 day' + g * interval '50 ms', now() at time zone 'utc' + interval '1 day'
            FROM generate_series(1, {succeeded}) g;

            WITH j AS (
                INSERT INTO {s}.job (statename, invocationdata, arguments, createdat)
                SELECT 'Enqueued', {invocation}, '[1]'::jsonb, now() at time zone 'utc' - interval '14 hours' + g * interval '500 ms'
                FROM generate_series(1, {enqueued}) g
                RETURNING id, createdat)
            INSERT INTO {s}.jobqueue (jobid, queue)
            SELECT id, CASE WHEN id % 3 = 0 THEN 'critical' ELSE 'default' END FROM j;

            INSERT INTO {s}.state (jobid, name, reason, createdat, data)
            SELECT j.id, 'Enqueued', NULL, j.createdat, jsonb_build_object('Queue', q.queue, 'EnqueuedAt', to_char(j.createdat, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            FROM {s}.job j JOIN {s}.jobqueue q ON q.jobid = j.id WHERE j.statename = 'Enqueued';
            UPDATE {s}.job j SET stateid = st.id FROM {s}.state st WHERE st.jobid = j.id AND j.statename = 'Enqueued';

            WITH j AS (
                INSERT INTO {s}.job (statename, invocationdata, arguments, createdat)
                SELECT 'Scheduled', {invocation}, '[1]'::jsonb, now() at time zone 'utc' FROM generate_series(1, {scheduled}) g
                RETURNING id)
            INSERT INTO {s}.set (key, value, score) SELECT 'schedule', id::text, extract(epoch FROM now()) + 3600 FROM j;

            WITH j AS (
                INSERT INTO {s}.job (statename, invocationdata, arguments, createdat)
                SELECT 'Processing', {invocation}, '[1]'::jsonb, now() at time zone 'utc' FROM generate_series(1, {processing}) g
                RETURNING id)
            INSERT INTO {s}.jobqueue (jobid, queue, fetchedat) SELECT id, 'default', now() at time zone 'utc' FROM j;

            INSERT INTO {s}.job (statename, invocationdata, arguments, createdat)
            SELECT 'Failed', {invocation}, '[1]'::jsonb, now() at time zone 'utc' FROM generate_series(1, {failed}) g;

            WITH j AS (
                INSERT INTO {s}.job (statename, invocationdata, arguments, createdat)
                SELECT 'Parked', {invocation}, '[1]'::jsonb, now() at time zone 'utc' FROM generate_series(1, {parked}) g
                RETURNING id)
            INSERT INTO {s}.set (key, value, score)
            SELECT CASE WHEN id % 10 = 0 THEN 'offlinetasks:parked-light:bench-1' ELSE 'offlinetasks:parked:bench-1' END, id::text,
                   extract(epoch FROM now()) * 1000 FROM j;
            """);
    }

    /// <summary>What autovacuum leaves in steady state: the visibility map set (index-only scans) and fresh statistics.</summary>
    public static async Task VacuumAsync(NpgsqlDataSource dataSource, string schema)
    {
        foreach (var table in new[] { "job", "jobqueue", "set", "state" })
        {
            await Bench.ExecuteAsync(dataSource, $"VACUUM (ANALYZE) \"{schema}\".\"{table}\"");
        }
    }
}
