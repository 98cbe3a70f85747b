-- Courier schema for PostgreSQL, version 1.
-- Placeholders: ${outbox}, ${processed_events}, ${dead_letters} are the (optionally schema-qualified)
-- table names; ${outbox_name} etc. are the same names without the schema, used for index names.
-- `courier migrate` renders and applies this file; users of Flyway or Liquibase can render it once
-- with the default names (courier_outbox, courier_processed_events, courier_dead_letters) and ship it.

-- The outbox. One row per event, appended in the writer's own transaction.
-- seq orders rows for fairness only: the relay never remembers a "published up to seq N" mark,
-- because sequence values are taken at insert, not at commit, and a late commit would be skipped.
CREATE TABLE IF NOT EXISTS ${outbox} (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        UUID         NOT NULL,
    event_type      VARCHAR(255) NOT NULL,
    destination     VARCHAR(255) NOT NULL,
    event_key       VARCHAR(255),
    payload         BYTEA        NOT NULL,
    headers         TEXT         NOT NULL DEFAULT '{}',
    correlation_id  VARCHAR(255),
    causation_id    VARCHAR(255),
    created_at      TIMESTAMPTZ  NOT NULL,
    -- PENDING: waiting to be published; PUBLISHED: the broker confirmed it; DEAD: parked after
    -- too many attempts or a non-retriable failure, waiting for an operator.
    status          VARCHAR(16)  NOT NULL DEFAULT 'PENDING',
    attempts        INTEGER      NOT NULL DEFAULT 0,
    -- not claimable before this instant: holds both the retry backoff and a relay's claim lease
    available_at    TIMESTAMPTZ  NOT NULL,
    claimed_by      VARCHAR(255),
    last_error      TEXT,
    published_at    TIMESTAMPTZ,
    dead_at         TIMESTAMPTZ,
    CONSTRAINT ${outbox_name}_event_id_uk UNIQUE (event_id),
    CONSTRAINT ${outbox_name}_status_ck CHECK (status IN ('PENDING', 'PUBLISHED', 'DEAD'))
);

-- The relay's claim scans pending rows in seq order.
CREATE INDEX IF NOT EXISTS ${outbox_name}_pending_ix
    ON ${outbox} (seq) WHERE status = 'PENDING';

-- Per-key ordering: "is there an earlier pending row for this key that is not claimable now?"
-- The relay probes it for every row it claims, with equality only, so its text columns compare
-- bytes (COLLATE "C"): under a linguistic collation each comparison in the descent is a strcoll
-- call, which made the probe about half of a claim's time. Equality is the same either way.
CREATE INDEX IF NOT EXISTS ${outbox_name}_pending_key_c_ix
    ON ${outbox} (destination COLLATE "C", event_key COLLATE "C", seq) WHERE status = 'PENDING';
-- the index of the same purpose that earlier schemas created with the database's collation
DROP INDEX IF EXISTS ${outbox_name}_pending_key_ix;

CREATE INDEX IF NOT EXISTS ${outbox_name}_dead_ix
    ON ${outbox} (dead_at) WHERE status = 'DEAD';

CREATE INDEX IF NOT EXISTS ${outbox_name}_published_ix
    ON ${outbox} (published_at) WHERE status = 'PUBLISHED';

-- The processed-events ledger: one row per (consumer, event) whose effect has committed.
-- The row is inserted in the same transaction as the effect, so "effect applied" and
-- "event recorded" are one fact.
CREATE TABLE IF NOT EXISTS ${processed_events} (
    consumer        VARCHAR(255) NOT NULL,
    event_id        UUID         NOT NULL,
    processed_at    TIMESTAMPTZ  NOT NULL,
    CONSTRAINT ${processed_events_name}_pk PRIMARY KEY (consumer, event_id)
);

CREATE INDEX IF NOT EXISTS ${processed_events_name}_processed_at_ix
    ON ${processed_events} (processed_at);

-- Dead letters: events a consumer could not process, with the reason and the attempts made.
-- dedupe_key is the event id, or the record's position when the record carried no usable id, so a
-- record redelivered after its dead letter was written is recorded once.
CREATE TABLE IF NOT EXISTS ${dead_letters} (
    id              BIGSERIAL PRIMARY KEY,
    consumer        VARCHAR(255) NOT NULL,
    dedupe_key      VARCHAR(255) NOT NULL,
    event_id        UUID,
    event_type      VARCHAR(255),
    event_key       VARCHAR(255),
    destination     VARCHAR(255),
    source          VARCHAR(512),
    payload         BYTEA,
    headers         TEXT         NOT NULL DEFAULT '{}',
    correlation_id  VARCHAR(255),
    causation_id    VARCHAR(255),
    reason          VARCHAR(32)  NOT NULL,
    error_class     VARCHAR(512),
    error_message   TEXT,
    stack_trace     TEXT,
    attempts        INTEGER      NOT NULL,
    first_failed_at TIMESTAMPTZ  NOT NULL,
    last_failed_at  TIMESTAMPTZ  NOT NULL,
    status          VARCHAR(16)  NOT NULL DEFAULT 'DEAD',
    CONSTRAINT ${dead_letters_name}_uk UNIQUE (consumer, dedupe_key)
);

