-- userpanel schema.
-- schema-version: 7
-- Raise the version with every change; keep every statement idempotent
-- (IF NOT EXISTS, ADD COLUMN IF NOT EXISTS) so that an upgrade keeps the data.
--
-- Applied by `userpanel migrate` inside one transaction under an advisory lock,
-- and recorded in schema_migrations. Every statement is idempotent so that a
-- database created by hand from this file can still be migrated later.
--
-- Built for a million users and more: every sort column of the user table has a
-- btree index ending in id (the tiebreaker that keeps pages stable), and the
-- substring search on email and name is served by pg_trgm GIN indexes.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE IF NOT EXISTS users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name            text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    -- NULL for accounts that only sign in through an OAuth provider.
    password_hash   text,
    email_verified  boolean NOT NULL DEFAULT false,
    -- A ban is in force while banned is true and banned_until is NULL or in
    -- the future; an expired ban needs no job to lift it.
    banned          boolean NOT NULL DEFAULT false,
    ban_reason      text,
    banned_until    timestamptz,
    banned_at       timestamptz,
    -- The banning staff member may be deleted later; the ban must survive.
    banned_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Bumped to sign a staff member out of the panel everywhere.
    session_version integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);

CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower_key ON users (lower(email));
-- Email and name sort case-insensitively ("alice" before "Bob") in code-point
-- order (COLLATE "C"), so that the order is the same on every server whatever
-- its locale. These two indexes match ListUsers' ORDER BY expressions exactly,
-- and INCLUDE the column itself so that PostgreSQL can skip the rows before a
-- deep page with an index-only scan (it cannot for a bare expression index).
DROP INDEX IF EXISTS users_email_sort_idx;
DROP INDEX IF EXISTS users_name_sort_idx;
DROP INDEX IF EXISTS users_email_c_sort_idx;
DROP INDEX IF EXISTS users_name_c_sort_idx;
CREATE INDEX IF NOT EXISTS users_email_sort_incl_idx ON users ((lower(email) COLLATE "C"), id) INCLUDE (email);
CREATE INDEX IF NOT EXISTS users_name_sort_incl_idx ON users ((lower(name) COLLATE "C"), id) INCLUDE (name);
-- Deleting a user sets banned_by to NULL on the bans they made; without this
-- index that check scans every user.
CREATE INDEX IF NOT EXISTS users_banned_by_idx ON users (banned_by) WHERE banned_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS users_created_at_idx ON users (created_at, id);
CREATE INDEX IF NOT EXISTS users_last_login_at_idx ON users (last_login_at NULLS FIRST, id);
-- Banned users are few: counting the bans in force is an index-only scan.
DROP INDEX IF EXISTS users_banned_idx;
CREATE INDEX IF NOT EXISTS users_banned_until_idx ON users (banned_until, email_verified) WHERE banned;
CREATE INDEX IF NOT EXISTS users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
CREATE INDEX IF NOT EXISTS users_name_trgm_idx ON users USING gin (name gin_trgm_ops);

CREATE TABLE IF NOT EXISTS roles (
    id          smallserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    description text NOT NULL DEFAULT ''
);

INSERT INTO roles (name, description) VALUES
    ('admin', 'Everything: users, roles, the audit log'),
    ('support', 'Search users, ban and unban, sign users out'),
    ('manager', 'The counts dashboard, aggregates only')
ON CONFLICT (name) DO NOTHING;

CREATE TABLE IF NOT EXISTS user_roles (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id    smallint NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX IF NOT EXISTS user_roles_role_idx ON user_roles (role_id, user_id);

-- The application's sessions (refresh tokens), which a ban or "sign out
-- everywhere" revokes.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    user_agent  text NOT NULL DEFAULT '',
    ip          inet,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_user_idx ON refresh_tokens (user_id, created_at);

CREATE TABLE IF NOT EXISTS oauth_accounts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider         text NOT NULL,
    provider_user_id text NOT NULL,
    email            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_user_id)
);
CREATE INDEX IF NOT EXISTS oauth_accounts_user_idx ON oauth_accounts (user_id);

CREATE TABLE IF NOT EXISTS verification_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    purpose     text NOT NULL DEFAULT 'email',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX IF NOT EXISTS verification_tokens_user_idx ON verification_tokens (user_id);

-- The audit log keeps actor and target as plain values, without foreign
-- keys, so that it outlives the users it names.
CREATE TABLE IF NOT EXISTS audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     uuid,
    actor_email  text NOT NULL,
    action       text NOT NULL,
    target_id    uuid,
    target_email text,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at, id);
CREATE INDEX IF NOT EXISTS audit_log_target_idx ON audit_log (target_id, at);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor_id, at);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action, at);

-- Exact totals without count(*): at a million rows a full count costs
-- hundreds of milliseconds, so statement-level triggers keep the two numbers
-- every page needs. Banned users are few and counted through their partial
-- index instead, because a ban expires by the clock.
CREATE TABLE IF NOT EXISTS user_counts (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    total     bigint NOT NULL,
    verified  bigint NOT NULL
);
INSERT INTO user_counts (singleton, total, verified)
SELECT true, count(*), count(*) FILTER (WHERE email_verified) FROM users
ON CONFLICT (singleton) DO NOTHING;

CREATE OR REPLACE FUNCTION user_counts_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_counts SET
        total = total + (SELECT count(*) FROM new_rows),
        verified = verified + (SELECT count(*) FROM new_rows WHERE email_verified);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION user_counts_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_counts SET
        total = total - (SELECT count(*) FROM old_rows),
        verified = verified - (SELECT count(*) FROM old_rows WHERE email_verified);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION user_counts_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta bigint;
BEGIN
    SELECT (SELECT count(*) FROM new_rows WHERE email_verified)
         - (SELECT count(*) FROM old_rows WHERE email_verified) INTO delta;
    -- Most updates (sign-ins, renames) do not touch the count; skipping the
    -- write keeps them from queueing on the counter row.
    IF delta <> 0 THEN
        UPDATE user_counts SET verified = verified + delta;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION user_counts_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_counts SET total = 0, verified = 0;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS users_count_insert ON users;
CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_counts_on_insert();
DROP TRIGGER IF EXISTS users_count_delete ON users;
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_counts_on_delete();
DROP TRIGGER IF EXISTS users_count_update ON users;
CREATE TRIGGER users_count_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_counts_on_update();
DROP TRIGGER IF EXISTS users_count_truncate ON users;
CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_counts_on_truncate();

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
