-- userpanel schema: the whole current schema, to read and to create a new
-- database with.
-- schema-version: 13
--
-- A new database gets this file whole and is stamped at the version above. An
-- existing database is upgraded by the numbered files in db/migrations/, each
-- in its own transaction, under an advisory lock (see db/migrate.go).
--
-- To change the schema: add db/migrations/0000N_name.sql (goose format, first
-- line `-- +goose Up`), make the same change here idempotently (IF NOT EXISTS,
-- CREATE OR REPLACE, DROP ... IF EXISTS), and raise the version line to N.
-- Migrate refuses to run when the two disagree, and TestMigrationsMatchSchema
-- checks that both give the same database.
--
-- Built for a million users and more: every sort column of the user table has a
-- btree index ending in id (the tiebreaker that keeps pages stable), and the
-- substring search on email and name is served by a pg_trgm GIN index.

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
-- Both INCLUDE the search text (users.search, below; schema version 9): a
-- search sorted by email or name then filters on the index alone, and a deep
-- page of a search skips its rows without a visit to the table for each.
DROP INDEX IF EXISTS users_email_sort_incl_idx;
DROP INDEX IF EXISTS users_name_sort_incl_idx;
DROP INDEX IF EXISTS users_email_sort_cover_idx;
DROP INDEX IF EXISTS users_name_sort_cover_idx;
-- Deleting a user sets banned_by to NULL on the bans they made; without this
-- index that check scans every user.
CREATE INDEX IF NOT EXISTS users_banned_by_idx ON users (banned_by) WHERE banned_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS users_created_at_idx ON users (created_at, id);
CREATE INDEX IF NOT EXISTS users_last_login_at_idx ON users (last_login_at NULLS FIRST, id);
-- Banned users are few: counting the bans in force is an index-only scan.
DROP INDEX IF EXISTS users_banned_idx;
CREATE INDEX IF NOT EXISTS users_banned_until_idx ON users (banned_until, email_verified) WHERE banned;

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

-- Sign-in security (migration 00006).
-- A password set by an admin, or the admin's "change it at next sign-in",
-- makes the panel ask for a new one before anything else.
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_change_required boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_changed_at timestamptz;

-- Failed sign-ins, counted per account (key 'email:' + the lower-cased
-- address, whether or not such an account exists) and per client address
-- (key 'addr:' + the address, an IPv6 one as its /64), in PostgreSQL so that
-- every instance of the panel sees the same counts. A key is locked until
-- locked_until; lockouts counts the locks in a row, so that each lasts
-- longer than the one before, and starts again after a quiet day.
CREATE TABLE IF NOT EXISTS signin_throttle (
    key             text PRIMARY KEY CHECK (length(key) <= 300),
    failures        integer NOT NULL DEFAULT 0,
    window_start    timestamptz NOT NULL DEFAULT now(),
    lockouts        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failure_at timestamptz NOT NULL DEFAULT now()
);
-- Old rows are swept by age.
CREATE INDEX IF NOT EXISTS signin_throttle_last_failure_idx ON signin_throttle (last_failure_at);

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

-- Per-day rollups for the dashboard (schema version 5). The counts that
-- would otherwise scan the users table (signups per day, signed in within N
-- days, bans in force) are kept here by statement-level triggers in the same
-- transaction as the change, so that the dashboard reads a few dozen rows and
-- every number stays exact. One row per UTC day:
--   signups   users (still there) created that day;
--   logins    users whose last sign-in was that day. "Signed in within N
--             days" is a sliding window, and since last_login_at only moves
--             forward a user counts on exactly one day: the reader sums the
--             whole days of the window and counts its first, partial day in
--             the last_login_at index;
--   ban_ends  users banned on record whose ban ends that day ('infinity'
--             for a ban without an end). "Bans in force" changes with the
--             clock, not with a write: the reader sums the days after today
--             and counts today's few ends against now().
CREATE TABLE IF NOT EXISTS user_days (
    day      date PRIMARY KEY,
    signups  bigint NOT NULL DEFAULT 0,
    logins   bigint NOT NULL DEFAULT 0,
    ban_ends bigint NOT NULL DEFAULT 0
);

