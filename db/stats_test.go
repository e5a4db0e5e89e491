package db_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"userpanel/db"
)

// dbNow is the database's clock, which the dashboard's "today" follows.
func dbNow(t *testing.T, s *db.Store) time.Time {
	t.Helper()
	var now time.Time
	if err := s.DB().Get(&now, `SELECT now()`); err != nil {
		t.Fatal(err)
	}
	return now
}

func TestStats(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()

	t.Run("Empty", func(t *testing.T) {
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != 0 || st.Verified != 0 || st.Unverified != 0 || st.Banned != 0 || st.SignedInLast30Days != 0 {
			t.Fatalf("stats of an empty database = %+v", st)
		}
		if len(st.Signups) != db.SignupDays || len(st.ByRole) != 3 {
			t.Fatalf("empty stats have %d signup days and %d roles", len(st.Signups), len(st.ByRole))
		}
		for _, d := range st.Signups {
			if d.Users != 0 {
				t.Fatalf("signups on an empty database: %+v", d)
			}
		}
	})

	now := dbNow(t, s)
	today := now.UTC().Truncate(24 * time.Hour)
	day := func(n int) time.Time { return today.AddDate(0, 0, -n) }
	var fs []fixture
	for i := range 90 {
		f := fixture{
			Email:     fmt.Sprintf("u%02d@example.com", i),
			Verified:  i%3 != 0,
			CreatedAt: day(i % 40).Add(time.Duration(i%24) * time.Hour),
		}
		switch i % 9 {
		case 0:
			f.Banned = true
		case 1:
			f.Banned, f.BannedUntil = true, ptr(now.Add(time.Hour))
		case 2:
			f.Banned, f.BannedUntil = true, ptr(now.Add(-time.Hour))
		}
		switch i % 4 {
		case 0:
			f.LastLoginAt = ptr(now.Add(-29 * 24 * time.Hour))
		case 1:
			f.LastLoginAt = ptr(now.Add(-31 * 24 * time.Hour))
		case 2:
			f.LastLoginAt = ptr(now.Add(-time.Minute))
		}
		if i%10 == 0 {
			f.Roles = append(f.Roles, "admin")
		}
		if i%7 == 0 {
			f.Roles = append(f.Roles, "support")
		}
		fs = append(fs, f)
	}
	// Day boundaries: the first instant of a day belongs to it, the last
	// microsecond before it to the day before; 30 days ago is off the chart.
	fs = append(fs,
		fixture{Email: "midnight@example.com", CreatedAt: day(3)},
		fixture{Email: "before-midnight@example.com", CreatedAt: day(3).Add(-time.Microsecond)},
		fixture{Email: "first-day@example.com", CreatedAt: day(db.SignupDays - 1)},
		fixture{Email: "too-old@example.com", CreatedAt: day(db.SignupDays).Add(23 * time.Hour)},
		fixture{Email: "manager@example.com", CreatedAt: now, Roles: []string{"manager"}},
	)
	fs = insertUsers(t, s, fs)

	t.Run("Counts", func(t *testing.T) {
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want db.Stats
		signups := map[time.Time]int64{}
		roles := map[string]int64{"admin": 0, "manager": 0, "support": 0}
		for _, f := range fs {
			want.Total++
			if f.Verified {
				want.Verified++
			} else {
				want.Unverified++
			}
			if f.bannedAt(now) {
				want.Banned++
			}
			if f.LastLoginAt != nil && f.LastLoginAt.After(now.Add(-30*24*time.Hour)) {
				want.SignedInLast30Days++
			}
			for _, r := range f.Roles {
				roles[r]++
			}
			signups[f.CreatedAt.UTC().Truncate(24*time.Hour)]++
		}
		if st.Total != want.Total || st.Verified != want.Verified || st.Unverified != want.Unverified ||
			st.Banned != want.Banned || st.SignedInLast30Days != want.SignedInLast30Days {
			t.Fatalf("stats = %+v\nwant    %+v", st, want)
		}
		var gotRoles []string
		for _, rc := range st.ByRole {
			gotRoles = append(gotRoles, fmt.Sprintf("%s=%d", rc.Role, rc.Users))
		}
		wantRoles := []string{fmt.Sprintf("admin=%d", roles["admin"]), fmt.Sprintf("manager=%d", roles["manager"]), fmt.Sprintf("support=%d", roles["support"])}
		if !slices.Equal(gotRoles, wantRoles) {
			t.Fatalf("by role = %v, want %v", gotRoles, wantRoles)
		}
		if len(st.Signups) != db.SignupDays {
			t.Fatalf("%d signup days, want %d", len(st.Signups), db.SignupDays)
		}
		var onChart int64
		for i, d := range st.Signups {
			wantDay := day(db.SignupDays - 1 - i)
			if !d.Day.Equal(wantDay) {
				t.Fatalf("signups[%d] is %v, want %v (oldest first, one per day, zero-filled)", i, d.Day.UTC(), wantDay)
			}
			if d.Users != signups[wantDay] {
				t.Fatalf("signups on %s = %d, want %d", wantDay.Format(time.DateOnly), d.Users, signups[wantDay])
			}
			onChart += d.Users
		}
		if onChart == 0 || onChart == want.Total {
			t.Fatalf("test bug: the fixtures should put some signups on the chart and some before it (%d of %d)", onChart, want.Total)
		}
		if st.Signups[db.SignupDays-4].Users == 0 {
			t.Fatalf("a zero day where midnight@ signed up")
		}
	})
}

