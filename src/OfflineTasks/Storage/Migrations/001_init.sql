-- Jobs, their states and history, and the worker servers whose heartbeats hold the leases.
-- {schema} is replaced by the configured schema name.

CREATE TYPE {schema}.job_state AS ENUM ('scheduled', 'available', 'processing', 'succeeded', 'failed', 'deleted');

CREATE TABLE {schema}.job (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state           {schema}.job_state NOT NULL,
    queue           text NOT NULL,
    priority        smallint NOT NULL DEFAULT 0,
    shard_key       text,
    type            text NOT NULL,
    method          text NOT NULL,
    parameter_types jsonb NOT NULL,
    args            jsonb NOT NULL,
    attempt         integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL,
    defer_count     integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    scheduled_at    timestamptz NOT NULL DEFAULT now(),
    attempted_at    timestamptz,
    finalized_at    timestamptz,
    server_id       uuid,
    last_error      jsonb,
    -- [{ "at": ..., "from": ..., "to": ..., "reason": ... }, ...], oldest first; capped by the server.
    history         jsonb NOT NULL,
    CONSTRAINT job_max_attempts_positive CHECK (max_attempts >= 1)
) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_insert_scale_factor = 0.02);

-- The claim: next available jobs of a queue by priority, then time. Only available rows are indexed.
CREATE INDEX job_claim_idx ON {schema}.job (queue, priority DESC, scheduled_at, id) WHERE state = 'available';
-- The scheduler: scheduled jobs by due time.
CREATE INDEX job_scheduled_idx ON {schema}.job (scheduled_at) WHERE state = 'scheduled';
-- The rescuer: running jobs by the server that holds their lease.
CREATE INDEX job_processing_idx ON {schema}.job (server_id) WHERE state = 'processing';
-- Retention: finished jobs by age.
CREATE INDEX job_finalized_idx ON {schema}.job (finalized_at) WHERE state IN ('succeeded', 'deleted');

-- One row per running worker server (process). Its heartbeat extends the lease of every job it runs:
-- one statement per process per interval, however many jobs it holds.
CREATE TABLE {schema}.server (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    queues           text[] NOT NULL,
    slots            integer NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    heartbeat_at     timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL
);

-- Appends one transition to a job's history, keeping the first entry (creation) and at most 100 in all.
CREATE FUNCTION {schema}.history_append(history jsonb, from_state text, to_state text, reason text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT (CASE WHEN jsonb_array_length(history) >= 100 THEN history - 1 ELSE history END)
        || jsonb_build_array(jsonb_build_object('at', now(), 'from', from_state, 'to', to_state, 'reason', reason))
$$;
