-- Courier schema for PostgreSQL, version 2: what log mode needs (PostgreSQL 13 or newer).
-- Placeholders as in V1. Nothing here changes how LEASE and LOCK relays work, and nothing here
-- costs their writers anything: the new column has no default and the new tables stay empty until
-- an operator turns log mode on (`courier migrate --log-mode`, or Schema.enableLogMode), which adds
-- the column's default, the partition indexes and the partition rows.

-- The writer's top-level transaction id. In log mode the column defaults to pg_current_xact_id(),
-- so the writer does nothing new; relays read a row once its transaction is visible in their
-- snapshot and was not visible in the previous one (see docs/GUARANTEES.md, "Log mode").
ALTER TABLE ${outbox} ADD COLUMN IF NOT EXISTS txid xid8;

-- Two more states. LOG: a row of an outbox in log mode; whether it is published is told by the
-- partition cursors, not by the row, which is never updated on the success path. PARKED: a log row
-- held behind an earlier DEAD row of its key, waiting, in order, for the operator's replay.
ALTER TABLE ${outbox} DROP CONSTRAINT IF EXISTS ${outbox_name}_status_ck;
ALTER TABLE ${outbox} ADD CONSTRAINT ${outbox_name}_status_ck
    CHECK (status IN ('PENDING', 'PUBLISHED', 'DEAD', 'LOG', 'PARKED')) NOT VALID;
ALTER TABLE ${outbox} VALIDATE CONSTRAINT ${outbox_name}_status_ck;

-- One row per partition of a log-mode outbox: who owns it, under which epoch (every cursor write
-- is fenced by it), until when, and how far it is published. done_snapshot: every row whose
-- transaction is visible in it is published. batch_snapshot: the snapshot whose new rows are being
-- published (null between batches); of those, the rows with seq <= batch_position are published.
CREATE TABLE IF NOT EXISTS ${outbox_partitions} (
    partition_no    INTEGER      PRIMARY KEY,
    partition_count INTEGER      NOT NULL,
    owner           VARCHAR(255),
    epoch           BIGINT       NOT NULL DEFAULT 0,
    lease_until     TIMESTAMPTZ,
    done_snapshot   pg_snapshot  NOT NULL,
    batch_snapshot  pg_snapshot,
    batch_position  BIGINT,
    updated_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- Relays sharing a log-mode outbox announce themselves here; the live ones divide the partitions.
CREATE TABLE IF NOT EXISTS ${outbox_relays} (
    relay_id        VARCHAR(255) PRIMARY KEY,
    heartbeat_at    TIMESTAMPTZ  NOT NULL,
    started_at      TIMESTAMPTZ  NOT NULL
);
