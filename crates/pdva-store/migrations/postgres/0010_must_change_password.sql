-- An administrator's password reset gives the user a temporary password
-- that they must replace at their next sign-in: until they do, every page
-- but the change-password form sends them there and their API tokens are
-- refused. Audited with the account's state (set by the reset, cleared by
-- the user's own change), so a flag cleared by raw SQL is found.
ALTER TABLE app_user ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
