-- Users, their sites and their sign-in sessions (SQLite).
-- A user's identity, role and sites are audited in the hash chain (record
-- kind `user`): the audit entry's `row_hash` binds the user's audited state
-- (id, username, display name, role, sites, disabled), so a role or a site
-- granted by raw SQL is found by `pdva audit verify`. The password hash,
-- failed attempts and lock-out are operational and not audited.
CREATE TABLE app_user (
    id              TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    all_sites       INTEGER NOT NULL DEFAULT 0,
    password_hash   TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE app_user_site (
    user_id   TEXT NOT NULL REFERENCES app_user (id),
    site_code TEXT NOT NULL,
    PRIMARY KEY (user_id, site_code)
);

-- A session's id is the SHA-256 of the random token the cookie carries: a
-- copy of this table signs nobody in.
CREATE TABLE app_session (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES app_user (id),
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX app_session_user ON app_session (user_id);
