-- +goose Up
-- Sign-ins per hour for the dashboard's 30-day window (see schema.sql).
-- +goose StatementBegin
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
    IF TG_OP = 'INSERT' THEN
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

LOCK TABLE users IN SHARE MODE;
DELETE FROM user_hours;
INSERT INTO user_hours (hour, logins)
SELECT date_trunc('hour', last_login_at AT TIME ZONE 'UTC'), count(*) FROM users
WHERE last_login_at > now() - interval '32 days'
GROUP BY 1;
-- +goose StatementEnd
