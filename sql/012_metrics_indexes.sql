-- 012_metrics_indexes: partial indexes for the database-state gauges of
-- GET /metrics (docs/operations/metrics.md), which count, every few
-- seconds, the dead letters among all Stripe events ever received and the
-- delinquent customers: without these, each count reads the whole table.
-- (The pending queues and the customers past due have theirs already.)
-- Only adds indexes: 0.2.0 runs unchanged on the migrated schema.

CREATE INDEX stripe_events_dead ON stripe_events (received_at) WHERE status = 'dead';
CREATE INDEX customers_delinquent ON customers (id) WHERE billing_status = 'delinquent';
