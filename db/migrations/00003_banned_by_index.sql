-- +goose Up
-- Deleting a user sets banned_by to NULL on the bans they made; without this
-- index that check scans every user.
CREATE INDEX IF NOT EXISTS users_banned_by_idx ON users (banned_by) WHERE banned_by IS NOT NULL;
-- The first release of version 2 still named the bans-in-force index
-- users_banned_idx; a database migrated by it gets the right one here.
DROP INDEX IF EXISTS users_banned_idx;
CREATE INDEX IF NOT EXISTS users_banned_until_idx ON users (banned_until, email_verified) WHERE banned;
