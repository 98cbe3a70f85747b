-- Courier schema for PostgreSQL, version 4: paused consumers. Placeholders as in V1. A consumer whose
-- name has a row here processes nothing and acknowledges nothing until the row is removed (courier
-- consumer resume); its deliveries wait at the broker. A row is written by an operator (courier
-- consumer pause) or by the consumer itself when its dead letters pass the threshold it was built with
-- (automatic = true). Both are audited.
CREATE TABLE IF NOT EXISTS ${consumer_pauses} (
    consumer   VARCHAR(128) PRIMARY KEY,
    paused_at  TIMESTAMPTZ  NOT NULL,
    paused_by  VARCHAR(255) NOT NULL,
    reason     TEXT,
    automatic  BOOLEAN      NOT NULL DEFAULT false
);