-- user_days_apply adds one signed row per changed user (+1 for a row a
-- statement wrote, -1 for the row it replaced or removed) to the days those
-- rows count on. Days are upserted in order, so that two statements that
-- touch the same days lock them in the same order and cannot deadlock.
CREATE OR REPLACE FUNCTION user_days_apply(signs integer[], created timestamptz[], logins timestamptz[],
                                           banned boolean[], ends timestamptz[]) RETURNS void
LANGUAGE sql AS $$
    WITH changed AS (
        SELECT * FROM unnest(signs, created, logins, banned, ends) AS c(sign, created_at, last_login_at, banned, banned_until)
    ), per_day AS (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sign AS s, 0 AS l, 0 AS b FROM changed
        UNION ALL
        SELECT (last_login_at AT TIME ZONE 'UTC')::date, 0, sign, 0 FROM changed WHERE last_login_at IS NOT NULL
        UNION ALL
        SELECT COALESCE((banned_until AT TIME ZONE 'UTC')::date, 'infinity'), 0, 0, sign FROM changed WHERE banned
    )
    INSERT INTO user_days AS d (day, signups, logins, ban_ends)
    SELECT day, sum(s), sum(l), sum(b) FROM per_day
    GROUP BY day
    HAVING sum(s) <> 0 OR sum(l) <> 0 OR sum(b) <> 0
    ORDER BY day
    ON CONFLICT (day) DO UPDATE SET
        signups = d.signups + EXCLUDED.signups,
        logins = d.logins + EXCLUDED.logins,
        ban_ends = d.ban_ends + EXCLUDED.ban_ends
$$;

-- Sign-ins per hour (schema version 12): "signed in within 30 days" is a
-- window that starts at now() - 30 days, inside an hour of its first day.
-- user_days gives the whole days after that day, user_hours the whole hours
-- of the rest of it, and the last_login_at index only the part of one hour
-- after the window's start: the dashboard reads at most an hour of the
-- index, never a day. Only the last 32 days are kept: last_login_at only
-- moves forward, so a sign-in older than that never falls into the window
-- again (the hours it left behind are never read).
CREATE TABLE IF NOT EXISTS user_hours (
    hour   timestamp PRIMARY KEY, -- UTC
    logins bigint NOT NULL DEFAULT 0
);

