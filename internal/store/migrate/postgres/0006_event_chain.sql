-- Migration 6: the tamper-evident audit chain (issue 9).
--
-- Each event carries its place in the chain (seq: 1, 2, 3, ... without a
-- gap) and an HMAC over the previous event's hash and its own content,
-- computed by the audit log with a key that is not in the database.
-- Events written before this migration keep seq NULL: they are outside
-- the chain (retention removes them in time).
ALTER TABLE events ADD COLUMN seq BIGINT;
ALTER TABLE events ADD COLUMN hash TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE UNIQUE INDEX events_seq ON events (seq);

-- The chain's head (the last event appended) and base (the last event
-- removed by retention, which the first remaining event chains to). One
-- row. A transaction that appends events locks it (EventChain reads it
-- FOR UPDATE) and moves it, so appenders on every instance take turns
-- and the chain never forks.
CREATE TABLE event_chain (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       BIGINT  NOT NULL,
    hash      TEXT COLLATE "C" NOT NULL,
    base_seq  BIGINT  NOT NULL,
    base_hash TEXT COLLATE "C" NOT NULL
);
INSERT INTO event_chain (id, seq, hash, base_seq, base_hash) VALUES (1, 0,
    '0000000000000000000000000000000000000000000000000000000000000000', 0,
    '0000000000000000000000000000000000000000000000000000000000000000');