CREATE INDEX IF NOT EXISTS ${dead_letters_name}_last_failed_ix
    ON ${dead_letters} (last_failed_at);

-- ---------------------------------------------------------------------------------------------
-- Operator tooling: dead-letter replay and discard, failure fingerprints, the audit trail and the
-- archive of published events. Their table names default to courier_replays, courier_audit and
-- courier_outbox_archive (settings courier.tables.replays, .audit and .archive).

-- Groups dead letters that failed the same way: a hash of the exception type, the top stack frame
-- and the message with numbers, UUIDs and hex normalised (see dev.courier.deadletter.Fingerprint).
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS fingerprint VARCHAR(32);
-- When the event was created, so that a replay keeps its creation time.
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS event_created_at TIMESTAMPTZ;
-- Set when an operator replays (status REPLAYED) or discards (status DISCARDED) the dead letter.
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS resolved_at TIMESTAMPTZ;
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS resolved_by VARCHAR(255);
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS resolution TEXT;
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS replay_id VARCHAR(128);

CREATE INDEX IF NOT EXISTS ${dead_letters_name}_fingerprint_ix
    ON ${dead_letters} (fingerprint) WHERE status = 'DEAD';

CREATE INDEX IF NOT EXISTS ${dead_letters_name}_status_ix
    ON ${dead_letters} (status, id);

-- One row per submitted replay. The primary key is what makes a replay submitted twice (also by
-- two operators at the same moment) enqueue once: the second insert waits for the first
-- transaction and then finds its row.
CREATE TABLE IF NOT EXISTS ${replays} (
    replay_id       VARCHAR(128) PRIMARY KEY,
    kind            VARCHAR(16)  NOT NULL,
    operator        VARCHAR(255) NOT NULL,
    reason          TEXT,
    request         TEXT         NOT NULL,
    submitted_at    TIMESTAMPTZ  NOT NULL,
    enqueued        INTEGER      NOT NULL DEFAULT 0,
    items           TEXT         NOT NULL DEFAULT '[]',
    CONSTRAINT ${replays_name}_kind_ck CHECK (kind IN ('DEAD_LETTERS', 'HISTORY'))
);

-- Every operator mutation: who, when, what (action, selection, how many rows) and why.
CREATE TABLE IF NOT EXISTS ${audit} (
    id              BIGSERIAL    PRIMARY KEY,
    at              TIMESTAMPTZ  NOT NULL,
    operator        VARCHAR(255) NOT NULL,
    action          VARCHAR(64)  NOT NULL,
    reason          TEXT,
    target          TEXT         NOT NULL,
    affected        INTEGER      NOT NULL,
    replay_id       VARCHAR(128)
);

CREATE INDEX IF NOT EXISTS ${audit_name}_at_ix
    ON ${audit} (at);

-- Published events moved out of the outbox by `courier prune`, kept for history replay until the
-- archive's own horizon passes.
CREATE TABLE IF NOT EXISTS ${outbox_archive} (
    event_id        UUID         PRIMARY KEY,
    event_type      VARCHAR(255) NOT NULL,
    destination     VARCHAR(255) NOT NULL,
    event_key       VARCHAR(255),
    payload         BYTEA        NOT NULL,
    headers         TEXT         NOT NULL DEFAULT '{}',
    correlation_id  VARCHAR(255),
    causation_id    VARCHAR(255),
    created_at      TIMESTAMPTZ  NOT NULL,
    published_at    TIMESTAMPTZ  NOT NULL,
    archived_at     TIMESTAMPTZ  NOT NULL
);

CREATE INDEX IF NOT EXISTS ${outbox_archive_name}_published_ix
    ON ${outbox_archive} (published_at);

-- Ordered consumers ask, for each event with a key, whether an earlier event of the key is
-- dead-lettered or parked; later events of that key are parked behind it (status PARKED).
CREATE INDEX IF NOT EXISTS ${dead_letters_name}_blocked_key_ix
    ON ${dead_letters} (consumer, destination, event_key, id) WHERE status IN ('DEAD', 'PARKED');

-- Retention deletes dead letters an operator resolved (replayed or discarded) past a horizon.
CREATE INDEX IF NOT EXISTS ${dead_letters_name}_resolved_ix
    ON ${dead_letters} (resolved_at) WHERE status IN ('REPLAYED', 'DISCARDED');