-- Hours are upserted in order, after the statement's days, so that two
-- statements lock them in the same order and cannot deadlock.
CREATE OR REPLACE FUNCTION user_hours_apply(signs integer[], logins timestamptz[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO user_hours AS h (hour, logins)
    SELECT date_trunc('hour', l AT TIME ZONE 'UTC'), sum(s)
    FROM unnest(signs, logins) AS c(s, l)
    WHERE l > now() - interval '32 days'
    GROUP BY 1
    HAVING sum(s) <> 0
    ORDER BY 1
    ON CONFLICT (hour) DO UPDATE SET logins = h.logins + EXCLUDED.logins
$$;

CREATE OR REPLACE FUNCTION user_days_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger has.
    IF TG_OP = 'INSERT' AND current_setting('userpanel.seed_recount', true) = 'on' THEN
        -- A seed into an empty table recounts once at its end
        -- (user_days_recount) instead of adding each batch (db/seed.go).
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM user_days_apply(array_agg(1), array_agg(created_at), array_agg(last_login_at),
                                array_agg(banned), array_agg(banned_until)),
                user_hours_apply(array_agg(1), array_agg(last_login_at))
        FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM user_days_apply(array_agg(-1), array_agg(created_at), array_agg(last_login_at),
                                array_agg(banned), array_agg(banned_until)),
                user_hours_apply(array_agg(-1), array_agg(last_login_at))
        FROM old_rows;
    ELSE
        -- Most updates (renames, a verified flag) move no day: only the
        -- users whose days changed are passed on.
        PERFORM user_days_apply(array_agg(c.sign), array_agg(c.created_at), array_agg(c.last_login_at),
                                array_agg(c.banned), array_agg(c.banned_until)),
                user_hours_apply(array_agg(c.sign), array_agg(c.last_login_at))
        FROM (
            SELECT 1 AS sign, n.created_at, n.last_login_at, n.banned, n.banned_until
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.created_at, n.last_login_at, n.banned, n.banned_until)
                  IS DISTINCT FROM (o.created_at, o.last_login_at, o.banned, o.banned_until)
            UNION ALL
            SELECT -1, o.created_at, o.last_login_at, o.banned, o.banned_until
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (n.created_at, n.last_login_at, n.banned, n.banned_until)
                  IS DISTINCT FROM (o.created_at, o.last_login_at, o.banned, o.banned_until)
        ) c
        HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION user_days_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_days;
    DELETE FROM user_hours;
    RETURN NULL;
END
$$;

-- A full recount of the days and the hours from the users table (schema
-- version 13): the schema's starting point below, and the end of a seed into
-- an empty table, whose batches skip the triggers. Exact only while writes to
-- users wait (or wait on the rollups' rows).
CREATE OR REPLACE FUNCTION user_days_recount() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM user_days;
    INSERT INTO user_days (day, signups, logins, ban_ends)
    SELECT day, sum(s), sum(l), sum(b) FROM (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS s, 0 AS l, 0 AS b FROM users
        UNION ALL
        SELECT (last_login_at AT TIME ZONE 'UTC')::date, 0, 1, 0 FROM users WHERE last_login_at IS NOT NULL
        UNION ALL
        SELECT COALESCE((banned_until AT TIME ZONE 'UTC')::date, 'infinity'), 0, 0, 1 FROM users WHERE banned
    ) c
    GROUP BY day
    ORDER BY day;
    DELETE FROM user_hours;
    INSERT INTO user_hours (hour, logins)
    SELECT date_trunc('hour', last_login_at AT TIME ZONE 'UTC'), count(*) FROM users
    WHERE last_login_at > now() - interval '32 days'
    GROUP BY 1
    ORDER BY 1;
$$;

-- The rollup starts from a full recount, taken while writes to users wait,
-- so that it is exact from the first change on; applying the schema again
-- recounts again, which keeps it idempotent.
LOCK TABLE users IN SHARE MODE;
SELECT user_days_recount();

DROP TRIGGER IF EXISTS users_days_insert ON users;
CREATE TRIGGER users_days_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_on_change();
DROP TRIGGER IF EXISTS users_days_delete ON users;
CREATE TRIGGER users_days_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_on_change();
DROP TRIGGER IF EXISTS users_days_update ON users;
CREATE TRIGGER users_days_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_on_change();
DROP TRIGGER IF EXISTS users_days_truncate ON users;
CREATE TRIGGER users_days_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_days_on_truncate();

-- Sign-in methods for the dashboard (schema version 8): how many users sign
-- in with a password only, and how many are linked to each OAuth provider,
-- kept exact by triggers so that the dashboard never scans users or
-- oauth_accounts. users.oauth_links counts a user's OAuth accounts; changing
-- it locks the user's row, which serialises two links made for one user at
-- once. The 'password' row counts users with a password and no link; each
-- provider's row counts the users linked to it (a user with two accounts at
-- one provider counts once).
ALTER TABLE users ADD COLUMN IF NOT EXISTS oauth_links integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS signin_methods (
    method text PRIMARY KEY,
    users  bigint NOT NULL DEFAULT 0
);

-- A user statement moves the 'password' count by the users it made, removed
-- or changed into or out of "a password and no link".
CREATE OR REPLACE FUNCTION signin_methods_on_users() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta bigint := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        delta := delta + (SELECT count(*) FROM new_rows WHERE password_hash IS NOT NULL AND oauth_links = 0);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        delta := delta - (SELECT count(*) FROM old_rows WHERE password_hash IS NOT NULL AND oauth_links = 0);
    END IF;
    -- Sign-ins and renames change nothing here: no write, no queue on the row.
    IF delta <> 0 THEN
        INSERT INTO signin_methods AS m (method, users) VALUES ('password', delta)
        ON CONFLICT (method) DO UPDATE SET users = m.users + EXCLUDED.users;
    END IF;
    RETURN NULL;
END
$$;

-- An OAuth statement moves the providers' counts and its users' oauth_links
-- (and through the trigger above the 'password' count). It locks the rows of
-- the providers it touches first, in order: that serialises two statements
-- linking or unlinking at one provider (the second waits, then sees the
-- first's rows), and every path takes its locks in the same order (provider,
-- then user, then 'password'). One race remains: unlinking an account
-- while its user is being deleted locks the account and the user in opposite
-- orders; PostgreSQL then rolls one of the two back (a deadlock error), and
-- the counts stay exact. A (user, provider) pair
-- counts when its first account is made and stops counting when its last is
-- removed. The seed sets userpanel.seeding and counts its own rows instead.
CREATE OR REPLACE FUNCTION signin_methods_on_oauth() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('userpanel.seeding', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO signin_methods (method, users)
        SELECT DISTINCT provider, 0 FROM new_rows ORDER BY 1
        ON CONFLICT (method) DO NOTHING;
        PERFORM 1 FROM signin_methods WHERE method IN (SELECT provider FROM new_rows) ORDER BY method FOR UPDATE;
        UPDATE signin_methods m SET users = m.users + g.users
        FROM (
            SELECT provider, count(*) AS users FROM (
                SELECT n.user_id, n.provider, count(*) AS added FROM new_rows n GROUP BY n.user_id, n.provider
            ) p
            WHERE p.added = (SELECT count(*) FROM oauth_accounts o WHERE o.user_id = p.user_id AND o.provider = p.provider)
            GROUP BY provider
        ) g
        WHERE m.method = g.provider;
        UPDATE users u SET oauth_links = u.oauth_links + c.n
        FROM (SELECT user_id, count(*) AS n FROM new_rows GROUP BY user_id ORDER BY user_id) c
        WHERE u.id = c.user_id;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM signin_methods WHERE method IN (SELECT provider FROM old_rows) ORDER BY method FOR UPDATE;
        UPDATE signin_methods m SET users = m.users - g.users
        FROM (
            SELECT provider, count(*) AS users FROM (SELECT DISTINCT user_id, provider FROM old_rows) p
            WHERE NOT EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = p.user_id AND o.provider = p.provider)
            GROUP BY provider
        ) g
        WHERE m.method = g.provider;
        -- No user row when the user is being deleted (the cascade): their
        -- 'password' share is settled by the user's own delete.
        UPDATE users u SET oauth_links = u.oauth_links - c.n
        FROM (SELECT user_id, count(*) AS n FROM old_rows GROUP BY user_id ORDER BY user_id) c
        WHERE u.id = c.user_id;
    END IF;
    RETURN NULL;
END
$$;

-- Moving an OAuth account to another user or provider is not something the
-- panel does; it is refused rather than miscounted.
CREATE OR REPLACE FUNCTION signin_methods_refuse_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'oauth_accounts: delete the account and link a new one instead of moving it';
END
$$;

CREATE OR REPLACE FUNCTION signin_methods_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        DELETE FROM signin_methods;
    ELSE
        UPDATE users SET oauth_links = 0 WHERE oauth_links <> 0;
        DELETE FROM signin_methods WHERE method <> 'password';
    END IF;
    RETURN NULL;
END
$$;

-- Start from a full recount while writes wait, so that the counts are exact
-- from the first change on; applying the schema again recounts again.
LOCK TABLE users, oauth_accounts IN SHARE MODE;
UPDATE users u SET oauth_links = c.n
FROM (SELECT u2.id, count(o.id) AS n FROM users u2 LEFT JOIN oauth_accounts o ON o.user_id = u2.id GROUP BY u2.id) c
WHERE c.id = u.id AND u.oauth_links <> c.n;
DELETE FROM signin_methods;
INSERT INTO signin_methods (method, users)
SELECT 'password', count(*) FROM users WHERE password_hash IS NOT NULL AND oauth_links = 0
UNION ALL
SELECT provider, count(DISTINCT user_id) FROM oauth_accounts GROUP BY provider;

DROP TRIGGER IF EXISTS users_signin_methods_insert ON users;
CREATE TRIGGER users_signin_methods_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_users();
DROP TRIGGER IF EXISTS users_signin_methods_delete ON users;
CREATE TRIGGER users_signin_methods_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_users();
DROP TRIGGER IF EXISTS users_signin_methods_update ON users;
CREATE TRIGGER users_signin_methods_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_users();
DROP TRIGGER IF EXISTS users_signin_methods_truncate ON users;
CREATE TRIGGER users_signin_methods_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_truncate();
DROP TRIGGER IF EXISTS oauth_accounts_signin_methods ON oauth_accounts;
DROP TRIGGER IF EXISTS oauth_accounts_signin_methods_insert ON oauth_accounts;
CREATE TRIGGER oauth_accounts_signin_methods_insert AFTER INSERT ON oauth_accounts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_oauth();
DROP TRIGGER IF EXISTS oauth_accounts_signin_methods_delete ON oauth_accounts;
CREATE TRIGGER oauth_accounts_signin_methods_delete AFTER DELETE ON oauth_accounts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_oauth();
DROP TRIGGER IF EXISTS oauth_accounts_signin_methods_move ON oauth_accounts;
CREATE TRIGGER oauth_accounts_signin_methods_move BEFORE UPDATE OF user_id, provider ON oauth_accounts
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.provider IS DISTINCT FROM NEW.provider)
    EXECUTE FUNCTION signin_methods_refuse_move();
