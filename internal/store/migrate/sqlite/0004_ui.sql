-- Migration 4: web interface sessions and second factors (issue 6).

-- A signed-in browser. id_hash is the SHA-256 of the random session ID in
-- the cookie; the ID itself is never stored.
CREATE TABLE ui_sessions (
    id_hash        BLOB    NOT NULL PRIMARY KEY,
    user_uid       TEXT    NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    password_stamp BLOB    NOT NULL,
    mfa_pending    INTEGER NOT NULL DEFAULT 0 CHECK (mfa_pending IN (0, 1)),
    mfa_failures   INTEGER NOT NULL DEFAULT 0,
    client_ip      TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A user's sessions (profile list, sign out everywhere) and the cascade.
CREATE INDEX ui_sessions_user ON ui_sessions (user_uid, created_at);
-- The cleanup sweep.
CREATE INDEX ui_sessions_expires_at ON ui_sessions (expires_at);
CREATE INDEX ui_sessions_last_seen_at ON ui_sessions (last_seen_at);

-- A user's TOTP factor: the secret sealed with AES-GCM (never plain).
CREATE TABLE user_totp (
    user_uid     TEXT    NOT NULL PRIMARY KEY REFERENCES users (uid) ON DELETE CASCADE,
    secret       BLOB    NOT NULL,
    confirmed    INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
    last_step    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER
) STRICT, WITHOUT ROWID;

-- Single-use recovery codes, as keyed hashes.
CREATE TABLE totp_recovery_codes (
    user_uid  TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    PRIMARY KEY (user_uid, code_hash)
) STRICT, WITHOUT ROWID;
