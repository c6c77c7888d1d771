-- The queue's two indexes hold only the rows still in the queue.
--
-- A delivery is written three times (queued, then sending, then delivered)
-- and, as `state` is indexed, each change is a new row version with a new
-- entry in every index whose predicate it meets. Indexed over all rows,
-- the claim and host indexes also took an entry for every delivered or
-- failed row, and their `queued`/`sending` ranges filled with dead entries
-- that each claim stepped over. Partial, a finished delivery updates only
-- the primary key and (activity, inbox) indexes, and the claim reads an
-- index of the rows it can claim. Measured (pg_stat_statements, 10,000
-- Follows): README "Benchmarks".
--
-- Every query that uses them names the states: the claim (`queued` or
-- `sending`), a host's or domain's queued deliveries failed at once, the
-- oldest due delivery.
DROP INDEX deliveries_claim;
DROP INDEX deliveries_host;
CREATE INDEX deliveries_claim ON deliveries (state, run_at) WHERE state IN ('queued', 'sending');
CREATE INDEX deliveries_host ON deliveries (host) WHERE state IN ('queued', 'sending');
