package testdb

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"userpanel/db"
)

// The fixtures every package's tests share: one password, one way to add an
// account (staff or not), two seeds (Seed for the table's edge cases,
// SeedPeople for journeys in a browser), one log buffer. Hashing is at bcrypt's minimum cost everywhere in
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
		WHERE u.email LIKE 'member%' AND r.name = $1 AND substring(u.email from 'member(\d+)')::int % 5 = 0`, db.RoleSupport)
}

// SeedPeople inserts n users (n below 143) who read like people, in one
// statement, for the journeys a person follows in a browser. Names and
// emails are distinct: first names cycle by 13 and last names by 11, which
// never pair up the same way twice below 143. Emails start with the last
// name, so that sorting by email and by name give different orders;
// "Zephyr" is the first name of about one user in 13; two thirds of the
// emails are at an "example" domain. Sign-ups are spread over the weeks
// before now, five hours apart, and one user in 17 is banned for spam.
func SeedPeople(t testing.TB, store *db.Store, n int) {
	t.Helper()
	firsts := []string{"Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Gustav",
		"Hiro", "Ines", "Jonas", "Kalani", "Liam", "Zephyr"}
	lasts := []string{"Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Silva",
		"Brennan", "Haddad", "Kowalski", "Nguyen", "Rossi"}
	domains := []string{"example.com", "example.org", "mail.test"}
	if n >= len(firsts)*len(lasts) {
		t.Fatalf("testdb: SeedPeople(%d): at most %d distinct people", n, len(firsts)*len(lasts)-1)
	}
	now := time.Now().UTC()
	var emails, names, created, logins, reasons []string
	var verified, banned []bool
	for i := 1; i <= n; i++ {
		first, last := firsts[i%len(firsts)], lasts[i%len(lasts)]
		names = append(names, first+" "+last)
		emails = append(emails, strings.ToLower(last+"."+first)+"@"+domains[i%len(domains)])
		verified = append(verified, i%3 != 1)
		// The last sign-in, if any, comes between the sign-up and now.
		signup := now.Add(-time.Duration(i) * 5 * time.Hour)
		created = append(created, signup.Format(time.RFC3339Nano))
		login := ""
		if i%5 != 0 {
			login = signup.Add(time.Duration(i*i*7%(5*i)) * time.Hour).Format(time.RFC3339Nano)
		}
		logins = append(logins, login)
		banned = append(banned, i%17 == 0)
		reason := ""
		if i%17 == 0 {
			reason = "spam"
		}
		reasons = append(reasons, reason)
	}
	_, err := store.DB().ExecContext(context.Background(), `
		INSERT INTO users (email, name, email_verified, banned, ban_reason, banned_at, created_at, updated_at, last_login_at)
		SELECT e, n, v, b, NULLIF(r, ''), CASE WHEN b THEN now() END, c::timestamptz, c::timestamptz, NULLIF(l, '')::timestamptz
		FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[], $5::text[], $6::text[], $7::text[]) AS f(e, n, v, b, r, c, l)`,
		pq.Array(emails), pq.Array(names), pq.Array(verified), pq.Array(banned), pq.Array(reasons),
		pq.Array(created), pq.Array(logins))
	if err != nil {
		t.Fatalf("testdb: seed people: %v", err)
	}
}
