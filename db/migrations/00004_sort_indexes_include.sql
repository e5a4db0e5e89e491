-- +goose Up
-- The sort indexes INCLUDE the column itself, so that PostgreSQL can skip the
-- rows before a deep page with an index-only scan (it cannot for a bare
-- expression index).
DROP INDEX IF EXISTS users_email_c_sort_idx;
DROP INDEX IF EXISTS users_name_c_sort_idx;
CREATE INDEX IF NOT EXISTS users_email_sort_incl_idx ON users ((lower(email) COLLATE "C"), id) INCLUDE (email);
CREATE INDEX IF NOT EXISTS users_name_sort_incl_idx ON users ((lower(name) COLLATE "C"), id) INCLUDE (name);
