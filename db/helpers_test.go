package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// testPassword is the password of every fixture user inserted with SQL.
const testPassword = testdb.Password

// passwordHash returns testPassword's bcrypt hash at the lowest cost
// (testdb.PasswordHash). Authenticate reads the cost from the stored hash, so
// fixture users sign in in a millisecond instead of the seconds that cost 11
// takes under the race detector.
func passwordHash(testing.TB) string { return testdb.PasswordHash() }

// sysCtx is a context whose changes are made by a system actor.
func sysCtx() context.Context {
	return db.WithActor(context.Background(), db.SystemActor("test"))
}

// asUser is a context whose changes are made by the given user.
func asUser(u fixture) context.Context {
	return db.WithActor(context.Background(), db.Actor{ID: u.ID, Email: u.Email})
}

// fixture is a user row inserted directly with SQL.
type fixture struct {
	ID          string
	Email       string
	Name        string
	Verified    bool
	Roles       []string
	CreatedAt   time.Time // zero means now()
	LastLoginAt *time.Time
	Banned      bool
	BannedUntil *time.Time
}

// bannedAt reports whether the fixture's ban is in force at now, computed in
// Go as a user would reason about it.
func (f fixture) bannedAt(now time.Time) bool {
	return f.Banned && (f.BannedUntil == nil || f.BannedUntil.After(now))
}

// insertUsers inserts the fixtures in one statement (plus one for roles) and
// fills in their ids.
func insertUsers(t testing.TB, s *db.Store, fs []fixture) []fixture {
	t.Helper()
	if len(fs) == 0 {
		return fs
	}
	hash := passwordHash(t)
	var rows []string
	var args []any
	for _, f := range fs {
		n := len(args)
		var created any
		if !f.CreatedAt.IsZero() {
			created = f.CreatedAt
		}
		var reason any
		if f.Banned {
			reason = "fixture ban"
		}
		rows = append(rows, fmt.Sprintf("($%d, $%d, $%d, $%d, COALESCE($%d::timestamptz, now()), $%d::timestamptz, $%d, $%d, $%d::timestamptz)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9))
		args = append(args, f.Email, f.Name, hash, f.Verified, created, f.LastLoginAt, f.Banned, reason, f.BannedUntil)
	}
	var got []struct {
		ID    string `db:"id"`
		Email string `db:"email"`
	}
	q := `INSERT INTO users (email, name, password_hash, email_verified, created_at, last_login_at, banned, ban_reason, banned_until)
		VALUES ` + strings.Join(rows, ",\n") + ` RETURNING id, email`
	if err := s.DB().Select(&got, q, args...); err != nil {
		t.Fatalf("insert fixtures: %v", err)
	}
	ids := map[string]string{}
	for _, g := range got {
		ids[g.Email] = g.ID
	}
	out := make([]fixture, len(fs))
	var emails, roles []string
	for i, f := range fs {
		f.ID = ids[f.Email]
		if f.ID == "" {
			t.Fatalf("insert fixtures: no id for %q", f.Email)
		}
		out[i] = f
		for _, r := range f.Roles {
			emails = append(emails, f.Email)
			roles = append(roles, r)
		}
	}
	if len(roles) > 0 {
		res, err := s.DB().Exec(`INSERT INTO user_roles (user_id, role_id)
			SELECT u.id, r.id FROM unnest($1::text[], $2::text[]) AS x(email, role)
			JOIN users u ON u.email = x.email JOIN roles r ON r.name = x.role`,
			pq.Array(emails), pq.Array(roles))
		if err != nil {
			t.Fatalf("insert fixture roles: %v", err)
		}
		if n, _ := res.RowsAffected(); int(n) != len(roles) {
			t.Fatalf("insert fixture roles: %d rows for %d grants (unknown role?)", n, len(roles))
		}
	}
	return out
}

// insertUser inserts one fixture user.
func insertUser(t testing.TB, s *db.Store, f fixture) fixture {
	t.Helper()
	return insertUsers(t, s, []fixture{f})[0]
}

// staff inserts a verified user holding the given roles.
func staff(t testing.TB, s *db.Store, email string, roles ...string) fixture {
	t.Helper()
	return insertUser(t, s, fixture{Email: email, Name: email, Verified: true, Roles: roles})
}

// countRows runs a count(*) style query.
func countRows(t testing.TB, s *db.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, q, args...); err != nil {
		t.Fatalf("count %q: %v", q, err)
	}
	return n
}

// auditRows returns every audit row, oldest first.
func auditRows(t testing.TB, s *db.Store) []db.AuditEntry {
	t.Helper()
	var rows []db.AuditEntry
	if err := s.DB().Select(&rows, `SELECT id, at, actor_id, actor_email, action, target_id,
		COALESCE(target_email, '') AS target_email, details::text AS details FROM audit_log ORDER BY id`); err != nil {
		t.Fatalf("read audit log: %v", err)
	}
	return rows
}

// usersSnapshot is the whole users table as text, to prove a refused change
// changed nothing.
func usersSnapshot(t testing.TB, s *db.Store) string {
	t.Helper()
	var snap string
	if err := s.DB().Get(&snap, `SELECT COALESCE(string_agg(t::text, E'\n' ORDER BY t::text), '') FROM (
		SELECT u.*, ARRAY(SELECT role_id FROM user_roles ur WHERE ur.user_id = u.id ORDER BY role_id) AS roles
		FROM users u) t`); err != nil {
		t.Fatalf("snapshot users: %v", err)
	}
	return snap
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// wantValidation fails the test unless err is a *db.ValidationError on field.
func wantValidation(t testing.TB, err error, field string) {
	t.Helper()
	var ve *db.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want a *db.ValidationError on %q", err, err, field)
	}
	if ve.Field != field {
		t.Fatalf("ValidationError.Field = %q (%v), want %q", ve.Field, ve, field)
	}
	if ve.Reason == "" {
		t.Fatalf("ValidationError on %q has no reason", field)
	}
}

// newStore is testdb.New under a shorter name.
func newStore(t testing.TB) *db.Store {
	t.Helper()
	return testdb.New(t)
}

func ptr[T any](v T) *T { return &v }
