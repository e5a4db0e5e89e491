package db

// The dashboard's counts, read in one statement from the rollups that
// triggers keep (schema.sql).

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
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

// Every count below is read from rollups that triggers keep in the same
// transaction as each change (user_counts, user_days: see schema.sql), so
// that the dashboard reads a few dozen rows however many users there are.
// Two counts move with the clock rather than with a write, and each reads
// its one partial day from an index: the bans that end today, and the first
// day of the "signed in within 30 days" window.

// bansInForce is the number of bans in force at now(): the bans that end
// after today (or never), plus today's ends still ahead.
const bansInForce = `((SELECT COALESCE(sum(ban_ends), 0) FROM user_days
		WHERE day > (now() AT TIME ZONE 'UTC')::date)
	+ (SELECT count(*) FROM users
		WHERE banned AND banned_until > now()
		  AND banned_until < ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'))`

// signedInWithin returns the SQL for the number of users whose last sign-in
// is after now() - days: the whole days after the window's first day from
// user_days, the whole hours after its first hour on that day from
// user_hours, and the rest of that first hour from the last_login_at index
// (at most an hour of sign-ins). user_hours keeps 32 days, so days is at
// most 31.
func signedInWithin(days int) string {
	if days > 31 {
		panic("db: user_hours keeps 32 days of sign-ins")
	}
	since := fmt.Sprintf(`(now() - interval '%d days')`, days)
	firstDay := `(` + since + ` AT TIME ZONE 'UTC')::date`
	firstHour := `date_trunc('hour', ` + since + ` AT TIME ZONE 'UTC')`
	return `((SELECT COALESCE(sum(logins), 0) FROM user_days WHERE day > ` + firstDay + `)
	+ (SELECT COALESCE(sum(logins), 0) FROM user_hours
		WHERE hour > ` + firstHour + ` AND hour < (` + firstDay + ` + 1)::timestamp)
	+ (SELECT count(*) FROM users WHERE last_login_at > ` + since + `
		AND last_login_at < (` + firstHour + ` + interval '1 hour') AT TIME ZONE 'UTC'))`
}

// dashboardQuery reads everything the dashboard shows in one statement, so
// that the numbers come from one snapshot and one round trip: the single
// counts, the roles and sign-in methods, the last 2×30 days of user_days
// (the windows and the 30-day chart are summed from them in Go), and the
// bars of the chart range asked for. $1 is the chart's unit (day, week,
// month), $2 its number of bars (0: from the first signup on).
var dashboardQuery = `WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS d),
	chart AS (SELECT date_trunc($1, now() AT TIME ZONE 'UTC') AS last,
		CASE WHEN $2::int = 0
			THEN date_trunc($1, (SELECT min(day) FROM user_days WHERE signups > 0)::timestamp)
			ELSE date_trunc($1, now() AT TIME ZONE 'UTC') - ($2::int - 1) * ('1 ' || $1)::interval
		END AS first),
	recent AS (SELECT day, signups, logins FROM user_days
		WHERE day > (SELECT d FROM today) - 2 * ` + fmt.Sprint(maxWindow) + `
			AND isfinite(day) AND (signups <> 0 OR logins <> 0)),
	bars AS (SELECT date_trunc($1, day::timestamp) AS start, sum(signups)::bigint AS users
		FROM user_days WHERE day >= (SELECT first FROM chart) AND signups <> 0 GROUP BY 1)
	SELECT c.total, c.verified,
	` + bansInForce + ` AS banned,
	` + signedInWithin(30) + ` AS signed_in_30,
	c.total - COALESCE((SELECT users FROM role_counts WHERE role_id = 0), 0) AS no_role,
	(SELECT d FROM today)::timestamp AT TIME ZONE 'UTC' AS today,
	ARRAY(SELECT r.name FROM roles r ORDER BY r.name) AS role_names,
	ARRAY(SELECT COALESCE((SELECT rc.users FROM role_counts rc WHERE rc.role_id = r.id), 0) FROM roles r ORDER BY r.name) AS role_users,
	ARRAY(SELECT m.method FROM signin_methods m WHERE m.users > 0
		ORDER BY m.method <> '` + MethodPassword + `', m.method) AS method_names,
	ARRAY(SELECT m.users FROM signin_methods m WHERE m.users > 0
		ORDER BY m.method <> '` + MethodPassword + `', m.method) AS method_users,
	ARRAY(SELECT day - DATE '1970-01-01' FROM recent ORDER BY day) AS days,
	ARRAY(SELECT signups FROM recent ORDER BY day) AS day_signups,
	ARRAY(SELECT logins FROM recent ORDER BY day) AS day_logins,
	(SELECT first FROM chart) AS chart_first, (SELECT last FROM chart) AS chart_last,
	ARRAY(SELECT extract(epoch FROM start)::bigint FROM bars ORDER BY start) AS bar_starts,
	ARRAY(SELECT users FROM bars ORDER BY start) AS bar_users
	FROM user_counts c`

