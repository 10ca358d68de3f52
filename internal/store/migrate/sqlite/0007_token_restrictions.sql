-- Migration 7: least-privilege credentials. A token's restrictions (its
-- own permissions, the networks, applications and LDAP providers it is
-- bound to) as one JSON document, NULL for none; fixed for the token's
-- life, read with the token at every cold key lookup.
ALTER TABLE tokens ADD COLUMN restrictions TEXT;
