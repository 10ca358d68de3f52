-- Migration 2: applications and their bindings (issue 7).
--
-- A binding ties a user or a group to an application; the two kinds live
-- in two tables so that each has a real foreign key: deleting a user, a
-- group or an application deletes its bindings (cascade).

CREATE TABLE applications (
    uid                TEXT    NOT NULL PRIMARY KEY,
    slug               TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    url                TEXT    NOT NULL DEFAULT '',
    description        TEXT    NOT NULL DEFAULT '',
    policy_engine_mode TEXT    NOT NULL DEFAULT 'any' CHECK (policy_engine_mode IN ('any', 'all')),
    created_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE application_user_bindings (
    application_uid TEXT    NOT NULL REFERENCES applications (uid) ON DELETE CASCADE,
    user_uid        TEXT    NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    negate          INTEGER NOT NULL DEFAULT 0 CHECK (negate IN (0, 1)),
    PRIMARY KEY (application_uid, user_uid)
) STRICT, WITHOUT ROWID;

-- The cascade from users.
CREATE INDEX application_user_bindings_user ON application_user_bindings (user_uid);

CREATE TABLE application_group_bindings (
    application_uid TEXT    NOT NULL REFERENCES applications (uid) ON DELETE CASCADE,
    group_uid       TEXT    NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    negate          INTEGER NOT NULL DEFAULT 0 CHECK (negate IN (0, 1)),
    PRIMARY KEY (application_uid, group_uid)
) STRICT, WITHOUT ROWID;

-- The cascade from groups.
CREATE INDEX application_group_bindings_group ON application_group_bindings (group_uid);