// maxWindow is the longest of Windows.
var maxWindow = slices.Max(Windows)

// dashboardRow is one row of dashboardQuery. The lists come as arrays of
// one column each, not JSON: decoding JSON was an eighth of the dashboard's
// CPU in the server. Days are counted from 1970-01-01, bars start in Unix
// seconds.
type dashboardRow struct {
	Total       int64          `db:"total"`
	Verified    int64          `db:"verified"`
	Banned      int64          `db:"banned"`
	SignedIn30  int64          `db:"signed_in_30"`
	NoRole      int64          `db:"no_role"`
	Today       time.Time      `db:"today"`
	RoleNames   pq.StringArray `db:"role_names"`
	RoleUsers   pq.Int64Array  `db:"role_users"`
	MethodNames pq.StringArray `db:"method_names"`
	MethodUsers pq.Int64Array  `db:"method_users"`
	Days        pq.Int64Array  `db:"days"`
	DaySignups  pq.Int64Array  `db:"day_signups"`
	DayLogins   pq.Int64Array  `db:"day_logins"`
	ChartFirst  *time.Time     `db:"chart_first"`
	ChartLast   time.Time      `db:"chart_last"`
	BarStarts   pq.Int64Array  `db:"bar_starts"`
	BarUsers    pq.Int64Array  `db:"bar_users"`
}

// Stats returns the dashboard's counts.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st, _, err := s.Dashboard(ctx, Range30Days)
	return st, err
}

// Dashboard returns the dashboard's counts and the signups chart for r,
// read in one statement (one snapshot): what Stats and Signups return.
func (s *Store) Dashboard(ctx context.Context, r SignupRange) (Stats, []PeriodCount, error) {
	unit, periods, err := r.bars()
	if err != nil {
		return Stats{}, nil, err
	}
	var row dashboardRow
	st, err := s.prepared(ctx, dashboardQuery)
	if err != nil {
		return Stats{}, nil, err
	}
	if err := st.GetContext(ctx, &row, unit, periods); err != nil {
		return Stats{}, nil, fmt.Errorf("db: stats: %w", err)
	}
	stats := Stats{
		Total:              row.Total,
		Verified:           row.Verified,
		Unverified:         row.Total - row.Verified,
		Banned:             row.Banned,
		SignedInLast30Days: row.SignedIn30,
		NoRole:             row.NoRole,
		Today:              row.Today.UTC(),
		ByRole:             []RoleCount{},
		ByMethod:           []MethodCount{},
	}
	if len(row.RoleNames) != len(row.RoleUsers) || len(row.MethodNames) != len(row.MethodUsers) ||
		len(row.Days) != len(row.DaySignups) || len(row.Days) != len(row.DayLogins) || len(row.BarStarts) != len(row.BarUsers) {
		return Stats{}, nil, fmt.Errorf("db: stats: lists of uneven lengths")
	}
	for i, name := range row.RoleNames {
		stats.ByRole = append(stats.ByRole, RoleCount{Role: name, Users: row.RoleUsers[i]})
	}
	for i, name := range row.MethodNames {
		stats.ByMethod = append(stats.ByMethod, MethodCount{Method: name, Users: row.MethodUsers[i]})
	}
	signups, logins := map[time.Time]int64{}, map[time.Time]int64{}
	for i, n := range row.Days {
		day := time.Unix(n*86400, 0).UTC()
		signups[day], logins[day] = row.DaySignups[i], row.DayLogins[i]
	}
	// Windows start at a UTC midnight, so whole days of user_days answer
	// them exactly.
	today := stats.Today
	stats.New, stats.NewBefore, stats.SignedIn = map[int]int64{}, map[int]int64{}, map[int]int64{}
	// A day after today (a clock ahead of ours wrote it) is inside every
	// window, as it is inside the table filtered from the window's start.
	for day := range signups {
		age := int(today.Sub(day).Hours()) / 24
		for _, n := range Windows {
			switch {
			case age < n:
				stats.New[n] += signups[day]
				stats.SignedIn[n] += logins[day]
			case age < 2*n:
				stats.NewBefore[n] += signups[day]
			}
		}
	}
	stats.Signups = make([]DayCount, 0, SignupDays)
	for i := SignupDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i)
		stats.Signups = append(stats.Signups, DayCount{Day: day, Users: signups[day]})
	}

	byStart := make(map[time.Time]int64, len(row.BarStarts))
	for i, start := range row.BarStarts {
		byStart[time.Unix(start, 0).UTC()] = row.BarUsers[i]
	}
	last := row.ChartLast.UTC()
	first := last
	if row.ChartFirst != nil {
		first = row.ChartFirst.UTC()
	}
	var series []PeriodCount
	for t := first; !t.After(last); t = stepBar(unit, t, 1) {
		series = append(series, PeriodCount{Start: t, Users: byStart[t]})
	}
	return stats, series, nil
}
