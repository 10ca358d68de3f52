-- Migration 8: workload identity federation (issue 18). OIDC issuers whose
-- ID tokens are trusted, trust policies that map a matching ID token to a
-- service account, the ID tokens' jti already exchanged (each is good for
-- one exchange, kept until the ID token expires), and the policy that
-- minted a token: deleting a policy (or its issuer) deletes its tokens.
-- No ID token, private key or secret is stored: only public keys (an
-- inline JWK Set) and claim values named by policies.
CREATE TABLE oidc_issuers (
    uid           TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    issuer_url    TEXT    NOT NULL UNIQUE,
    jwks_url      TEXT    NOT NULL DEFAULT '',
    jwks          TEXT    NOT NULL DEFAULT '',
    allowed_algs  TEXT    NOT NULL, -- JSON list
    leeway        INTEGER NOT NULL, -- nanoseconds
    shared        INTEGER NOT NULL,
    tenant_claims TEXT    NOT NULL, -- JSON list
    created_at    INTEGER NOT NULL
);

CREATE TABLE trust_policies (
    uid           TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    description   TEXT    NOT NULL DEFAULT '',
    issuer_uid    TEXT    NOT NULL REFERENCES oidc_issuers (uid) ON DELETE CASCADE,
    user_uid      TEXT    NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    audience      TEXT    NOT NULL,
    conditions    TEXT    NOT NULL, -- JSON object: claim -> list of values
    permissions   TEXT,             -- JSON list; NULL: the account's
    allowed_cidrs TEXT    NOT NULL, -- JSON list
    ttl           INTEGER NOT NULL, -- nanoseconds
    created_at    INTEGER NOT NULL
);

CREATE INDEX trust_policies_issuer ON trust_policies (issuer_uid, name);
CREATE INDEX trust_policies_user ON trust_policies (user_uid);

-- Keyed by the issuer's URL, not its row: deleting and re-adding an
-- issuer does not make its still-valid ID tokens good again.
CREATE TABLE federation_jtis (
    issuer_url TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer_url, jti)
);

CREATE INDEX federation_jtis_expires ON federation_jtis (expires_at);

ALTER TABLE tokens ADD COLUMN federated_policy_uid TEXT REFERENCES trust_policies (uid) ON DELETE CASCADE;
CREATE INDEX tokens_federated_policy ON tokens (federated_policy_uid) WHERE federated_policy_uid IS NOT NULL;
