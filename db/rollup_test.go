package db_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/demo"
)

// wantRollupsExact checks the trigger-kept rollups against a full recount of
// the users table, and the dashboard's numbers against the plain queries
// they replace.
func wantRollupsExact(t *testing.T, s *db.Store) {
	t.Helper()
	var diff []string
	err := s.DB().Select(&diff, `WITH recount AS (
			SELECT day, sum(s) AS signups, sum(l) AS logins, sum(b) AS ban_ends FROM (
				SELECT (created_at AT TIME ZONE 'UTC')::date AS day, 1 AS s, 0 AS l, 0 AS b FROM users
				UNION ALL SELECT (last_login_at AT TIME ZONE 'UTC')::date, 0, 1, 0 FROM users WHERE last_login_at IS NOT NULL
				UNION ALL SELECT COALESCE((banned_until AT TIME ZONE 'UTC')::date, 'infinity'), 0, 0, 1 FROM users WHERE banned
			) c GROUP BY day
		), kept AS (
			SELECT day, signups, logins, ban_ends FROM user_days WHERE (signups, logins, ban_ends) <> (0, 0, 0)
		)
		SELECT format('%s: kept %s, recount %s', COALESCE(k.day, r.day), k, r)
		FROM kept k FULL JOIN recount r ON r.day = k.day
		WHERE (k.signups, k.logins, k.ban_ends) IS DISTINCT FROM (r.signups, r.logins, r.ban_ends)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("user_days differs from a recount on %s", d)
	}
	diff = nil
	if err := s.DB().Select(&diff, `WITH recount AS (
			SELECT t AS trigram, count(*) AS users FROM users, unnest(show_trgm(search)) AS t
			WHERE octet_length(t) = 3 AND strpos(t, ' ') = 0 GROUP BY t
		), kept AS (
			SELECT trigram, users FROM search_trigrams WHERE users <> 0
		)
		SELECT format('%s: kept %s, recount %s', COALESCE(k.trigram, r.trigram), k.users, r.users)
		FROM kept k FULL JOIN recount r ON r.trigram = k.trigram
		WHERE k.users IS DISTINCT FROM r.users`); err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("search_trigrams differs from a recount on %s", d)
	}
	// user_hours: the hours the 30-day window can still reach.
	diff = nil
	if err := s.DB().Select(&diff, `WITH recount AS (
			SELECT date_trunc('hour', last_login_at AT TIME ZONE 'UTC') AS hour, count(*) AS logins FROM users
			WHERE last_login_at > now() - interval '31 days' GROUP BY 1
		), kept AS (
			SELECT hour, logins FROM user_hours
			WHERE hour >= date_trunc('hour', (now() - interval '31 days') AT TIME ZONE 'UTC') AND logins <> 0
		)
		SELECT format('%s: kept %s, recount %s', COALESCE(k.hour, r.hour), k.logins, r.logins)
		FROM kept k FULL JOIN recount r ON r.hour = k.hour
		WHERE k.logins IS DISTINCT FROM r.logins
		  AND COALESCE(k.hour, r.hour) > date_trunc('hour', (now() - interval '31 days') AT TIME ZONE 'UTC')`); err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("user_hours differs from a recount on %s", d)
	}
	diff = nil
	if err := s.DB().Select(&diff, `WITH recount AS (
			SELECT role_id, users FROM (
				SELECT 0::smallint AS role_id, count(DISTINCT user_id) AS users FROM user_roles
				UNION ALL SELECT role_id, count(*) FROM user_roles GROUP BY role_id
			) c WHERE users <> 0
		), kept AS (
			SELECT role_id, users FROM role_counts WHERE users <> 0
		)
		SELECT format('role %s: kept %s, recount %s', COALESCE(k.role_id, r.role_id), k.users, r.users)
		FROM kept k FULL JOIN recount r ON r.role_id = k.role_id
		WHERE k.users IS DISTINCT FROM r.users`); err != nil {
		t.Fatal(err)
	}
	for _, d := range diff {
		t.Errorf("role_counts differs from a recount on %s", d)
	}
	// A three-letter search's total, which comes from search_trigrams,
	// equals the count of what the search itself finds, in any case.
	for _, q := range []string{"u00", "U01", "exa", "com", "Xxx", "ple", "zq9", "000"} {
		got, err := s.CountUsers(sysCtx(), db.Filter{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		if err := s.DB().Get(&want, `SELECT count(*) FROM users WHERE email ILIKE $1 OR name ILIKE $1`, "%"+q+"%"); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("CountUsers(%q) = %d, the users table has %d", q, got, want)
		}
	}
	st, err := s.Stats(sysCtx())
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Total       int64 `db:"total"`
		Verified    int64 `db:"verified"`
		Banned      int64 `db:"banned"`
		SignedIn30  int64 `db:"signed_in_30"`
		WithoutRole int64 `db:"without_role"`
	}
	if err := s.DB().Get(&want, `SELECT count(*) AS total,
			count(*) FILTER (WHERE email_verified) AS verified,
			count(*) FILTER (WHERE banned AND (banned_until IS NULL OR banned_until > now())) AS banned,
			count(*) FILTER (WHERE last_login_at > now() - interval '30 days') AS signed_in_30,
			count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = users.id)) AS without_role
		FROM users`); err != nil {
		t.Fatal(err)
	}
	got := want
	got.Total, got.Verified, got.Banned, got.SignedIn30, got.WithoutRole = st.Total, st.Verified, st.Banned, st.SignedInLast30Days, st.NoRole
	if got != want {
		t.Errorf("Stats = %+v, a full recount says %+v", got, want)
	}
	var byRole []db.RoleCount
	if err := s.DB().Select(&byRole, `SELECT r.name AS role, count(ur.user_id) AS users
		FROM roles r LEFT JOIN user_roles ur ON ur.role_id = r.id GROUP BY r.name ORDER BY r.name`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.ByRole) != fmt.Sprint(byRole) {
		t.Errorf("Stats.ByRole = %v, a full recount says %v", st.ByRole, byRole)
	}
}

// The rollups stay exact while sign-ins, bans with and without an end,
// unbans, role changes, deletes, creates and a seed run at the same time.
func TestRollupsUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	now := dbNow(t, s)
	var fs []fixture
	for i := range 400 {
		f := fixture{Email: fmt.Sprintf("u%03d@example.com", i), Verified: i%2 == 0,
			CreatedAt: now.AddDate(0, 0, -(i % 60)).Add(-time.Duration(i) * time.Minute)}
		if i%3 == 0 {
			f.LastLoginAt = ptr(now.AddDate(0, 0, -(i % 45)))
		}
		if i%11 == 0 {
			f.Banned, f.BannedUntil = true, ptr(now.Add(time.Duration(i-200)*time.Hour))
		}
		fs = append(fs, f)
	}
	fs = insertUsers(t, s, fs)
	wantRollupsExact(t, s)

	ctx := asUser(admin)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	worker := func(seed uint64, fn func(rng *rand.Rand, f fixture) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for range 150 {
				if err := fn(rng, fs[rng.IntN(len(fs))]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// A user deleted by the delete worker is not found by the others.
	gone := func(err error) bool { return err == nil || errors.Is(err, db.ErrNotFound) }
	for w := range 2 {
		// Sign-ins: last_login_at moves forward to now, as Authenticate does.
		worker(uint64(10+w), func(_ *rand.Rand, f fixture) error {
			_, err := s.DB().Exec(`UPDATE users SET last_login_at = now() WHERE id = $1`, f.ID)
			return err
		})
	}
	worker(20, func(rng *rand.Rand, f fixture) error {
		var until *time.Time
		if rng.IntN(2) == 0 {
			until = ptr(time.Now().Add(time.Duration(rng.IntN(96)-12) * time.Hour).Add(time.Minute))
		}
		if until != nil && until.Before(time.Now()) {
			until = nil
		}
		if err := s.BanUser(ctx, f.ID, "spam", until); !gone(err) {
			return fmt.Errorf("ban: %w", err)
		}
		return nil
	})
	worker(21, func(_ *rand.Rand, f fixture) error {
		if err := s.UnbanUser(ctx, f.ID); !gone(err) {
			return fmt.Errorf("unban: %w", err)
		}
		return nil
	})
	worker(22, func(rng *rand.Rand, f fixture) error {
		if rng.IntN(4) != 0 {
			return nil
		}
		if err := s.DeleteUser(ctx, f.ID); !gone(err) {
			return fmt.Errorf("delete: %w", err)
		}
		return nil
	})
	worker(23, func(rng *rand.Rand, f fixture) error {
		_, err := s.DB().Exec(`UPDATE users SET email_verified = NOT email_verified, name = name || 'x' WHERE id = $1`, f.ID)
		return err
	})
	// Renames and new emails move the search totals both ways.
	worker(24, func(rng *rand.Rand, f fixture) error {
		_, err := s.DB().Exec(`UPDATE users SET name = $2, email = $3 WHERE id = $1`, f.ID,
			[]string{"Ann Xu", "Bo Xxon", "", "Zoë Q9"}[rng.IntN(4)], fmt.Sprintf("m%04d-%d@example.org", rng.IntN(10000), rng.IntN(99)))
		return err
	})
	// Role changes: a user's whole set at once, as the user page does, and
	// single grants and removals, as bulk actions do, on the same users.
	sets := [][]string{nil, {"support"}, {"manager"}, {"support", "manager"}}
	for w := range 2 {
		worker(uint64(25+w), func(rng *rand.Rand, f fixture) error {
			if err := s.SetRoles(ctx, f.ID, sets[rng.IntN(len(sets))]); !gone(err) {
				return fmt.Errorf("set roles: %w", err)
			}
			return nil
		})
	}
	worker(27, func(rng *rand.Rand, f fixture) error {
		req := db.BulkRequest{Action: db.BulkGrantRole, Role: []string{"support", "manager"}[rng.IntN(2)],
			Selection: db.Selection{IDs: []string{f.ID}}}
		if rng.IntN(2) == 0 {
			req.Action = db.BulkRemoveRole
		}
		if _, err := s.Bulk(ctx, req); !gone(err) {
			return fmt.Errorf("bulk %s: %w", req.Action, err)
		}
		return nil
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		gen := demo.New(7, time.Now())
		if _, err := s.SeedUsers(sysCtx(), gen.Users(3000), db.SeedOptions{BatchSize: 500}); err != nil {
			errs <- fmt.Errorf("seed: %w", err)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantRollupsExact(t, s)

	t.Run("Truncate", func(t *testing.T) {
		if _, err := s.DB().Exec(`TRUNCATE users CASCADE`); err != nil {
			t.Fatal(err)
		}
		wantRollupsExact(t, s)
	})
}

// TestSignedInWindowEdges: the 30-day sign-in count is exact at the edges
// of the hour and the day its window starts in, which come from three
// sources (user_days, user_hours, the last_login_at index), and stays exact
// as those users sign in again.
func TestSignedInWindowEdges(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := dbNow(t, s)
	since := now.AddDate(0, 0, -30)
	firstHour := since.UTC().Truncate(time.Hour)
	nextDay := time.Date(since.UTC().Year(), since.UTC().Month(), since.UTC().Day()+1, 0, 0, 0, 0, time.UTC)
	at := []time.Time{
		since.Add(-time.Minute), since.Add(time.Minute), since.Add(-2 * time.Hour), since.Add(3 * time.Hour),
		firstHour.Add(-time.Second), firstHour.Add(time.Hour - time.Second), firstHour.Add(time.Hour),
		firstHour.Add(time.Hour + time.Second), firstHour.Add(2*time.Hour + 5*time.Minute),
		nextDay.Add(-time.Second), nextDay, nextDay.Add(time.Second), now.AddDate(0, 0, -31), now.AddDate(0, 0, -33),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 60 {
		at = append(at, since.Add(time.Duration(rng.IntN(96*60)-48*60)*time.Minute))
	}
	var fs []fixture
	for i, l := range at {
		if l.After(now) {
			continue
		}
		fs = append(fs, fixture{Email: fmt.Sprintf("edge%03d@example.com", i), CreatedAt: now.AddDate(0, 0, -40),
			LastLoginAt: ptr(l)})
	}
	fs = insertUsers(t, s, fs)
	check := func(when string) {
		t.Helper()
		st, err := s.Stats(sysCtx())
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		if err := s.DB().Get(&want, `SELECT count(*) FROM users WHERE last_login_at > now() - interval '30 days'`); err != nil {
			t.Fatal(err)
		}
		if st.SignedInLast30Days != want {
			t.Errorf("%s: signed in within 30 days = %d, a count says %d", when, st.SignedInLast30Days, want)
		}
	}
	check("inserted")
	// Every other one signs in again a little later: their old hour loses
	// them, the new one gains them.
	for i, f := range fs {
		if i%2 == 0 {
			if _, err := s.DB().Exec(`UPDATE users SET last_login_at = last_login_at + interval '50 minutes' WHERE id = $1`, f.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	check("moved")
	wantRollupsExact(t, s)
}

// TestRecountingSeed: a seed that outnumbers the table skips the rollups
// batch by batch and recounts them at its end (db/seed.go); the users
// already there count once, and sign-ins and bans that come in while it
// loads (they wait for it) are counted too.
func TestRecountingSeed(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	now := dbNow(t, s)
	var fs []fixture
	for i := range 50 {
		f := fixture{Email: fmt.Sprintf("old%02d@example.com", i), Name: fmt.Sprintf("Old Timer %d", i),
			CreatedAt: now.AddDate(0, 0, -i), Verified: i%2 == 0}
		if i%3 == 0 {
			f.LastLoginAt = ptr(now.Add(-time.Duration(i) * 7 * time.Hour))
		}
		if i%5 == 0 {
			f.Banned, f.BannedUntil = true, ptr(now.Add(time.Duration(i+1)*time.Hour))
		}
		fs = append(fs, f)
	}
	fs = insertUsers(t, s, fs)

	const n = 60_000 // over db.rebuildMin, so the seed rebuilds and recounts
	done := make(chan error, 1)
	go func() {
		gen := demo.New(11, time.Now())
		_, err := s.SeedUsers(sysCtx(), gen.Users(n), db.SeedOptions{Expected: n})
		done <- err
	}()
	ctx := asUser(admin)
	writes := 0
	for seeding := true; seeding; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("seed: %v", err)
			}
			seeding = false
		default:
		}
		f := fs[writes%len(fs)]
		if _, err := s.DB().Exec(`UPDATE users SET last_login_at = now() WHERE id = $1`, f.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.BanUser(ctx, f.ID, "spam", nil); err != nil {
			t.Fatalf("ban: %v", err)
		}
		writes++
	}
	var total int
	if err := s.DB().Get(&total, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if want := n + len(fs) + 1; total != want {
		t.Fatalf("%d users after the seed, want %d", total, want)
	}
	t.Logf("%d sign-ins and bans during the seed", writes)
	wantRollupsExact(t, s)
}
