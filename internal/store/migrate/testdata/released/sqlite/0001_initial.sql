-- Migration 1: the whole schema.
--
-- Conventions (see the package documentation):
--   times      INTEGER unix microseconds, UTC
--   durations  INTEGER nanoseconds
--   booleans   INTEGER 0/1
--   names      TEXT compared with the default BINARY collation, i.e.
--              case-sensitively and in byte order (names are lower-case
--              by validation above the store)
-- Tables are STRICT so that a value of the wrong type is an error rather
-- than silently stored. Small tables keyed by a composite or text key are
-- WITHOUT ROWID: the primary key is the table, one B-tree lookup per row.

CREATE TABLE users (
    uid                 TEXT    NOT NULL PRIMARY KEY,
    username            TEXT    NOT NULL UNIQUE,
    type                TEXT    NOT NULL,
    name                TEXT    NOT NULL DEFAULT '',
    email               TEXT    NOT NULL DEFAULT '',
    description         TEXT    NOT NULL DEFAULT '',
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    managed             INTEGER NOT NULL DEFAULT 0 CHECK (managed IN (0, 1)),
    password_hash       TEXT    NOT NULL DEFAULT '',
    password_changed_at INTEGER,
    created_at          INTEGER NOT NULL,
    last_login_at       INTEGER
) STRICT;

-- ListUsers filtered by type walks this index in username order.
CREATE INDEX users_type_username ON users (type, username);

CREATE TABLE groups (
    uid         TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE group_members (
    group_uid TEXT NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    user_uid  TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    PRIMARY KEY (group_uid, user_uid)
) STRICT, WITHOUT ROWID;

-- A user's groups (UserGroups, UserGrants) and the cascade from users.
CREATE INDEX group_members_user ON group_members (user_uid, group_uid);

CREATE TABLE roles (
    uid         TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE role_permissions (
    role_uid   TEXT NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_uid, permission)
) STRICT, WITHOUT ROWID;

CREATE TABLE role_user_assignments (
    role_uid TEXT NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    user_uid TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    PRIMARY KEY (role_uid, user_uid)
) STRICT, WITHOUT ROWID;

CREATE INDEX role_user_assignments_user ON role_user_assignments (user_uid, role_uid);

CREATE TABLE role_group_assignments (
    role_uid  TEXT NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    group_uid TEXT NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    PRIMARY KEY (role_uid, group_uid)
) STRICT, WITHOUT ROWID;

CREATE INDEX role_group_assignments_group ON role_group_assignments (group_uid, role_uid);

CREATE TABLE user_permissions (
    user_uid   TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (user_uid, permission)
) STRICT, WITHOUT ROWID;

CREATE TABLE tokens (
    uid          TEXT    NOT NULL PRIMARY KEY,
    identifier   TEXT    NOT NULL UNIQUE,
    user_uid     TEXT    NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    intent       TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    expiring     INTEGER NOT NULL DEFAULT 0 CHECK (expiring IN (0, 1)),
    expires_at   INTEGER,
    extended     INTEGER NOT NULL DEFAULT 0 CHECK (extended IN (0, 1)),
    max_age      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL DEFAULT '',
    last_used_at INTEGER,
    managed      INTEGER NOT NULL DEFAULT 0 CHECK (managed IN (0, 1))
) STRICT;

-- A user's tokens in identifier order (ListTokens by user) and the cascade
-- from users.
CREATE INDEX tokens_user_identifier ON tokens (user_uid, identifier);
-- ExpiringBefore filters and the expiry sweeps.
CREATE INDEX tokens_expires_at ON tokens (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX tokens_intent_expires_at ON tokens (intent, expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE token_keys (
    lookup     TEXT    NOT NULL PRIMARY KEY,
    token_uid  TEXT    NOT NULL REFERENCES tokens (uid) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    not_after  INTEGER,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A token's keys newest first (ListTokenKeys, LimitTokenKeys) and the
-- cascade from tokens.
CREATE INDEX token_keys_token ON token_keys (token_uid, created_at);
-- DeleteTokenKeysBefore.
CREATE INDEX token_keys_not_after ON token_keys (not_after) WHERE not_after IS NOT NULL;

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    time           INTEGER NOT NULL,
    action         TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    actor_username TEXT    NOT NULL DEFAULT '',
    actor_type     TEXT    NOT NULL DEFAULT '',
    client_ip      TEXT    NOT NULL DEFAULT '',
    target_kind    TEXT    NOT NULL DEFAULT '',
    target_name    TEXT    NOT NULL DEFAULT '',
    context        TEXT    NOT NULL DEFAULT '{}'
) STRICT;

-- ListEvents returns newest first (id descending); each single-column
-- filter walks its index in id order (the rowid is the implicit last
-- column), and the time range uses events_time.
CREATE INDEX events_time ON events (time);
CREATE INDEX events_action ON events (action);
CREATE INDEX events_actor ON events (actor_username);
CREATE INDEX events_target ON events (target_name);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