DROP TRIGGER IF EXISTS oauth_accounts_signin_methods_truncate ON oauth_accounts;
CREATE TRIGGER oauth_accounts_signin_methods_truncate AFTER TRUNCATE ON oauth_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION signin_methods_on_truncate();

-- The substring search (schema version 9) reads one pre-lowered column:
-- lower(email), a line break, lower(name). A plain LIKE on it costs a
-- fraction of two ILIKEs, which lowercase both sides of every comparison, and
-- is the same match; a search cannot match across the two, since ListUsers
-- asks email and name apart for a search text holding a line break. One
-- trigram index serves every search and its count, and the sort indexes of
-- email and name carry the column so that a sorted search filters on the
-- index alone.
ALTER TABLE users ADD COLUMN IF NOT EXISTS search text
    GENERATED ALWAYS AS (lower(email) || E'\n' || lower(name)) STORED;
DROP INDEX IF EXISTS users_email_trgm_idx;
DROP INDEX IF EXISTS users_name_trgm_idx;
CREATE INDEX IF NOT EXISTS users_search_trgm_idx ON users USING gin (search gin_trgm_ops);
CREATE INDEX IF NOT EXISTS users_email_search_idx ON users ((lower(email) COLLATE "C"), id) INCLUDE (email, search);
CREATE INDEX IF NOT EXISTS users_name_search_idx ON users ((lower(name) COLLATE "C"), id) INCLUDE (name, search);

