package testdb

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"userpanel/db"
)

// The fixtures every package's tests share: one password, one way to add an
// account, one log buffer. Hashing is at bcrypt's minimum cost everywhere in
// tests: New and URL lower db's cost for the process, and the accounts added
// here carry a minimum-cost hash (sign-in reads the cost from the hash).

// Password is the password of every account AddUser makes.
const Password = "fixture-Password-4711"

// PasswordHash is Password's bcrypt hash at the minimum cost, made once.
var PasswordHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(Password), bcrypt.MinCost)
	if err != nil {
		panic(err) // only for a password over 72 bytes
	}
	return string(h)
})

// AddUser inserts a verified account with Password and the given roles (none
// makes a plain user, who may not sign in to the panel) and returns its id.
// It writes no audit row: a fixture is not a staff member's action.
func AddUser(t testing.TB, store *db.Store, email, name string, roles ...string) string {
	t.Helper()
	var id string
	err := store.DB().GetContext(context.Background(), &id, `WITH u AS (
			INSERT INTO users (email, name, password_hash, email_verified) VALUES ($1, $2, $3, true) RETURNING id),
		g AS (INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM u, roles r WHERE r.name = ANY($4))
		SELECT id FROM u`, email, name, PasswordHash(), pq.Array(roles))
	if err != nil {
		t.Fatalf("testdb: add the account %s: %v", email, err)
	}
	return id
}

// LogBuffer collects what a server logs during a test; the server writes
// from its own goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a logger that writes JSON lines, debug level and up, to b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Seed inserts n users with varied, deterministic data: names that
// repeat (so that the id tiebreak matters), % and _ in some emails, bans
// that are in force, expired and permanent, and roles.
func Seed(t testing.TB, store *db.Store, n int) {
	t.Helper()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := store.DB().Exec(q, args...); err != nil {
			t.Fatalf("testdb: seed: %v", err)
		}
	}
	exec(`INSERT INTO users (email, name, email_verified, banned, ban_reason, banned_until, banned_at, created_at, last_login_at)
		SELECT
			CASE WHEN g % 17 = 0 THEN 'pct%' || g || '_x@' ELSE 'member' || g || '@' END
				|| (ARRAY['alpha.test','beta.test','gamma.test'])[1 + g % 3],
			(ARRAY['Alice','bob','Carol','dave','Émile','Zoë'])[1 + g % 6] || ' ' || (ARRAY['North','South','East'])[1 + (g / 6) % 3],
			g % 3 <> 0,
			g % 7 = 0,
			CASE WHEN g % 7 = 0 THEN 'reason ' || g END,
			CASE WHEN g % 14 = 0 THEN now() + interval '5 days' WHEN g % 21 = 0 THEN now() - interval '1 day' END,
			CASE WHEN g % 7 = 0 THEN now() - interval '3 days' END,
			timestamptz '2024-01-01 00:00:00+00' + (g % 50) * interval '1 hour',
			CASE WHEN g % 4 = 0 THEN NULL ELSE timestamptz '2024-06-01 00:00:00+00' + (g % 40) * interval '1 day' END
		FROM generate_series(1, $1) g`, n)
	exec(`INSERT INTO user_roles (user_id, role_id)
		SELECT u.id, r.id FROM users u, roles r
		WHERE u.email LIKE 'member%' AND r.name = 'support' AND substring(u.email from 'member(\d+)')::int % 5 = 0`)
}
