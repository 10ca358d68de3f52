-- Migration 3: LDAP providers and their outposts (issue 5).

CREATE TABLE ldap_providers (
    uid          TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    base_dn      TEXT    NOT NULL,
    search_group TEXT    NOT NULL DEFAULT '',
    bind_mode    TEXT    NOT NULL DEFAULT 'direct' CHECK (bind_mode IN ('direct', 'cached')),
    search_mode  TEXT    NOT NULL DEFAULT 'cached' CHECK (search_mode IN ('direct', 'cached')),
    upn_domain   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
) STRICT;

-- An outpost authenticates as its own internal service account; deleting
-- the account (which only the outpost's own deletion does: the account is
-- managed) takes the outpost with it. A provider cannot be deleted while
-- an outpost serves it (no cascade: the outpost's account would be left).
CREATE TABLE ldap_outposts (
    uid          TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL DEFAULT '',
    provider_uid TEXT    NOT NULL REFERENCES ldap_providers (uid),
    user_uid     TEXT    NOT NULL UNIQUE REFERENCES users (uid) ON DELETE CASCADE,
    token_ttl    INTEGER NOT NULL DEFAULT 0, -- nanoseconds: the lifetime the outpost renews its token for
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX ldap_outposts_provider ON ldap_outposts (provider_uid, name);
