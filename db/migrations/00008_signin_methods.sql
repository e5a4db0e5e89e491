-- +goose Up
-- Sign-in methods for the dashboard, kept by triggers (see schema.sql).
-- +goose StatementBegin
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
-- +goose StatementEnd
