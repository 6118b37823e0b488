-- The load-feedback gate: the shard states the prober (the fleet's leader) shares with every process, the log of
-- shard state changes, and fleet-wide roles. Hangfire's own tables live in Hangfire's schema; nothing here refers
-- to them. {schema} is replaced by the configured schema name.

-- One row per shard, written by the prober every probe interval. Every process reads it to decide whether a
-- shard's jobs may start; a row whose updated_at is too old counts as closed (no live prober: fail closed).
CREATE TABLE {schema}.shard_state (
    shard      text PRIMARY KEY,
    mode       text NOT NULL CHECK (mode IN ('open', 'closed', 'light_only')),
    reason     text,                 -- why it is closed or light-only; why it last reopened
    changed_at timestamptz NOT NULL, -- when the mode last changed (prober's clock)
    signals    jsonb NOT NULL DEFAULT '{}', -- latest sample per master, for metrics and the dashboard
    policy     jsonb NOT NULL DEFAULT '{}', -- the hysteresis state (e.g. since when all signals are below low-water), so a new leader continues it
    updated_at timestamptz NOT NULL DEFAULT now() -- database time of the prober's last write
);

-- Every change of a shard's mode, with its reason: the shard state log.
CREATE TABLE {schema}.shard_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shard     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    from_mode text,
    to_mode   text NOT NULL,
    reason    text NOT NULL
);
CREATE INDEX shard_event_shard_idx ON {schema}.shard_event (shard, id DESC);

-- Fleet-wide roles ('prober', 'releaser', 'telemetry'): one holder at a time, with a lease it renews. Another
-- process takes the role over once the lease has expired.
CREATE TABLE {schema}.leader (
    role        text PRIMARY KEY,
    holder      uuid NOT NULL,
    holder_name text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
