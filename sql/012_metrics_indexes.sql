-- 012_metrics_indexes: partial indexes for the database-state gauges of
-- GET /metrics (docs/operations/metrics.md), which count, every few
-- seconds, the dead letters among all Stripe events ever received and the
-- delinquent customers (and the product's dead webhooks): without these, each count reads the whole table.
-- (The pending queues and the customers past due have theirs already.)
-- Only adds indexes: 0.2.0 runs unchanged on the migrated schema.

CREATE INDEX stripe_events_dead ON stripe_events (received_at) WHERE status = 'dead';
CREATE INDEX customers_delinquent ON customers (id) WHERE billing_status = 'delinquent';
-- The dead letters of the webhooks to the product (011): the same count.
CREATE INDEX outbound_deliveries_dead ON outbound_deliveries (id) WHERE status = 'dead';
