-- Migration 9: token listings that stay fast at a million tokens. Every
-- listing is a page in identifier order; these indexes let each
-- documented filter be answered by walking an index in that order (or,
-- for a narrow expiry window, by reading just the matching entries) and
-- testing the filters on index entries, reading a table row only for the
-- tokens on the page.

-- One account's tokens (?user=), with the intent, expiry and last use
-- the other filters test. Replaces (user_uid, identifier), which it
-- extends: the cascade from users still finds the rows by user_uid.
DROP INDEX tokens_user_identifier;
CREATE INDEX tokens_user_identifier ON tokens (user_uid, identifier, intent, expiring, expires_at, last_used_at);

-- Every account's tokens in identifier order, with the same columns: the
-- fleet-wide page walks it and stops at the page's end.
CREATE INDEX tokens_identifier_filters ON tokens (identifier, intent, expiring, expires_at, last_used_at);

-- The tokens (of one intent) expiring before a time, with their
-- identifiers: when few match, they are read from here alone and
-- sorted. They replace (expires_at) and (intent, expires_at), whose
-- queries (the expiry sweeps) they still serve.
DROP INDEX tokens_expires_at;
CREATE INDEX tokens_expires_at ON tokens (expires_at, expiring, identifier) WHERE expires_at IS NOT NULL;
DROP INDEX tokens_intent_expires_at;
CREATE INDEX tokens_intent_expires_at ON tokens (intent, expires_at, expiring, identifier) WHERE expires_at IS NOT NULL;
