-- Operators' switches: a shard forced closed or forced open, overriding the gate's measurement, with who, why and
-- until when; and the audit log of every switch set, cleared or expired. {schema} is replaced by the schema name.

-- At most one switch per shard. The prober (the fleet's leader) applies it to the shard's state every round, and
-- clears it when it expires; it survives restarts and leader changes because it lives here.
CREATE TABLE {schema}.shard_switch (
    shard   text PRIMARY KEY,
    mode    text NOT NULL CHECK (mode IN ('closed', 'open')),
    reason  text NOT NULL,
    actor   text NOT NULL,
    set_at  timestamptz NOT NULL,
    until   timestamptz          -- null: until cleared
);

-- Every change of a switch: who, when, what, why, until.
CREATE TABLE {schema}.switch_audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL,
    shard   text NOT NULL,
    action  text NOT NULL CHECK (action IN ('force_closed', 'force_open', 'cleared', 'expired')),
    actor   text NOT NULL,
    reason  text,
    until   timestamptz
);
CREATE INDEX switch_audit_shard_idx ON {schema}.switch_audit (shard, id DESC);
