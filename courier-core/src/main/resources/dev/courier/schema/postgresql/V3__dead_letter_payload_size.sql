-- Courier schema for PostgreSQL, version 3: a dead letter records its payload's full size and
-- SHA-256. Placeholders as in V1. A message dead-lettered for being over the consumer's size limit
-- (reason OVERSIZED) keeps only a bounded prefix of its payload (DeadLetterStore); these columns say
-- how large the whole was and identify it. Rows written before this version have neither: their
-- payload is whole.
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS payload_size BIGINT;
ALTER TABLE ${dead_letters} ADD COLUMN IF NOT EXISTS payload_sha256 CHAR(64);
