-- +goose Up
-- A seed into an empty table recounts the days, the hours and the search
-- totals once at its end instead of adding each batch to them (see
-- schema.sql and db/seed.go): the recounts become functions, and the insert
-- triggers step aside while userpanel.seed_recount is on.
-- +goose StatementBegin
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
-- +goose StatementEnd