-- Search totals (schema version 10). The commonest search is three letters
-- or digits, and it is also the one a trigram index serves worst: "son"
-- matches one user in sixteen, and counting them rechecks that many rows all
-- over the table. search_trigrams keeps, for each three-character string of
-- ASCII letters and digits, how many users' search text holds it, kept by
-- statement triggers in the same transaction as each change, as user_counts
-- is. For such a string a substring match and pg_trgm's trigram are the same
-- thing (all three characters are word characters, and pg_trgm stores an
-- ASCII trigram as itself, not as a hash), so the count is exact. Trigrams
-- are upserted in order, so that two statements lock them in one order and
-- cannot deadlock.
CREATE TABLE IF NOT EXISTS search_trigrams (
    trigram text PRIMARY KEY,
    users   bigint NOT NULL DEFAULT 0
);

CREATE OR REPLACE FUNCTION search_trigrams_apply(signs integer[], texts text[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO search_trigrams AS s (trigram, users)
    SELECT t, sum(c.sign)
    FROM unnest(signs, texts) AS c(sign, search), unnest(show_trgm(c.search)) AS t
    WHERE octet_length(t) = 3 AND strpos(t, ' ') = 0
    GROUP BY t
    HAVING sum(c.sign) <> 0
    ORDER BY t
    ON CONFLICT (trigram) DO UPDATE SET users = s.users + EXCLUDED.users
$$;

CREATE OR REPLACE FUNCTION search_trigrams_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('userpanel.seed_recount', true) = 'on' THEN
        -- A seed into an empty table recounts once at its end
        -- (search_trigrams_recount).
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' AND current_setting('userpanel.seeding', true) = 'on' THEN
        -- The seed's batches add to its own temporary table, summed into
        -- search_trigrams once at its end (db/seed.go): one upsert of each
        -- trigram instead of one per batch.
        INSERT INTO seed_trigrams (trigram, users)
        SELECT t, count(*) FROM new_rows, unnest(show_trgm(search)) AS t
        WHERE octet_length(t) = 3 AND strpos(t, ' ') = 0
        GROUP BY t;
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM search_trigrams_apply(array_agg(1), array_agg(search)) FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM search_trigrams_apply(array_agg(-1), array_agg(search)) FROM old_rows;
    ELSE
        PERFORM search_trigrams_apply(array_agg(c.sign), array_agg(c.search))
        FROM (
            SELECT 1 AS sign, n.search FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.search IS DISTINCT FROM o.search
            UNION ALL
            SELECT -1, o.search FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.search IS DISTINCT FROM o.search
        ) c
        HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION search_trigrams_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_trigrams;
    RETURN NULL;
END
$$;

-- A full recount (schema version 13), as user_days_recount is for the days.
-- The counting goes into a temporary table first: CREATE TABLE AS may read
-- users with parallel workers (half the time on two cores), INSERT ... SELECT
-- may not.
CREATE OR REPLACE FUNCTION search_trigrams_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMPORARY TABLE search_trigrams_recounted AS
    SELECT t AS trigram, count(*) AS users FROM users, unnest(show_trgm(search)) AS t
    WHERE octet_length(t) = 3 AND strpos(t, ' ') = 0
    GROUP BY t;
    DELETE FROM search_trigrams;
    INSERT INTO search_trigrams (trigram, users)
    SELECT trigram, users FROM search_trigrams_recounted ORDER BY trigram;
    DROP TABLE search_trigrams_recounted;
END
$$;

LOCK TABLE users IN SHARE MODE;
SELECT search_trigrams_recount();

DROP TRIGGER IF EXISTS users_trigrams_insert ON users;
CREATE TRIGGER users_trigrams_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_trigrams_on_change();
DROP TRIGGER IF EXISTS users_trigrams_delete ON users;
CREATE TRIGGER users_trigrams_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_trigrams_on_change();
DROP TRIGGER IF EXISTS users_trigrams_update ON users;
CREATE TRIGGER users_trigrams_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_trigrams_on_change();
DROP TRIGGER IF EXISTS users_trigrams_truncate ON users;
CREATE TRIGGER users_trigrams_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION search_trigrams_on_truncate();

-- Role counts (schema version 11): how many users hold each role, and, in
-- the row of role_id 0, how many hold at least one, kept exact by statement
-- triggers on user_roles in the same transaction as each grant and removal,
-- so that the dashboard's per-role counts and its "no role" read a few rows
-- instead of counting user_roles. A statement locks the row of role 0 first
-- and then its roles' rows in order: role changes serialise on that row
-- (they are few and short), and no two can deadlock on these rows. Whether a
-- user gained their first role or lost their last is read after the lock, so
-- a change committed meanwhile is seen. The seed's batches go through it
-- too: staff are few, so it costs them little.
CREATE TABLE IF NOT EXISTS role_counts (
    role_id smallint PRIMARY KEY,
    users   bigint NOT NULL DEFAULT 0
);

CREATE OR REPLACE FUNCTION role_counts_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM new_rows) THEN
            RETURN NULL;
        END IF;
        INSERT INTO role_counts (role_id, users)
        SELECT r, 0 FROM (SELECT 0 AS r UNION SELECT role_id FROM new_rows) ids ORDER BY r
        ON CONFLICT (role_id) DO NOTHING;
        PERFORM 1 FROM role_counts WHERE role_id = 0 OR role_id IN (SELECT role_id FROM new_rows)
        ORDER BY role_id FOR UPDATE;
        UPDATE role_counts c SET users = c.users + g.n
        FROM (
            SELECT role_id, count(*) AS n FROM new_rows GROUP BY role_id
            UNION ALL
            SELECT 0, count(*) FROM (SELECT user_id, count(*) AS added FROM new_rows GROUP BY user_id) p
            WHERE p.added = (SELECT count(*) FROM user_roles ur WHERE ur.user_id = p.user_id)
        ) g
        WHERE c.role_id = g.role_id AND g.n <> 0;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
            RETURN NULL;
        END IF;
        PERFORM 1 FROM role_counts WHERE role_id = 0 OR role_id IN (SELECT role_id FROM old_rows)
        ORDER BY role_id FOR UPDATE;
        UPDATE role_counts c SET users = c.users - g.n
        FROM (
            SELECT role_id, count(*) AS n FROM old_rows GROUP BY role_id
            UNION ALL
            SELECT 0, count(*) FROM (SELECT DISTINCT user_id FROM old_rows) p
            WHERE NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = p.user_id)
        ) g
        WHERE c.role_id = g.role_id AND g.n <> 0;
    END IF;
    RETURN NULL;
