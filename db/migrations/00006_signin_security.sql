-- +goose Up
-- Sign-in security: throttled sign-ins shared by every instance, and
-- passwords that an admin can reset or require to be changed.
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_change_required boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_changed_at timestamptz;

CREATE TABLE IF NOT EXISTS signin_throttle (
    key             text PRIMARY KEY CHECK (length(key) <= 300),
    failures        integer NOT NULL DEFAULT 0,
    window_start    timestamptz NOT NULL DEFAULT now(),
    lockouts        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failure_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS signin_throttle_last_failure_idx ON signin_throttle (last_failure_at);
