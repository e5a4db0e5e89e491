package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// The numbered migrations run with pressly/goose: a well-kept library that
// parses goose-format SQL files, runs each in its own transaction with its
// version row, and refuses a database that skipped a file. What it does not
// do for us (a new database gets schema.sql whole; versions recorded by the
// code before goose) is the bootstrap step below.

// migrations holds db/migrations/*.sql, compiled into the binary.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrateLockKey is the advisory lock that serialises migrations, so that two
// instances starting at once migrate one after the other.
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

// LatestMigration returns the number of the last file in db/migrations, the
// version a migrated database ends at.
func LatestMigration() (int, error) {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return 0, fmt.Errorf("db: migrations: %w", err)
	}
	latest := int64(0)
	for _, f := range files {
		v, err := goose.NumericComponent(f)
		if err != nil {
			return 0, fmt.Errorf("db: migrations: %s: %w", f, err)
		}
		latest = max(latest, v)
	}
	if latest == 0 {
		return 0, errors.New("db: no migrations embedded")
	}
	return int(latest), nil
}

// Migrate brings the database to the latest version. A database without a
// recorded version gets schema (the text of schema.sql) whole and is stamped
// at the latest version; one with a version runs the numbered files above it,
// each in its own transaction. Everything happens under an advisory lock, so
// concurrent callers migrate one after the other. A database at a newer
// version than this program knows is refused, and so is a schema.sql whose
// version line disagrees with the last migration file. It returns whether
// anything was applied.
func Migrate(ctx context.Context, conn *sql.DB, schema string) (applied bool, err error) {
	want, err := SchemaVersion(schema)
	if err != nil {
		return false, err
	}
	latest, err := LatestMigration()
	if err != nil {
		return false, err
	}
	if want != latest {
		return false, fmt.Errorf("db: migrate: schema.sql says version %d but db/migrations ends at %d: "+
			"a schema change goes in both", want, latest)
	}
	unlock, err := lockMigrations(ctx, conn)
	if err != nil {
		return false, err
	}
	defer unlock()
	applied, err = bootstrap(ctx, conn, schema, latest)
	if err != nil {
		return false, err
	}
	n, err := runMigrations(ctx, conn)
	if err != nil {
		return false, err
	}
	return applied || n > 0, nil
}

// lockMigrations takes the advisory lock in a transaction of its own that
// holds it until unlock: the lock goes with the transaction, so a crash or a
// lost connection can never leave it held.
func lockMigrations(ctx context.Context, conn *sql.DB) (unlock func(), err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: migrate: begin lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		tx.Rollback() //nolint:errcheck // the lock error says what went wrong
		return nil, fmt.Errorf("db: migrate: lock: %w", err)
	}
	return func() { tx.Rollback() }, nil //nolint:errcheck // ending the transaction releases the lock
}

// bootstrap creates schema_migrations, applies schema.sql to a database with
// no recorded version, and completes the record of a database migrated by the
// code before goose (which stored only the version it reached: 1 to 4), since
// goose expects a row for every file up to the current one.
func bootstrap(ctx context.Context, conn *sql.DB, schema string, latest int) (applied bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("db: migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, createVersionTable); err != nil {
		return false, fmt.Errorf("db: migrate: version table: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return false, fmt.Errorf("db: migrate: read version: %w", err)
	}
	switch {
	case have > latest:
		return false, fmt.Errorf("db: migrate: the database is at schema version %d, newer than this program's %d", have, latest)
	case have == 0:
		// schema.sql is idempotent, so a database made by hand from it (tables
		// but no version) is adopted the same way as an empty one.
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return false, fmt.Errorf("db: migrate: apply schema version %d: %w", latest, err)
		}
		have, applied = latest, true
	}
	// Version 0 is goose's "the table exists" row.
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version)
		SELECT v FROM generate_series(0, $1::integer) v ON CONFLICT (version) DO NOTHING`, have); err != nil {
		return false, fmt.Errorf("db: migrate: record version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("db: migrate: commit: %w", err)
	}
	return applied, nil
}

// runMigrations runs the numbered files the database has not had yet and
// returns how many ran.
func runMigrations(ctx context.Context, conn *sql.DB) (int, error) {
	p, err := newProvider(conn)
	if err != nil {
		return 0, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	return len(results), nil
}

// newProvider builds goose's runner over the embedded files and our version
// table. It logs nothing: the callers report the version reached.
func newProvider(conn *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectCustom, conn, fsys,
		goose.WithStore(versionStore{}), goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	return p, nil
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

// createVersionTable is the table the code before goose made, kept so that
// its databases need no conversion: one row per version reached.
const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// versionStore is goose's record of applied migrations, kept in our
// schema_migrations table instead of goose's own.
type versionStore struct{}

var _ database.StoreExtender = versionStore{}

func (versionStore) Tablename() string { return "schema_migrations" }

func (versionStore) CreateVersionTable(ctx context.Context, db database.DBTxConn) error {
	_, err := db.ExecContext(ctx, createVersionTable)
	return err
}

func (versionStore) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var exists bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	return exists, err
}

func (versionStore) Insert(ctx context.Context, db database.DBTxConn, req database.InsertRequest) error {
	_, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, req.Version)
	return err
}

func (versionStore) Delete(ctx context.Context, db database.DBTxConn, version int64) error {
	_, err := db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = $1`, version)
	return err
}

func (versionStore) GetMigration(ctx context.Context, db database.DBTxConn, version int64) (*database.GetMigrationResult, error) {
	var at time.Time
	err := db.QueryRowContext(ctx, `SELECT applied_at FROM schema_migrations WHERE version = $1`, version).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, database.ErrVersionNotFound
	}
	if err != nil {
		return nil, err
	}
	return &database.GetMigrationResult{Timestamp: at, IsApplied: true}, nil
}

func (versionStore) GetLatestVersion(ctx context.Context, db database.DBTxConn) (int64, error) {
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	if !v.Valid {
		return 0, database.ErrVersionNotFound
	}
	return v.Int64, nil
}

func (versionStore) ListMigrations(ctx context.Context, db database.DBTxConn) ([]*database.ListMigrationsResult, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*database.ListMigrationsResult
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, &database.ListMigrationsResult{Version: v, IsApplied: true})
	}
	return out, rows.Err()
}
