-- Migration 10: one account's tokens expiring within a window
-- (?user=&intent=&expiring_within=), at a million tokens. Migration 9's
-- (user_uid, intent, identifier) walk reads every token of the account
-- and intent from the table to test its expiry: 400 rows for a fleet
-- account, most of them outside a narrow window. This index holds only
-- expiring tokens, by account, intent and expiry, so a narrow window
-- reads just the tokens in it (then sorts them into identifier order);
-- a wide window still walks the identifier index and stops at the page's
-- end.
CREATE INDEX tokens_user_intent_expires_at ON tokens (user_uid, intent, expires_at) WHERE expiring;

-- Which of the two the planner takes depends on how many tokens the
-- account holds. A few accounts (CI fleets) hold most tokens; the
-- default statistics keep the 100 most common owners, too few to know
-- them, and estimated every account at the average. 1,000 keeps them.
-- The new target counts from the next ANALYZE; autovacuum may not run one
-- for a long while (or ever, where it is off), so it runs now: a few
-- seconds at a million tokens.
ALTER TABLE tokens ALTER COLUMN user_uid SET STATISTICS 1000;
ANALYZE tokens;
