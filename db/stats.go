package db

import (
	"context"
	"fmt"
	"time"
)

// RoleCount is how many users hold a role.
type RoleCount struct {
	Role  string `db:"role"`
	Users int64  `db:"users"`
}

// DayCount is how many users signed up on one day (UTC).
type DayCount struct {
	Day   time.Time `db:"day"`
	Users int64     `db:"users"`
}

// Stats are the dashboard's counts: aggregates only, never a user's details.
//
// The windows are UTC days counted back from Today, which is included: "the
// last 7 days" are Today and the 6 days before, so that each number equals
// the user table filtered from the start of the window's first day.
type Stats struct {
	Total      int64
	Verified   int64
	Unverified int64
	Banned     int64
	// SignedInLast30Days counts users whose last sign-in is within 30 days.
	SignedInLast30Days int64
	ByRole             []RoleCount
	// Signups has one entry per day for the last SignupDays days, oldest first.
	Signups []DayCount

	// Today is the start of the current UTC day.
	Today time.Time
	// New counts sign-ups in the windows of Windows, and NewBefore in the
	// window of the same length just before it (for "+12% vs the previous 7
	// days"); SignedIn counts users whose last sign-in falls in the window.
	New       map[int]int64
	NewBefore map[int]int64
	SignedIn  map[int]int64
	// NoRole counts plain users, who hold no role.
	NoRole int64
	// ByMethod counts users by how they can sign in: MethodPassword (a
	// password and no OAuth link), then each OAuth provider by name (a user
	// linked to two providers counts under both).
	ByMethod []MethodCount
}

// Windows are the dashboard's periods, in days: today, 7 and 30 days.
var Windows = []int{1, 7, 30}

// WindowStart is the first moment of a window of days ending with today.
func WindowStart(today time.Time, days int) time.Time { return today.AddDate(0, 0, -(days - 1)) }

// MethodCount is how many users sign in one way.
type MethodCount struct {
	Method string `db:"method"`
	Users  int64  `db:"users"`
}

// SignupDays is the length of the signups chart.
const SignupDays = 30

// Stats returns the dashboard's counts.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var err error
	if st.Total, err = s.count(ctx, Filter{}); err != nil {
		return Stats{}, err
	}
	yes := true
	if st.Verified, err = s.count(ctx, Filter{Verified: &yes}); err != nil {
		return Stats{}, err
	}
	st.Unverified = st.Total - st.Verified
	if st.Banned, err = s.count(ctx, Filter{Banned: &yes}); err != nil {
		return Stats{}, err
	}
	if err := s.db.GetContext(ctx, &st.SignedInLast30Days,
		`SELECT count(*) FROM users WHERE last_login_at > now() - interval '30 days'`); err != nil {
		return Stats{}, fmt.Errorf("db: stats: active users: %w", err)
	}
	st.ByRole = []RoleCount{}
	if err := s.db.SelectContext(ctx, &st.ByRole, `SELECT r.name AS role,
		(SELECT count(*) FROM user_roles ur WHERE ur.role_id = r.id) AS users
		FROM roles r ORDER BY r.name`); err != nil {
		return Stats{}, fmt.Errorf("db: stats: roles: %w", err)
	}
	// One pass over the last SignupDays days of the created_at index,
	// grouped by UTC day; days without signups are filled in below.
	var perDay []DayCount
	if err := s.db.SelectContext(ctx, &perDay, `SELECT
		date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, count(*) AS users
		FROM users
		WHERE created_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day' * ($1 - 1)) AT TIME ZONE 'UTC'
		GROUP BY 1`, SignupDays); err != nil {
		return Stats{}, fmt.Errorf("db: stats: signups: %w", err)
	}
	byDay := make(map[time.Time]int64, len(perDay))
	for _, d := range perDay {
		byDay[d.Day.UTC()] = d.Users
	}
	var today time.Time
	if err := s.db.GetContext(ctx, &today,
		`SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`); err != nil {
		return Stats{}, fmt.Errorf("db: stats: today: %w", err)
	}
	today = today.UTC()
	st.Today = today
	if err := s.windows(ctx, &st); err != nil {
		return Stats{}, err
	}
	var withRole int64
	if err := s.db.GetContext(ctx, &withRole, `SELECT count(DISTINCT user_id) FROM user_roles`); err != nil {
		return Stats{}, fmt.Errorf("db: stats: users with a role: %w", err)
	}
	st.NoRole = st.Total - withRole
	st.ByMethod = []MethodCount{}
	if err := s.db.SelectContext(ctx, &st.ByMethod, `
		SELECT $1::text AS method, count(*) AS users FROM users u
		WHERE u.password_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id)
		UNION ALL
		(SELECT provider, count(DISTINCT user_id) FROM oauth_accounts GROUP BY provider ORDER BY provider)`,
		MethodPassword); err != nil {
		return Stats{}, fmt.Errorf("db: stats: sign-in methods: %w", err)
	}
	st.Signups = make([]DayCount, 0, SignupDays)
	for i := SignupDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i)
		st.Signups = append(st.Signups, DayCount{Day: day, Users: byDay[day]})
	}
	return st, nil
}

