-- Migration 2: applications and their bindings (issue 7).
--
-- A binding ties a user or a group to an application; the two kinds live
-- in two tables so that each has a real foreign key: deleting a user, a
-- group or an application deletes its bindings (cascade).

CREATE TABLE applications (
    uid                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    slug               TEXT COLLATE "C" NOT NULL UNIQUE,
    name               TEXT        NOT NULL,
    url                TEXT        NOT NULL DEFAULT '',
    description        TEXT        NOT NULL DEFAULT '',
    policy_engine_mode TEXT COLLATE "C" NOT NULL DEFAULT 'any' CHECK (policy_engine_mode IN ('any', 'all')),
    created_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE application_user_bindings (
    application_uid TEXT COLLATE "C" NOT NULL REFERENCES applications (uid) ON DELETE CASCADE,
    user_uid        TEXT COLLATE "C" NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    negate          BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (application_uid, user_uid)
);

-- The cascade from users.
CREATE INDEX application_user_bindings_user ON application_user_bindings (user_uid);

CREATE TABLE application_group_bindings (
    application_uid TEXT COLLATE "C" NOT NULL REFERENCES applications (uid) ON DELETE CASCADE,
    group_uid       TEXT COLLATE "C" NOT NULL REFERENCES groups (uid) ON DELETE CASCADE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    negate          BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (application_uid, group_uid)
);

-- The cascade from groups.
CREATE INDEX application_group_bindings_group ON application_group_bindings (group_uid);
