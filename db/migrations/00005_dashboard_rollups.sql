-- +goose Up
-- Per-day rollups for the dashboard (user_days, kept by triggers) and sort
-- indexes that cover a search, so that every page is fast at a million users.
-- Both INCLUDE email and name (schema version 5): a search sorted by email
-- or name then filters on the index alone, and a deep page of a search skips
-- its rows without a visit to the table for each.
DROP INDEX IF EXISTS users_email_sort_incl_idx;
DROP INDEX IF EXISTS users_name_sort_incl_idx;
CREATE INDEX IF NOT EXISTS users_email_sort_cover_idx ON users ((lower(email) COLLATE "C"), id) INCLUDE (email, name);
CREATE INDEX IF NOT EXISTS users_name_sort_cover_idx ON users ((lower(name) COLLATE "C"), id) INCLUDE (name, email);

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
-- +goose StatementBegin
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION user_days_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger has.
    IF TG_OP = 'INSERT' THEN
        PERFORM user_days_apply(array_agg(1), array_agg(created_at), array_agg(last_login_at),
                                array_agg(banned), array_agg(banned_until))
        FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM user_days_apply(array_agg(-1), array_agg(created_at), array_agg(last_login_at),
                                array_agg(banned), array_agg(banned_until))
        FROM old_rows;
    ELSE
        -- Most updates (renames, a verified flag) move no day: only the
        -- users whose days changed are passed on.
        PERFORM user_days_apply(array_agg(c.sign), array_agg(c.created_at), array_agg(c.last_login_at),
                                array_agg(c.banned), array_agg(c.banned_until))
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION user_days_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_days;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The rollup starts from a full recount, taken while writes to users wait,
-- so that it is exact from the first change on; applying the schema again
-- recounts again, which keeps it idempotent.
LOCK TABLE users IN SHARE MODE;
DELETE FROM user_days;
INSERT INTO user_days (day, signups, logins, ban_ends)
SELECT day, sum(s), sum(l), sum(b) FROM (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS s, 0 AS l, 0 AS b FROM users
    UNION ALL
    SELECT (last_login_at AT TIME ZONE 'UTC')::date, 0, 1, 0 FROM users WHERE last_login_at IS NOT NULL
    UNION ALL
    SELECT COALESCE((banned_until AT TIME ZONE 'UTC')::date, 'infinity'), 0, 0, 1 FROM users WHERE banned
) c
GROUP BY day;

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
