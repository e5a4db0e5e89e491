package db_test

import (
	"fmt"
	"testing"
	"time"

	"userpanel/db"
)

// TestStatsWindows checks the dashboard's windows and breakdowns against
// counts computed in Go over the same fixtures: sign-ups and sign-ins today,
// in 7 and 30 days and the windows before, plain users, sign-in methods, and
// the chart's ranges.
func TestStatsWindows(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := dbNow(t, s).UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var fs []fixture
	// One user per day for 70 days, at 01:00 UTC, each signed in 2 days
	// after signing up (when that is not in the future); every 5th has a role.
	for d := 0; d < 70; d++ {
		created := today.AddDate(0, 0, -d).Add(time.Hour)
		f := fixture{Email: fmt.Sprintf("day%02d@stats.test", d), CreatedAt: created}
		if login := created.Add(48 * time.Hour); login.Before(now) {
			f.LastLoginAt = &login
		}
		if d%5 == 0 {
			f.Roles = []string{"support"}
		}
		fs = append(fs, f)
	}
	fs = insertUsers(t, s, fs)
	// Sign-in methods: day00 and day01 link Google, day01 also GitHub, day02
	// has no password and GitHub only.
	for _, l := range []struct{ user, provider string }{{fs[0].ID, "google"}, {fs[1].ID, "google"}, {fs[1].ID, "github"}, {fs[2].ID, "github"}} {
		if _, err := s.DB().Exec(`INSERT INTO oauth_accounts (user_id, provider, provider_user_id) VALUES ($1, $2, $1::text)`, l.user, l.provider); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB().Exec(`UPDATE users SET password_hash = NULL WHERE id = $1`, fs[2].ID); err != nil {
		t.Fatal(err)
	}

	st, err := s.Stats(sysCtx())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Today.Equal(today) {
		t.Fatalf("Today %v, want %v", st.Today, today)
	}
	for _, days := range db.Windows {
		from, before := db.WindowStart(today, days), db.WindowStart(today, 2*days)
		var newN, beforeN, signedIn int64
		for _, f := range fs {
			switch {
			case !f.CreatedAt.Before(from):
				newN++
			case !f.CreatedAt.Before(before):
				beforeN++
			}
			if f.LastLoginAt != nil && !f.LastLoginAt.Before(from) {
				signedIn++
			}
		}
		if st.New[days] != newN || st.NewBefore[days] != beforeN || st.SignedIn[days] != signedIn {
			t.Errorf("%d days: new %d, before %d, signed in %d; want %d, %d, %d",
				days, st.New[days], st.NewBefore[days], st.SignedIn[days], newN, beforeN, signedIn)
		}
		// The user table filtered from the window's first day says the same.
		n, err := s.CountUsers(sysCtx(), db.Filter{CreatedFrom: &from})
		if err != nil || n != st.New[days] {
			t.Errorf("%d days: CountUsers(CreatedFrom) = %d (%v), the tile says %d", days, n, err, st.New[days])
		}
		n, err = s.CountUsers(sysCtx(), db.Filter{SignedInFrom: &from})
		if err != nil || n != st.SignedIn[days] {
			t.Errorf("%d days: CountUsers(SignedInFrom) = %d (%v), the tile says %d", days, n, err, st.SignedIn[days])
		}
	}
	if st.NoRole != 56 {
		t.Errorf("NoRole %d, want 56", st.NoRole)
	}
	if n, err := s.CountUsers(sysCtx(), db.Filter{NoRole: true}); err != nil || n != st.NoRole {
		t.Errorf("CountUsers(NoRole) = %d (%v), want %d", n, err, st.NoRole)
	}
	methods := map[string]int64{}
	for _, m := range st.ByMethod {
		methods[m.Method] = m.Users
	}
	if fmt.Sprint(methods) != "map[github:2 google:2 password:67]" {
		t.Errorf("methods %v", methods)
	}
	for method, want := range methods {
		if n, err := s.CountUsers(sysCtx(), db.Filter{Method: method}); err != nil || n != want {
			t.Errorf("CountUsers(Method %s) = %d (%v), want %d", method, n, err, want)
		}
	}

	for _, c := range []struct {
		r    db.SignupRange
		bars int
	}{{db.Range30Days, 30}, {db.Range90Days, 90}, {db.RangeYear, 52}} {
		series, err := s.Signups(sysCtx(), c.r)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != c.bars {
			t.Errorf("%s: %d bars, want %d", c.r, len(series), c.bars)
		}
		var sum int64
		for _, p := range series {
			sum += p.Users
		}
		first := series[0].Start
		var want int64
		for _, f := range fs {
			if !f.CreatedAt.Before(first) {
				want++
			}
		}
		if sum != want {
			t.Errorf("%s: %d signups from %v, want %d", c.r, sum, first, want)
		}
	}
	all, err := s.Signups(sysCtx(), db.RangeAll)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, p := range all {
		sum += p.Users
		if p.Start.Day() != 1 || (i > 0 && p.Start != all[i-1].Start.AddDate(0, 1, 0)) {
			t.Errorf("month bar %d starts %v", i, p.Start)
		}
	}
	if sum != 70 {
		t.Errorf("all time: %d signups, want 70", sum)
	}
	if _, err := s.Signups(sysCtx(), "forever"); err == nil {
		t.Error("an unknown range is accepted")
	}
}
