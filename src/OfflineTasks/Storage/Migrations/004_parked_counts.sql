-- The parked-jobs gauge counts two narrower sets than job_shard_waiting_idx held: available jobs of the shards
-- that are not open (looked up by shard key, so open shards' jobs are never read) and jobs deferred by the gate.
-- {schema} is replaced by the configured schema name.

DROP INDEX {schema}.job_shard_waiting_idx;
CREATE INDEX job_shard_available_idx ON {schema}.job (shard_key) WHERE state = 'available' AND shard_key IS NOT NULL;
CREATE INDEX job_deferred_idx ON {schema}.job (shard_key) WHERE state = 'scheduled' AND deferred_since IS NOT NULL;
