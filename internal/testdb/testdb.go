// Package testdb gives each test its own PostgreSQL database, cloned from a
// template migrated as `userpanel migrate` does (schema.sql, stamped at the
// latest db/migrations version), so that tests run in parallel on real
// databases without seeing each other's rows.
package testdb

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the "postgres" driver
	"github.com/peterldowns/pgtestdb"

	"userpanel/db"
)

// EnvVar names the server the tests use.
const EnvVar = "TEST_DATABASE_URL"

var (
	schemaOnce sync.Once
	schemaText string
	schemaErr  error
)

// Schema returns the text of the repository's schema.sql.
func Schema(t testing.TB) string {
	t.Helper()
	schemaOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		var b []byte
		b, schemaErr = os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "schema.sql"))
		schemaText = string(b)
	})
	if schemaErr != nil {
		t.Fatalf("testdb: read schema.sql: %v", schemaErr)
	}
	return schemaText
}

// migrator migrates the template database once per schema text and set of
// migration files: a change to either makes a new template.
type migrator struct{ schema string }

func (m migrator) Hash() (string, error) {
	h := sha256.New()
	h.Write([]byte(m.schema))
	_, file, _, _ := runtime.Caller(0)
	files, err := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "db", "migrations", "*.sql"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write([]byte(filepath.Base(f)))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

func (m migrator) Migrate(ctx context.Context, conn *sql.DB, _ pgtestdb.Config) error {
	_, err := db.Migrate(ctx, conn, m.schema)
	return err
}

// Config reads TEST_DATABASE_URL. A test run without it fails, saying how to
// get one: it never skips silently.
func Config(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv(EnvVar)
	if raw == "" {
		t.Fatalf("%s is not set. Run the tests with `make test`, which starts a project-local PostgreSQL, "+
			"or point %s at a server you may create databases on, e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' go test ./...", EnvVar, EnvVar, EnvVar)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, got %q", EnvVar, raw)
	}
	pass, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	dbName := filepath.Base(u.Path)
	if dbName == "" || dbName == "/" || dbName == "." {
		dbName = "postgres"
	}
	return pgtestdb.Config{
		DriverName:                "postgres",
		Host:                      u.Hostname(),
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pass,
		Database:                  dbName,
		Options:                   q.Encode(),
		ForceTerminateConnections: true,
	}
}

// URL returns the connection URL of a fresh database holding the schema,
// dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	db.UseMinPasswordCostForTests()
	conf := pgtestdb.Custom(t, Config(t), migrator{schema: Schema(t)})
	return conf.URL()
}

// New returns a Store on a fresh database holding the schema; it is closed
// and dropped when the test ends.
func New(t testing.TB) *db.Store {
	t.Helper()
	conn, err := sqlx.Open("postgres", URL(t))
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return db.New(conn)
}
