-- API tokens: a user's bearer credentials for the JSON API (/api/v1/).
-- Only the SHA-256 of a token is kept (a copy of this table authenticates
-- nobody). A token acts as its user, with the user's current role and
-- sites. Its creation and revocation are audit entries (record kind
-- `api_token`) whose `row_hash` binds the token's audited state (all but
-- `last_used_at`, which is operational), so a token written or revived by
-- raw SQL is found by `pdva audit verify`. Tokens are revoked, never deleted.
CREATE TABLE api_token (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES app_user (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_by   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_token_user ON api_token (user_id);
CREATE TRIGGER api_token_no_delete BEFORE DELETE ON api_token
BEGIN SELECT RAISE(ABORT, 'API tokens are revoked, never deleted'); END;
