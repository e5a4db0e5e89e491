-- +goose Up
-- Email and name sort case-insensitively in code-point order (COLLATE "C"),
-- the same on every server whatever its locale; version 1's (lower(email), id)
-- and (name, id) indexes served no query after that.
DROP INDEX IF EXISTS users_email_sort_idx;
DROP INDEX IF EXISTS users_name_sort_idx;
CREATE INDEX IF NOT EXISTS users_email_c_sort_idx ON users ((lower(email) COLLATE "C"), id);
CREATE INDEX IF NOT EXISTS users_name_c_sort_idx ON users ((lower(name) COLLATE "C"), id);
-- Counting the bans in force is an index-only scan. Two releases of version 1
-- had different indexes named users_banned_idx; both give way to this one.
DROP INDEX IF EXISTS users_banned_idx;
CREATE INDEX IF NOT EXISTS users_banned_until_idx ON users (banned_until, email_verified) WHERE banned;
