-- Telemetry: indexes that let the leader count the queues without reading the job table's heap, the sampled
-- fleet-wide gauges every process exports, and the state of the built-in alerts.
-- {schema} is replaced by the configured schema name.

-- Index-only counts per queue: scheduled and running jobs carry their queue in the index they already have.
DROP INDEX {schema}.job_scheduled_idx;
CREATE INDEX job_scheduled_idx ON {schema}.job (scheduled_at) INCLUDE (queue) WHERE state = 'scheduled';
DROP INDEX {schema}.job_processing_idx;
CREATE INDEX job_processing_idx ON {schema}.job (attempted_at) INCLUDE (queue) WHERE state = 'processing';
CREATE INDEX job_failed_idx ON {schema}.job (queue) WHERE state = 'failed';
-- Jobs of a shard that wait (available, or scheduled after a deferral): the parked-jobs gauge. Only jobs with a
-- shard key are indexed, and only while they wait.
CREATE INDEX job_shard_waiting_idx ON {schema}.job (shard_key) INCLUDE (state, deferred_since)
    WHERE shard_key IS NOT NULL AND state IN ('available', 'scheduled');

-- The fleet-wide gauges, replaced by the leader at each sample: one row per series.
CREATE TABLE {schema}.fleet_gauge (
    metric text NOT NULL,            -- 'queue_depth', 'queue_oldest_age', 'shard_parked'
    subject text NOT NULL,           -- the queue or the shard
    state text NOT NULL DEFAULT '',  -- for queue_depth: available, scheduled, processing, failed
    value double precision NOT NULL,
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
