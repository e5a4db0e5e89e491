-- +goose Up

-- Panel sign-ins: one row per browser session of a staff member. The cookie
-- carries a random token; only its SHA-256 is kept here, so that a copy of
-- this table signs nobody in. session_version is the user's at sign-in: a
-- sign-out everywhere, a ban or a password change raises the user's, which
-- ends every row at once on every instance. Idle and absolute limits are
-- checked on every request against last_seen_at and created_at.
CREATE TABLE IF NOT EXISTS panel_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_version integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    client_addr     text NOT NULL DEFAULT '' CHECK (length(client_addr) <= 64),
    user_agent      text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512)
);
CREATE INDEX IF NOT EXISTS panel_sessions_user_idx ON panel_sessions (user_id, created_at DESC);
