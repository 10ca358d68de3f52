-- Migration 9: token listings that stay fast at a million tokens. Every
-- listing is a page in identifier order; these indexes give the planner
-- an ordered walk for each documented filter, so a page reads its 50
-- rows instead of sorting every match.

-- One account's tokens of one intent (?user=&intent=) in identifier
-- order; (user_uid, identifier) stays for ?user= alone and the cascade.
CREATE INDEX tokens_user_intent_identifier ON tokens (user_uid, intent, identifier);

-- Every account's tokens of one intent in identifier order: the
-- fleet-wide page when many tokens match its other filters.
CREATE INDEX tokens_intent_identifier ON tokens (intent, identifier);
