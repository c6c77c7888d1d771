-- Every process running delivery workers, alive while its heartbeat is
-- recent. A row leased (deliveries.locked_by) by a process that stopped
-- beating is taken back at once instead of when its lease runs out: after
-- a crash, deliveries resume within seconds of the restart, not minutes.
CREATE TABLE delivery_workers (
    claimant TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- Signed GETs (authorized fetch) name a key, not an actor: find its owner
-- without fetching it again.
CREATE INDEX remote_actors_public_key ON remote_actors (public_key_id);
