-- Migration 5: the tamper-evident audit chain (issue 9).
--
-- Each event carries its place in the chain (seq: 1, 2, 3, ... without a
-- gap) and an HMAC over the previous event's hash and its own content,
-- computed by the audit log with a key that is not in the database.
-- Events written before this migration keep seq NULL: they are outside
-- the chain (retention removes them in time).
ALTER TABLE events ADD COLUMN seq INTEGER;
ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX events_seq ON events (seq);

-- The chain's head (the last event appended) and base (the last event
-- removed by retention, which the first remaining event chains to). One
-- row; appending an event moves the head in the same transaction.
CREATE TABLE event_chain (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL,
    hash      TEXT    NOT NULL,
    base_seq  INTEGER NOT NULL,
    base_hash TEXT    NOT NULL
) STRICT;
INSERT INTO event_chain (id, seq, hash, base_seq, base_hash) VALUES (1, 0,
    '0000000000000000000000000000000000000000000000000000000000000000', 0,
    '0000000000000000000000000000000000000000000000000000000000000000');
