-- 007_audit_chains: the audit log as one hash chain per customer, with
-- periodic seals, instead of one global chain (docs/audit-log.md).
--
-- Until now every audited write locked the single audit_head row, so all
-- signups and billing changes in the system queued behind each other. Now
-- each customer's rows form their own chain, and rows without a customer
-- (flags, staging resets, replayed dead letters) form the 'system' chain;
-- a chain's head is its row in audit_chains, whose row lock serializes only
-- that chain. tollgate-worker seals the heads of the chains that changed,
-- at most once a minute, in audit_seals: a chain of its own, so that a
-- chain cut short or a head rewritten after a seal is detected.
--
-- The rows written so far (one global chain, 005's content format) become
-- the first rows of the system chain: chain 'system', chain_seq = seq,
-- format 1, verified with 005's formula as before; new rows are format 2.
-- Tables and data only: the functions are in sql/functions/audit.sql.

-- ---- audit_log: which chain, where in it, which format ----------------------

ALTER TABLE audit_log
    ADD COLUMN chain text COLLATE "C",
    ADD COLUMN chain_seq bigint,
    ADD COLUMN format smallint;

UPDATE audit_log SET chain = 'system', chain_seq = seq, format = 1;

ALTER TABLE audit_log
    ALTER COLUMN chain SET NOT NULL,
    ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN format SET NOT NULL,
    -- 'system', or the customer's id (format 2 rows: the row's customer).
    ADD CONSTRAINT audit_log_chain_check
        CHECK (chain = 'system'
               OR chain ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    ADD CONSTRAINT audit_log_chain_seq_check CHECK (chain_seq > 0),
    -- 1: 005's content (the global chain's rows), 2: the chain's content.
    ADD CONSTRAINT audit_log_format_check CHECK (format IN (1, 2));

-- A chain's rows in order (appends, customers show, verify-audit).
CREATE UNIQUE INDEX audit_log_chain ON audit_log (chain, chain_seq);

-- seq orders the whole log. It comes from a sequence now, not from the
-- global head: unique and increasing in the order rows were appended, but
-- with gaps (a rolled-back append uses up its number) and not exactly in
-- commit order across chains. Chains carry the gap-free numbering.
CREATE SEQUENCE audit_log_seq AS bigint OWNED BY audit_log.seq;
SELECT setval('audit_log_seq', coalesce(max(seq), 0) + 1, false) FROM audit_log;

-- ---- audit_chains: the head of every chain ------------------------------------
-- seq and hash of the chain's last row (0 and 32 zero bytes before its
-- first); sealed_seq: the seq the latest seal recorded for the chain, so
-- the next seal takes only the chains that changed since.

CREATE TABLE audit_chains (
    chain       text COLLATE "C" PRIMARY KEY
                CHECK (chain = 'system'
                       OR chain ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
    seq         bigint NOT NULL CHECK (seq >= 0),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    sealed_seq  bigint NOT NULL DEFAULT 0 CHECK (sealed_seq >= 0 AND sealed_seq <= seq)
);

-- The global chain's head is the system chain's head.
INSERT INTO audit_chains (chain, seq, hash) SELECT 'system', seq, hash FROM audit_head;
DROP TABLE audit_head;

-- ---- audit_seals: the sealed heads, chained seal to seal ----------------------
-- Seal n records the heads (chain, seq, hash) of the chains that changed
-- since seal n-1 in audit_seal_heads, and
--     hash = SHA-256(prev_hash || seal content)
-- with prev_hash seal n-1's hash (32 zero bytes for seal 1).

CREATE TABLE audit_seals (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    sealed_at  timestamptz NOT NULL,
    chains     integer NOT NULL CHECK (chains > 0),
    prev_hash  bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash       bytea NOT NULL CHECK (length(hash) = 32)
);

-- No foreign keys: like the log, the seals are checked by verify-audit,
-- which reports a head whose seal is missing.
CREATE TABLE audit_seal_heads (
    seal       bigint NOT NULL CHECK (seal > 0),
    chain      text COLLATE "C" NOT NULL,
    chain_seq  bigint NOT NULL CHECK (chain_seq > 0),
    hash       bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (seal, chain)
);
-- verify-audit walks them beside the chains' rows.
CREATE INDEX audit_seal_heads_chain ON audit_seal_heads (chain, chain_seq);