END
$$;

-- Moving a grant to another user or role is not something the panel does;
-- it is refused rather than miscounted.
CREATE OR REPLACE FUNCTION role_counts_refuse_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'user_roles: remove the role and grant the other instead of moving it';
END
$$;

CREATE OR REPLACE FUNCTION role_counts_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE role_counts SET users = 0 WHERE users <> 0;
    RETURN NULL;
END
$$;

-- Start from a full recount while role changes wait; applying the schema
-- again recounts again.
LOCK TABLE user_roles IN SHARE MODE;
DELETE FROM role_counts;
INSERT INTO role_counts (role_id, users)
SELECT 0, count(DISTINCT user_id) FROM user_roles
UNION ALL
SELECT r.id, (SELECT count(*) FROM user_roles ur WHERE ur.role_id = r.id) FROM roles r;

DROP TRIGGER IF EXISTS user_roles_counts_insert ON user_roles;
CREATE TRIGGER user_roles_counts_insert AFTER INSERT ON user_roles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION role_counts_on_change();
DROP TRIGGER IF EXISTS user_roles_counts_delete ON user_roles;
CREATE TRIGGER user_roles_counts_delete AFTER DELETE ON user_roles
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION role_counts_on_change();
DROP TRIGGER IF EXISTS user_roles_counts_refuse_move ON user_roles;
CREATE TRIGGER user_roles_counts_refuse_move BEFORE UPDATE OF user_id, role_id ON user_roles
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.role_id IS DISTINCT FROM NEW.role_id)
    EXECUTE FUNCTION role_counts_refuse_move();
DROP TRIGGER IF EXISTS user_roles_counts_truncate ON user_roles;
CREATE TRIGGER user_roles_counts_truncate AFTER TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION role_counts_on_truncate();

