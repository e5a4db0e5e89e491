package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
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

// catalog describes the database's public schema, one line per object, in
// an order that does not depend on how the objects came to be: tables,
// columns (type, default, nullability; not their position, which ALTER TABLE
// cannot choose), indexes, constraints, triggers and function bodies.
func catalog(t *testing.T, conn *sql.DB) string {
	t.Helper()
	var lines []string
	err := sqlxOf(conn).Select(&lines, `SELECT x FROM (
		SELECT 'table ' || c.relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S', 'v', 'm')
		UNION ALL
		SELECT format('column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
				CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
				COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT format('constraint %s.%s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
			FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
		UNION ALL
		SELECT 'trigger ' || pg_get_triggerdef(g.oid) FROM pg_trigger g WHERE NOT g.tgisinternal
		UNION ALL
		SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = 'public' AND p.prokind = 'f' AND NOT EXISTS (
				SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
		UNION ALL
		SELECT 'extension ' || extname FROM pg_extension
	) t ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// diffLines names the lines only one of two catalogs has.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// oldSchema is one released schema.sql, as db/testdata holds it.
type oldSchema struct {
	name    string
	version int
	text    string
}

// oldSchemas reads db/testdata/schema-v*.sql: every schema.sql released
// before the numbered migrations, including the two versions (1 and 2) whose
// text changed without a new number.
func oldSchemas(t *testing.T) []oldSchema {
	t.Helper()
	files, err := filepath.Glob("testdata/schema-v*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no old schemas in db/testdata: %v", err)
	}
	var out []oldSchema
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, oldSchema{name: strings.TrimSuffix(filepath.Base(f), ".sql"), version: v, text: string(b)})
	}
	return out
}

// migrateLikeBefore does what Migrate did before the numbered files: apply
// the whole schema text in one transaction and record its version alone.
func migrateLikeBefore(t *testing.T, conn *sql.DB, s oldSchema) {
	t.Helper()
	if _, err := conn.Exec(s.text + `;
		CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
		INSERT INTO schema_migrations (version) VALUES (` + fmt.Sprint(s.version) + `)`); err != nil {
		t.Fatalf("create a database at %s: %v", s.name, err)
	}
}

// freshCatalog is the catalog of a new database migrated from schema.sql.
var (
	freshOnce sync.Once
	freshText string
)

func freshCatalog(t *testing.T) string {
	t.Helper()
	freshOnce.Do(func() {
		conn := emptyDB(t)
		if _, err := db.Migrate(context.Background(), conn, testdb.Schema(t)); err != nil {
			t.Fatal(err)
		}
		freshText = catalog(t, conn)
	})
	if freshText == "" {
		t.Fatal("no catalog of a fresh database")
	}
	return freshText
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	v, err := db.SchemaVersion(testdb.Schema(t))
	if err != nil || v < 1 {
		t.Fatalf("SchemaVersion(schema.sql) = %d, %v", v, err)
	}
	if latest, err := db.LatestMigration(); err != nil || latest != v {
		t.Fatalf("LatestMigration() = %d, %v; schema.sql says %d: a change goes in both", latest, err, v)
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

// TestMigrationsMatchSchema replays db/migrations from version 1 on an empty
// database and compares it with one made from schema.sql alone: a change put
// in one place and not the other fails here.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	conn := emptyDB(t)
	n, err := db.RunMigrationFiles(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	if n != latest {
		t.Fatalf("ran %d migration files, want %d", n, latest)
	}
	if got, want := catalog(t, conn), freshCatalog(t); got != want {
		t.Fatalf("version 1 plus every migration differs from schema.sql:\n%s", diffLines(want, got))
	}
}

// TestMigrateUpgrade makes a database at every earlier version the way the
// code of that time did, fills it with users, roles, sessions and audit rows,
// migrates it, and checks the rows survived and the schema is today's.
func TestMigrateUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range oldSchemas(t) {
		t.Run(old.name, func(t *testing.T) {
			t.Parallel()
			conn := emptyDB(t)
			migrateLikeBefore(t, conn, old)
			if _, err := conn.Exec(`
				INSERT INTO users (id, email, name, password_hash, email_verified, banned, ban_reason, banned_at) VALUES
					('00000000-0000-0000-0000-00000000000a', 'Admin@Example.com', 'Ada', 'hash-a', true, false, NULL, NULL),
					('00000000-0000-0000-0000-00000000000b', 'bob@example.com', 'Bob', NULL, false, true, 'spam', now());
				UPDATE users SET banned_by = '00000000-0000-0000-0000-00000000000a' WHERE email = 'bob@example.com';
				INSERT INTO user_roles (user_id, role_id) SELECT '00000000-0000-0000-0000-00000000000a', id FROM roles WHERE name = 'admin';
				INSERT INTO refresh_tokens (user_id, token_hash, user_agent, expires_at)
					VALUES ('00000000-0000-0000-0000-00000000000b', '\x01', 'curl', now() + interval '1 day');
				INSERT INTO audit_log (actor_id, actor_email, action, target_id, target_email, details)
					VALUES ('00000000-0000-0000-0000-00000000000a', 'Admin@Example.com', 'user.ban',
						'00000000-0000-0000-0000-00000000000b', 'bob@example.com', '{"reason": "spam"}')`); err != nil {
				t.Fatalf("fill the %s database: %v", old.name, err)
			}

			applied, err := db.Migrate(ctx, conn, testdb.Schema(t))
			if err != nil {
				t.Fatalf("migrate from %s: %v", old.name, err)
			}
			if applied != (old.version < latest) {
				t.Fatalf("Migrate from version %d applied = %v", old.version, applied)
			}
			if v, err := db.CurrentSchemaVersion(ctx, conn); err != nil || v != latest {
				t.Fatalf("version after the upgrade = %d, %v, want %d", v, err, latest)
			}
			if got := catalog(t, conn); got != freshCatalog(t) {
				t.Fatalf("the upgraded schema differs from schema.sql:\n%s", diffLines(freshCatalog(t), got))
			}

			var got struct {
				Users, Verified, Total, Grants, Tokens, Audit int
				BanReason, BannedBy, Reason                   string
			}
			if err := conn.QueryRow(`SELECT
				(SELECT count(*) FROM users), (SELECT verified FROM user_counts), (SELECT total FROM user_counts),
				(SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
					WHERE r.name = 'admin' AND ur.user_id = '00000000-0000-0000-0000-00000000000a'),
				(SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND user_agent = 'curl'),
				(SELECT count(*) FROM audit_log WHERE action = 'user.ban'),
				(SELECT ban_reason FROM users WHERE email = 'bob@example.com'),
				(SELECT banned_by::text FROM users WHERE email = 'bob@example.com'),
				(SELECT details->>'reason' FROM audit_log LIMIT 1)`).Scan(&got.Users, &got.Verified, &got.Total,
				&got.Grants, &got.Tokens, &got.Audit, &got.BanReason, &got.BannedBy, &got.Reason); err != nil {
				t.Fatal(err)
			}
			want := got
			want.Users, want.Verified, want.Total, want.Grants, want.Tokens, want.Audit = 2, 1, 2, 1, 1, 1
			want.BanReason, want.BannedBy, want.Reason = "spam", "00000000-0000-0000-0000-00000000000a", "spam"
			if got != want {
				t.Fatalf("after the upgrade from %s: %+v, want %+v", old.name, got, want)
			}

			// The upgraded database works as a store, and a second run is a no-op.
			store := db.New(sqlxOf(conn))
			st, err := store.Stats(ctx)
			if err != nil || st.Total != 2 || st.NoRole != 1 || fmt.Sprint(st.ByRole) != "[{admin 1} {manager 0} {support 0}]" {
				t.Fatalf("Stats after the upgrade = %+v, %v", st, err)
			}
			if u, err := store.GetUserByEmail(ctx, "admin@example.com"); err != nil || !u.HasRole("admin") {
				t.Fatalf("the admin after the upgrade = %+v, %v", u, err)
			}
			// Rows written before version 9 are found by the search, which
			// reads the column that version added.
			if res, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Query: "BOB@"}}); err != nil ||
				len(res.Users) != 1 || res.Total != 1 {
				t.Fatalf("search after the upgrade = %+v, %v", res, err)
			}
			if applied, err := db.Migrate(ctx, conn, testdb.Schema(t)); err != nil || applied {
				t.Fatalf("second Migrate = %v, %v, want a no-op", applied, err)
			}
		})
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
		for _, want := range []string{"table users", "table roles", "table user_roles", "table refresh_tokens",
			"table oauth_accounts", "table verification_tokens", "table audit_log", "table user_counts",
			"table schema_migrations", "CREATE TRIGGER users_count_insert"} {
			if !strings.Contains(before, want) {
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
			t.Fatalf("the second Migrate changed the schema:\n%s", diffLines(before, after))
		}
		var users, versions, total int
		if err := conn.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM schema_migrations WHERE version > 0),
			(SELECT total FROM user_counts)`).Scan(&users, &versions, &total); err != nil {
			t.Fatal(err)
		}
		if users != 1 || versions != version || total != 1 {
			t.Fatalf("after the second Migrate: %d users, %d versions recorded (want %d), user_counts.total %d",
				users, versions, version, total)
		}
		// The migrated database works as a store.
		st, err := db.New(sqlxOf(conn)).Stats(ctx)
		if err != nil || st.Total != 1 {
			t.Fatalf("Stats on the migrated database = %+v, %v", st, err)
		}
	})

	t.Run("HandMadeDatabaseAdopted", func(t *testing.T) {
		t.Parallel()
		// schema.sql run by hand, without a recorded version: Migrate adopts
		// it (schema.sql is idempotent) and keeps the rows.
		conn := emptyDB(t)
		if _, err := conn.Exec(schema + `; INSERT INTO users (email) VALUES ('kept@example.com')`); err != nil {
			t.Fatal(err)
		}
		if applied, err := db.Migrate(ctx, conn, schema); err != nil || !applied {
			t.Fatalf("Migrate of a hand-made database = %v, %v", applied, err)
		}
		var users int
		if err := conn.QueryRow(`SELECT total FROM user_counts`).Scan(&users); err != nil || users != 1 {
			t.Fatalf("user_counts.total after adoption = %d, %v", users, err)
		}
		if got := catalog(t, conn); got != freshCatalog(t) {
			t.Fatalf("the adopted schema differs:\n%s", diffLines(freshCatalog(t), got))
		}
	})

	t.Run("NewerDatabaseRefused", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		if _, err := db.Migrate(ctx, conn, schema); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(`INSERT INTO schema_migrations (version) VALUES ($1)`, version+1); err != nil {
			t.Fatal(err)
		}
		before := catalog(t, conn)
		applied, err := db.Migrate(ctx, conn, schema)
		if err == nil || applied {
			t.Fatalf("Migrate of a newer database = %v, %v, want an error", applied, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(version+1)) || !strings.Contains(err.Error(), fmt.Sprint(version)) {
			t.Fatalf("the error does not name both versions: %v", err)
		}
		if after := catalog(t, conn); after != before {
			t.Fatalf("a refused migration changed the schema")
		}
	})

	t.Run("SchemaAndMigrationsDisagree", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		applied, err := db.Migrate(ctx, conn, withVersion(t, schema, version+1))
		if err == nil || applied || !strings.Contains(err.Error(), "db/migrations") {
			t.Fatalf("Migrate with schema.sql ahead of the migrations = %v, %v, want an error", applied, err)
		}
		if got := catalog(t, conn); strings.Contains(got, "table ") {
			t.Fatalf("a refused migration left tables behind: %s", got)
		}
	})

	t.Run("FailedMigrationChangesNothing", func(t *testing.T) {
		t.Parallel()
		conn := emptyDB(t)
		broken := schema + "\nCREATE TABLE broken (;\n"
		if _, err := db.Migrate(ctx, conn, broken); err == nil {
			t.Fatal("a broken schema migrated")
		}
		if got := catalog(t, conn); strings.Contains(got, "table ") {
			t.Fatalf("a failed migration left tables behind: %s", got)
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
		for _, start := range []string{"Empty", "Version1"} {
			t.Run(start, func(t *testing.T) {
				t.Parallel()
				conn := emptyDB(t)
				if start == "Version1" {
					migrateLikeBefore(t, conn, oldSchemas(t)[0])
				}
				const n = 6
				var wg sync.WaitGroup
				gate := make(chan struct{})
				applied := make([]bool, n)
				errs := make([]error, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-gate
						applied[i], errs[i] = db.Migrate(ctx, conn, schema)
					}()
				}
				close(gate)
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
	})
}

func sqlxOf(conn *sql.DB) *sqlx.DB { return sqlx.NewDb(conn, "postgres") }
