-- One event stream, and what the dashboard's pages draw. {schema} is replaced by the configured schema name.

-- The shard state log becomes the fleet's one event stream: closures and reopenings (kind 'shard', still with their
-- from/to modes), releases, switches, alerts, deadline breaches and configuration reloads, each with the line that
-- went to chat (text) and its structured fields, so the dashboard, the log and the chat webhook tell one story.
ALTER TABLE {schema}.shard_event RENAME TO event;
ALTER INDEX {schema}.shard_event_shard_idx RENAME TO event_shard_idx;
ALTER TABLE {schema}.event
    ADD COLUMN kind text NOT NULL DEFAULT 'shard',
    ADD COLUMN text text,
    ADD COLUMN fields jsonb NOT NULL DEFAULT '{}',
    ALTER COLUMN shard DROP NOT NULL,
    ALTER COLUMN to_mode DROP NOT NULL,
    ALTER COLUMN reason DROP NOT NULL;
ALTER TABLE {schema}.event ALTER COLUMN kind DROP DEFAULT;
UPDATE {schema}.event SET text = 'Shard ' || shard || ' ' || to_mode || ': ' || reason WHERE text IS NULL;
ALTER TABLE {schema}.event ALTER COLUMN text SET NOT NULL;
CREATE INDEX event_at_idx ON {schema}.event (at);

-- When each alert last resolved (fired_at says when it last fired).
ALTER TABLE {schema}.alert_state ADD COLUMN resolved_at timestamptz;

-- Each shard's recent past, one row per telemetry sample: its mode, its parked jobs and its masters' worst signals,
-- for the shard page's chart. The sampler keeps a day of it.
CREATE TABLE {schema}.shard_history (
    shard             text NOT NULL,
    at                timestamptz NOT NULL,
    mode              text NOT NULL,
    parked            double precision NOT NULL,
    threads_running   double precision,
    connections_ratio double precision,
    lag_seconds       double precision,
    PRIMARY KEY (shard, at)
);
CREATE INDEX shard_history_at_idx ON {schema}.shard_history (at);
