package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// migrateLockKey is the advisory lock that serialises migrations, so that two
// instances starting at once apply the schema one after the other.
const migrateLockKey int64 = 0x75736572_70616e6c // "userpanl"

var versionLine = regexp.MustCompile(`(?m)^-- schema-version: (\d+)\s*$`)

// SchemaVersion reads the "-- schema-version: N" line of a schema file.
func SchemaVersion(schema string) (int, error) {
	m := versionLine.FindStringSubmatch(schema)
	if m == nil {
		return 0, errors.New("db: schema has no '-- schema-version: N' line")
	}
	return strconv.Atoi(m[1])
}

// Migrate brings the database up to the given schema (the text of schema.sql).
// It runs in one transaction under an advisory lock and records the version
// in schema_migrations; a database already at that version is left alone, and
// one at a newer version is refused. It returns whether the schema was applied.
func Migrate(ctx context.Context, conn *sql.DB, schema string) (applied bool, err error) {
	want, err := SchemaVersion(schema)
	if err != nil {
		return false, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("db: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return false, fmt.Errorf("db: migrate: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return false, fmt.Errorf("db: migrate: version table: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return false, fmt.Errorf("db: migrate: read version: %w", err)
	}
	switch {
	case have == want:
		return false, nil
	case have > want:
		return false, fmt.Errorf("db: migrate: the database is at schema version %d, newer than this program's %d", have, want)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return false, fmt.Errorf("db: migrate: apply schema version %d: %w", want, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, want); err != nil {
		return false, fmt.Errorf("db: migrate: record version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("db: migrate: commit: %w", err)
	}
	return true, nil
}

// CurrentSchemaVersion returns the version recorded in the database, 0 if none.
func CurrentSchemaVersion(ctx context.Context, conn *sql.DB) (int, error) {
	// A database never migrated has no schema_migrations table: that is
	// version 0, not an error.
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("db: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v sql.NullInt64
	err := conn.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("db: schema version: %w", err)
	}
	return int(v.Int64), nil
}
