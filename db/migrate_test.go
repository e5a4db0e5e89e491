package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// emptyDB returns a connection to a fresh database with nothing in it.
func emptyDB(t *testing.T) *sql.DB {
	t.Helper()
	return pgtestdb.New(t, testdb.Config(t), pgtestdb.NoopMigrator{})
}

// withVersion rewrites the schema's version line.
func withVersion(t *testing.T, schema string, v int) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^-- schema-version: \d+$`)
	if !re.MatchString(schema) {
		t.Fatal("schema.sql has no version line")
	}
	return re.ReplaceAllString(schema, fmt.Sprintf("-- schema-version: %d", v))
}

// catalog lists the database's tables, indexes, functions and triggers.
func catalog(t *testing.T, conn *sql.DB) string {
	t.Helper()
	var out string
	err := conn.QueryRow(`SELECT COALESCE(string_agg(x, ',' ORDER BY x), '') FROM (
		SELECT 'rel:' || relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'S')
		UNION ALL SELECT 'fn:' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = 'public' AND p.prokind = 'f' AND NOT EXISTS (
				SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
		UNION ALL SELECT 'trigger:' || tgname FROM pg_trigger WHERE NOT tgisinternal) t`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	v, err := db.SchemaVersion(testdb.Schema(t))
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion(schema.sql) = %d, %v", v, err)
	}
	for _, c := range []struct {
		text string
		want int
		ok   bool
	}{
		{"-- schema-version: 7\nCREATE TABLE x ();", 7, true},
		{"-- a comment\n-- schema-version: 12   \n", 12, true},
		{"CREATE TABLE x ();", 0, false},
		{"-- schema-version: seven", 0, false},
		{"SELECT 1; -- schema-version: 3", 0, false},
	} {
		got, err := db.SchemaVersion(c.text)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("SchemaVersion(%q) = %d, %v", c.text, got, err)
		}
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := testdb.Schema(t)
	version, err := db.SchemaVersion(schema)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("FreshDatabaseTwice", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		if v, err := db.CurrentSchemaVersion(ctx, conn); err != nil || v != 0 {
			t.Fatalf("CurrentSchemaVersion of an empty database = %d, %v, want 0", v, err)
		}
		applied, err := db.Migrate(ctx, conn, schema)
		if err != nil || !applied {
			t.Fatalf("first Migrate = %v, %v, want applied", applied, err)
		}
		if v, err := db.CurrentSchemaVersion(ctx, conn); err != nil || v != version {
			t.Fatalf("CurrentSchemaVersion = %d, %v, want %d", v, err, version)
		}
		before := catalog(t, conn)
		for _, want := range []string{"rel:users", "rel:roles", "rel:user_roles", "rel:refresh_tokens", "rel:oauth_accounts",
			"rel:verification_tokens", "rel:audit_log", "rel:user_counts", "rel:schema_migrations", "trigger:users_count_insert"} {
			if !strings.Contains(before+",", want+",") {
				t.Fatalf("after Migrate the database lacks %s: %s", want, before)
			}
		}
		// A user made in between must survive the second run.
		if _, err := conn.Exec(`INSERT INTO users (email) VALUES ('kept@example.com')`); err != nil {
			t.Fatal(err)
		}
		applied, err = db.Migrate(ctx, conn, schema)
		if err != nil || applied {
			t.Fatalf("second Migrate = %v, %v, want a no-op", applied, err)
		}
		if after := catalog(t, conn); after != before {
			t.Fatalf("the second Migrate changed the schema:\n%s\n%s", before, after)
		}
		var users, versions, total int
		if err := conn.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM schema_migrations),
			(SELECT total FROM user_counts)`).Scan(&users, &versions, &total); err != nil {
			t.Fatal(err)
		}
		if users != 1 || versions != 1 || total != 1 {
			t.Fatalf("after the second Migrate: %d users, %d versions recorded, user_counts.total %d", users, versions, total)
		}
		// The migrated database works as a store.
		st, err := db.New(sqlxOf(conn)).Stats(ctx)
		if err != nil || st.Total != 1 {
			t.Fatalf("Stats on the migrated database = %+v, %v", st, err)
		}
	})

	t.Run("Upgrade", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		if _, err := db.Migrate(ctx, conn, schema); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(`INSERT INTO users (email, email_verified) VALUES ('a@example.com', true), ('b@example.com', false);
			INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r WHERE r.name = 'admin'`); err != nil {
			t.Fatal(err)
		}
		// The same statements under a higher version: every statement is
		// idempotent, so an upgrade keeps the data and the counts.
		applied, err := db.Migrate(ctx, conn, withVersion(t, schema, version+1))
		if err != nil || !applied {
			t.Fatalf("upgrade = %v, %v", applied, err)
		}
		var users, admins, roles, total, verified, current int
		if err := conn.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM user_roles),
			(SELECT count(*) FROM roles), (SELECT total FROM user_counts), (SELECT verified FROM user_counts),
			(SELECT max(version) FROM schema_migrations)`).Scan(&users, &admins, &roles, &total, &verified, &current); err != nil {
			t.Fatal(err)
		}
		if users != 2 || admins != 2 || roles != 3 || total != 2 || verified != 1 || current != version+1 {
			t.Fatalf("after the upgrade: users=%d grants=%d roles=%d total=%d verified=%d version=%d",
				users, admins, roles, total, verified, current)
		}
	})

	t.Run("OlderSchemaRefused", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		if _, err := db.Migrate(ctx, conn, withVersion(t, schema, version+1)); err != nil {
			t.Fatal(err)
		}
		before := catalog(t, conn)
		older := withVersion(t, schema, version) + "\nCREATE TABLE must_not_exist (id int);\n"
		applied, err := db.Migrate(ctx, conn, older)
		if err == nil || applied {
			t.Fatalf("Migrate with an older schema = %v, %v, want an error", applied, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(version+1)) || !strings.Contains(err.Error(), fmt.Sprint(version)) {
			t.Fatalf("the error does not name both versions: %v", err)
		}
		if after := catalog(t, conn); after != before {
			t.Fatalf("a refused migration changed the schema")
		}
	})

	t.Run("FailedMigrationChangesNothing", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		broken := schema + "\nCREATE TABLE broken (;\n"
		if _, err := db.Migrate(ctx, conn, broken); err == nil {
			t.Fatal("a broken schema migrated")
		}
		if got := catalog(t, conn); got != "" {
			t.Fatalf("a failed migration left %s behind", got)
		}
		if v, err := db.CurrentSchemaVersion(ctx, conn); err != nil || v != 0 {
			t.Fatalf("CurrentSchemaVersion after a failed migration = %d, %v", v, err)
		}
		if _, err := db.Migrate(ctx, conn, "CREATE TABLE x ();"); err == nil {
			t.Fatal("a schema without a version line migrated")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		const n = 6
		var wg sync.WaitGroup
		start := make(chan struct{})
		applied := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				applied[i], errs[i] = db.Migrate(ctx, conn, schema)
			}()
		}
		close(start)
		wg.Wait()
		count := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent Migrate %d: %v", i, errs[i])
			}
			if applied[i] {
				count++
			}
		}
		if count != 1 {
			t.Fatalf("%d of %d concurrent Migrate calls applied the schema, want exactly 1", count, n)
		}
		if v, err := db.CurrentSchemaVersion(ctx, conn); err != nil || v != version {
			t.Fatalf("version after concurrent migrations = %d, %v", v, err)
		}
	})
}

func sqlxOf(conn *sql.DB) *sqlx.DB { return sqlx.NewDb(conn, "postgres") }
