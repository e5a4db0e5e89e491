-- +goose Up
-- How many users' search text holds each three-letter ASCII string, kept by
-- triggers (see schema.sql, search_trigrams): the exact total of the
-- commonest search, three letters or digits, without a count over the table.
CREATE TABLE IF NOT EXISTS search_trigrams (
    trigram text PRIMARY KEY,
    users   bigint NOT NULL DEFAULT 0
);

-- +goose StatementBegin
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION search_trigrams_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('userpanel.seeding', true) = 'on' THEN
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
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION search_trigrams_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_trigrams;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

LOCK TABLE users IN SHARE MODE;
DELETE FROM search_trigrams;
INSERT INTO search_trigrams (trigram, users)
SELECT t, count(*) FROM users, unnest(show_trgm(search)) AS t
WHERE octet_length(t) = 3 AND strpos(t, ' ') = 0
GROUP BY t;

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