// checkCounts compares every trigger-kept number with a real count(*).
func checkCounts(t *testing.T, s *db.Store, when string) {
	t.Helper()
	var real struct {
		Total    int64 `db:"total"`
		Verified int64 `db:"verified"`
	}
	if err := s.DB().Get(&real, `SELECT count(*) AS total, count(*) FILTER (WHERE email_verified) AS verified FROM users`); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(sysCtx())
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != real.Total || st.Verified != real.Verified || st.Unverified != real.Total-real.Verified {
		t.Fatalf("%s: Stats says total %d verified %d, the table holds %d and %d", when, st.Total, st.Verified, real.Total, real.Verified)
	}
	for _, v := range []*bool{nil, ptr(true), ptr(false)} {
		want := real.Total
		if v != nil {
			want = real.Verified
			if !*v {
				want = real.Total - real.Verified
			}
		}
		if n, err := s.CountUsers(sysCtx(), db.Filter{Verified: v}); err != nil || n != want {
			t.Fatalf("%s: CountUsers(verified=%s) = %d, %v, want %d", when, fmtBool(v), n, err, want)
		}
	}
}

func TestUserCounts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	admin := staff(t, s, "admin@example.com", "admin")
	checkCounts(t, s, "start")

	var fs []fixture
	for i := range 40 {
		fs = append(fs, fixture{Email: fmt.Sprintf("c%02d@example.com", i), Verified: i%4 == 0})
	}
	fs = insertUsers(t, s, fs)
	checkCounts(t, s, "after a 40-row insert")

	mustExec(t, s, `UPDATE users SET email_verified = NOT email_verified WHERE email LIKE 'c%'`)
	checkCounts(t, s, "after flipping verified on 40 rows at once")

	mustExec(t, s, `UPDATE users SET name = 'renamed'`)
	checkCounts(t, s, "after an update that does not touch verified")

	for i, v := range []bool{true, false, false, true} {
		if _, err := s.UpdateUser(ctx, fs[i].ID, db.UserUpdate{EmailVerified: ptr(v)}); err != nil {
			t.Fatal(err)
		}
		checkCounts(t, s, fmt.Sprintf("after UpdateUser verified=%v", v))
	}

	if err := s.DeleteUser(asUser(admin), fs[5].ID); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "after DeleteUser")
	mustExec(t, s, `DELETE FROM users WHERE email LIKE 'c1%'`)
	checkCounts(t, s, "after a multi-row delete")

	// Deleting a staff member who banned someone sets banned_by to NULL: an
	// update of other rows inside the delete.
	if err := s.BanUser(asUser(admin), fs[20].ID, "x", nil); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, `DELETE FROM users WHERE id = $1`, admin.ID)
	checkCounts(t, s, "after deleting a user who banned another")

	// A rolled-back change leaves the counts alone.
	tx := s.DB().MustBegin()
	if _, err := tx.Exec(`INSERT INTO users (email, email_verified) VALUES ('rolled@example.com', true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`DELETE FROM users WHERE email = 'c30@example.com'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "after a rollback")

	// Concurrent inserts and deletes from several connections.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if _, err := s.DB().Exec(`INSERT INTO users (email, email_verified) VALUES ($1, $2)`,
					fmt.Sprintf("g%d-%d@example.com", g, i), i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
			if _, err := s.DB().Exec(`DELETE FROM users WHERE email = $1`, fmt.Sprintf("g%d-0@example.com", g)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkCounts(t, s, "after concurrent inserts and deletes")

	mustExec(t, s, `TRUNCATE users CASCADE`)
	checkCounts(t, s, "after TRUNCATE")
	insertUsers(t, s, []fixture{{Email: "after@example.com", Verified: true}, {Email: "after2@example.com"}})
	checkCounts(t, s, "after inserting into a truncated table")
}
