-- Migration 1: the whole schema.
--
-- Conventions (see the package documentation):
--   times      timestamptz (microseconds)
--   durations  BIGINT nanoseconds
--   keys/names TEXT COLLATE "C": byte-order comparison and sorting,
--              whatever the database locale, so that keyset pagination
--              (name > $after ORDER BY name) agrees with Go's sort order
--              and with the SQLite backend
-- Every table is created unqualified: it lands in the first schema of the
-- search_path (Options.Schema when set).

CREATE TABLE users (
    uid                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    username            TEXT COLLATE "C" NOT NULL UNIQUE,
    type                TEXT COLLATE "C" NOT NULL,
    name                TEXT        NOT NULL DEFAULT '',
    email               TEXT        NOT NULL DEFAULT '',
    description         TEXT        NOT NULL DEFAULT '',
    is_active           BOOLEAN     NOT NULL DEFAULT TRUE,
    managed             BOOLEAN     NOT NULL DEFAULT FALSE,
    password_hash       TEXT        NOT NULL DEFAULT '',
    password_changed_at TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    last_login_at       TIMESTAMPTZ
);

-- ListUsers filtered by type walks this index in username order;
-- CountUsersByType reads it alone.
CREATE INDEX users_type_username ON users (type, username);

CREATE TABLE groups (
    uid         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE group_members (
    group_uid TEXT COLLATE "C" NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    user_uid  TEXT COLLATE "C" NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    PRIMARY KEY (group_uid, user_uid)
);

-- A user's groups (UserGroups, UserGrants) and the cascade from users.
CREATE INDEX group_members_user ON group_members (user_uid, group_uid);

CREATE TABLE roles (
    uid         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT        NOT NULL DEFAULT '',
    builtin     BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE role_permissions (
    role_uid   TEXT COLLATE "C" NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    permission TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (role_uid, permission)
);

CREATE TABLE role_user_assignments (
    role_uid TEXT COLLATE "C" NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    user_uid TEXT COLLATE "C" NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    PRIMARY KEY (role_uid, user_uid)
);

-- A user's direct roles (UserGrants) and the cascade from users.
CREATE INDEX role_user_assignments_user ON role_user_assignments (user_uid, role_uid);

CREATE TABLE role_group_assignments (
    role_uid  TEXT COLLATE "C" NOT NULL REFERENCES roles (uid) ON DELETE CASCADE,
    group_uid TEXT COLLATE "C" NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    PRIMARY KEY (role_uid, group_uid)
);

-- A group's roles (GroupRoles, UserGrants) and the cascade from groups.
CREATE INDEX role_group_assignments_group ON role_group_assignments (group_uid, role_uid);

CREATE TABLE user_permissions (
    user_uid   TEXT COLLATE "C" NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    permission TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_uid, permission)
);

CREATE TABLE tokens (
    uid          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    identifier   TEXT COLLATE "C" NOT NULL UNIQUE,
    user_uid     TEXT COLLATE "C" NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    intent       TEXT COLLATE "C" NOT NULL,
    description  TEXT        NOT NULL DEFAULT '',
    expiring     BOOLEAN     NOT NULL DEFAULT FALSE,
    expires_at   TIMESTAMPTZ,
    extended     BOOLEAN     NOT NULL DEFAULT FALSE,
    max_age      BIGINT      NOT NULL DEFAULT 0 CHECK (max_age >= 0),
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT        NOT NULL DEFAULT '',
    last_used_at TIMESTAMPTZ,
    managed      BOOLEAN     NOT NULL DEFAULT FALSE
);

-- A user's tokens in identifier order (ListTokens by user) and the cascade
-- from users.
CREATE INDEX tokens_user_identifier ON tokens (user_uid, identifier);
-- ExpiringBefore filters and ManagedTokensExpiringBefore.
CREATE INDEX tokens_expires_at ON tokens (expires_at) WHERE expires_at IS NOT NULL;
-- ExpiredTokens: one intent, oldest expiry first.
CREATE INDEX tokens_intent_expires_at ON tokens (intent, expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE token_keys (
    lookup     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    token_uid  TEXT COLLATE "C" NOT NULL REFERENCES tokens (uid) ON DELETE CASCADE,
    hash       BYTEA       NOT NULL,
    not_after  TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);

-- A token's keys newest first (ListTokenKeys, LimitTokenKeys) and the
-- cascade from tokens.
CREATE INDEX token_keys_token ON token_keys (token_uid, created_at);
-- DeleteTokenKeysBefore.
CREATE INDEX token_keys_not_after ON token_keys (not_after) WHERE not_after IS NOT NULL;

CREATE TABLE events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time           TIMESTAMPTZ NOT NULL,
    action         TEXT COLLATE "C" NOT NULL,
    outcome        TEXT COLLATE "C" NOT NULL,
    actor_username TEXT COLLATE "C" NOT NULL DEFAULT '',
    actor_type     TEXT COLLATE "C" NOT NULL DEFAULT '',
    client_ip      TEXT        NOT NULL DEFAULT '',
    target_kind    TEXT COLLATE "C" NOT NULL DEFAULT '',
    target_name    TEXT COLLATE "C" NOT NULL DEFAULT '',
    context        JSONB       NOT NULL DEFAULT '{}'
);

-- ListEvents returns newest first (id descending). Each equality filter
-- has an (x, id) index, so a filtered page is an index range scan read
-- backwards, stopping after LIMIT rows; the time range uses events_time.
CREATE INDEX events_time ON events (time);
CREATE INDEX events_action_id ON events (action, id);
CREATE INDEX events_actor_id ON events (actor_username, id);
CREATE INDEX events_target_id ON events (target_name, id);

CREATE TABLE settings (
    key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
