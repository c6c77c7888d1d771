-- The process that claimed a delivery last ("pid-random"): while the row is
-- 'sending' it holds the lease, so an operator (and the scale-out test) can
-- tell which claims a dead worker left behind.
ALTER TABLE deliveries ADD COLUMN locked_by TEXT;
