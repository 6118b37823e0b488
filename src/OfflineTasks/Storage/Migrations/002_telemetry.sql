-- Telemetry: the fleet-wide gauges the leader samples (from Hangfire's monitoring API and the parked sets) and
-- every process exports, and the state of the built-in alerts. {schema} is replaced by the configured schema name.

-- The fleet-wide gauges, replaced by the leader at each sample: one row per series.
CREATE TABLE {schema}.fleet_gauge (
    metric     text NOT NULL,           -- 'queue_depth', 'queue_oldest_age', 'shard_parked'
    subject    text NOT NULL,           -- the queue or the shard
    state      text NOT NULL DEFAULT '', -- for queue_depth: enqueued, fetched, scheduled, processing, failed
    value      double precision NOT NULL,
    sampled_at timestamptz NOT NULL,
    PRIMARY KEY (metric, subject, state)
);

-- One row per built-in alert rule: where its state machine stands, so a restart or a new leader neither
-- fires it again nor loses it.
CREATE TABLE {schema}.alert_state (
    rule       text PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('ok', 'pending', 'firing', 'resolving')),
    since      timestamptz NOT NULL,   -- when it entered status
    fired_at   timestamptz,            -- when it last fired
    value      double precision,       -- the last value seen
    updated_at timestamptz NOT NULL DEFAULT now()
);