// windows fills the sign-up and sign-in counts of each of Windows, and the
// sign-ups of the window before each.
func (s *Store) windows(ctx context.Context, st *Stats) error {
	st.New, st.NewBefore, st.SignedIn = map[int]int64{}, map[int]int64{}, map[int]int64{}
	for _, days := range Windows {
		from, before := WindowStart(st.Today, days), WindowStart(st.Today, 2*days)
		var n struct {
			New      int64 `db:"new"`
			Before   int64 `db:"before"`
			SignedIn int64 `db:"signed_in"`
		}
		if err := s.db.GetContext(ctx, &n, `SELECT
			(SELECT count(*) FROM users WHERE created_at >= $1) AS new,
			(SELECT count(*) FROM users WHERE created_at >= $2 AND created_at < $1) AS before,
			(SELECT count(*) FROM users WHERE last_login_at >= $1) AS signed_in`, from, before); err != nil {
			return fmt.Errorf("db: stats: the last %d days: %w", days, err)
		}
		st.New[days], st.NewBefore[days], st.SignedIn[days] = n.New, n.Before, n.SignedIn
	}
	return nil
}

// SignupRange is a span of the signups chart and the size of its bars.
type SignupRange string

// The chart's ranges: days for 30 or 90 days, weeks for a year, months for
// all time.
const (
	Range30Days SignupRange = "30d"
	Range90Days SignupRange = "90d"
	RangeYear   SignupRange = "1y"
	RangeAll    SignupRange = "all"
)

// SignupRanges lists the ranges in the order the selector offers them.
var SignupRanges = []SignupRange{Range30Days, Range90Days, RangeYear, RangeAll}

// PeriodCount is how many users signed up in one bar of the chart: the
// period that starts at Start (a UTC day, week or month).
type PeriodCount struct {
	Start time.Time `db:"start"`
	Users int64     `db:"users"`
}

// Signups returns the signups chart for r, oldest bar first, with a bar for
// every period including those without signups. Weeks start on Monday.
func (s *Store) Signups(ctx context.Context, r SignupRange) ([]PeriodCount, error) {
	var unit string
	var periods int
	switch r {
	case Range30Days:
		unit, periods = "day", 30
	case Range90Days:
		unit, periods = "day", 90
	case RangeYear:
		unit, periods = "week", 52
	case RangeAll:
		unit = "month"
	default:
		return nil, invalid("range", "is not a chart range")
	}
	var bounds struct {
		Now   time.Time  `db:"now"`
		First *time.Time `db:"first"`
	}
	if err := s.db.GetContext(ctx, &bounds, `SELECT
		date_trunc($1, now() AT TIME ZONE 'UTC') AS now,
		date_trunc($1, (SELECT min(created_at) FROM users) AT TIME ZONE 'UTC') AS first`, unit); err != nil {
		return nil, fmt.Errorf("db: signups: bounds: %w", err)
	}
	last := bounds.Now.UTC()
	step := func(t time.Time, n int) time.Time {
		switch unit {
		case "week":
			return t.AddDate(0, 0, 7*n)
		case "month":
			return t.AddDate(0, n, 0)
		}
		return t.AddDate(0, 0, n)
	}
	first := step(last, -(periods - 1))
	if r == RangeAll {
		first = last
		if bounds.First != nil {
			first = bounds.First.UTC()
		}
	}
	var rows []PeriodCount
	if err := s.db.SelectContext(ctx, &rows, `SELECT
		date_trunc($1, created_at AT TIME ZONE 'UTC') AS start, count(*) AS users
		FROM users WHERE created_at >= $2 GROUP BY 1`, unit, first); err != nil {
		return nil, fmt.Errorf("db: signups: %w", err)
	}
	byStart := make(map[time.Time]int64, len(rows))
	for _, row := range rows {
		byStart[row.Start.UTC()] = row.Users
	}
	var out []PeriodCount
	for t := first; !t.After(last); t = step(t, 1) {
		out = append(out, PeriodCount{Start: t, Users: byStart[t]})
	}
	return out, nil
}
