-- +goose Up
-- Role counts for the dashboard, kept by triggers (see schema.sql).
-- +goose StatementBegin
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
-- +goose StatementEnd
