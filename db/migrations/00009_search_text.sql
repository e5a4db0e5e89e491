-- +goose Up
-- The substring search reads one pre-lowered column: lower(email), a line
-- break, lower(name). A plain LIKE on it costs a fraction of two ILIKEs (which
-- lowercase both sides of every comparison), and a search can never match
-- across the two, since ListUsers asks email and name apart for a search
-- text holding a line break (db/list.go, where). One trigram index replaces the two, and the sort
-- indexes carry this column instead of email and name, so that a search
-- sorted by email or name filters on the index alone.
ALTER TABLE users ADD COLUMN IF NOT EXISTS search text
    GENERATED ALWAYS AS (lower(email) || E'\n' || lower(name)) STORED;
DROP INDEX IF EXISTS users_email_trgm_idx;
DROP INDEX IF EXISTS users_name_trgm_idx;
CREATE INDEX IF NOT EXISTS users_search_trgm_idx ON users USING gin (search gin_trgm_ops);
DROP INDEX IF EXISTS users_email_sort_cover_idx;
DROP INDEX IF EXISTS users_name_sort_cover_idx;
CREATE INDEX IF NOT EXISTS users_email_search_idx ON users ((lower(email) COLLATE "C"), id) INCLUDE (email, search);
CREATE INDEX IF NOT EXISTS users_name_search_idx ON users ((lower(name) COLLATE "C"), id) INCLUDE (name, search);
