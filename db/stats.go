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
type Stats struct {
	Total      int64
	Verified   int64
	Unverified int64
	// Banned counts the bans in force now.
	Banned int64
	// SignedInLast30Days counts users whose last sign-in is within 30 days.
	SignedInLast30Days int64
	ByRole             []RoleCount
	// WithoutRole counts the plain users, who hold no role at all.
	WithoutRole int64
	// Signups has one entry per day for the last SignupDays days, oldest first.
	Signups []DayCount
}

// SignupDays is the length of the signups chart.
const SignupDays = 30

// Every count below is read from rollups that triggers keep in the same
// transaction as each change (user_counts, user_days: see schema.sql), so
// that the dashboard reads a few dozen rows however many users there are.
// Two counts move with the clock rather than with a write, and each reads
// its one partial day from an index: the bans that end today, and the first
// day of a "signed in within N days" window.

// bansInForce is the number of bans in force at now(): the bans that end
// after today (or never), plus today's ends still ahead.
const bansInForce = `((SELECT COALESCE(sum(ban_ends), 0) FROM user_days
		WHERE day > (now() AT TIME ZONE 'UTC')::date)
	+ (SELECT count(*) FROM users
		WHERE banned AND banned_until > now()
		  AND banned_until < ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'))`

// signedInWithin returns the SQL for the number of users whose last sign-in
// is after now() - days: the whole days after the window's first day from
// user_days, and the part of the first day that is inside it from the
// last_login_at index.
func signedInWithin(days int) string {
	since := fmt.Sprintf(`(now() - interval '%d days')`, days)
	firstDay := `(` + since + ` AT TIME ZONE 'UTC')::date`
	return `((SELECT COALESCE(sum(logins), 0) FROM user_days WHERE day > ` + firstDay + `)
	+ (SELECT count(*) FROM users WHERE last_login_at > ` + since + `
		AND last_login_at < (` + firstDay + ` + 1)::timestamp AT TIME ZONE 'UTC'))`
}

// statsQuery reads every number of the dashboard but the lists in one
// statement, so that they all come from one snapshot.
var statsQuery = `SELECT c.total, c.verified,
	` + bansInForce + ` AS banned,
	` + signedInWithin(30) + ` AS signed_in_30,
	c.total - (SELECT count(DISTINCT user_id) FROM user_roles) AS without_role,
	date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today
	FROM user_counts c`

// Stats returns the dashboard's counts.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var row struct {
		Total       int64     `db:"total"`
		Verified    int64     `db:"verified"`
		Banned      int64     `db:"banned"`
		SignedIn30  int64     `db:"signed_in_30"`
		WithoutRole int64     `db:"without_role"`
		Today       time.Time `db:"today"`
	}
	if err := s.db.GetContext(ctx, &row, statsQuery); err != nil {
		return Stats{}, fmt.Errorf("db: stats: %w", err)
	}
	st := Stats{
		Total:              row.Total,
		Verified:           row.Verified,
		Unverified:         row.Total - row.Verified,
		Banned:             row.Banned,
		SignedInLast30Days: row.SignedIn30,
		WithoutRole:        row.WithoutRole,
		ByRole:             []RoleCount{},
	}
	// Staff are few: their grants are counted, through the role index.
	if err := s.db.SelectContext(ctx, &st.ByRole, `SELECT r.name AS role,
		(SELECT count(*) FROM user_roles ur WHERE ur.role_id = r.id) AS users
		FROM roles r ORDER BY r.name`); err != nil {
		return Stats{}, fmt.Errorf("db: stats: roles: %w", err)
	}
	today := row.Today.UTC()
	first := today.AddDate(0, 0, -(SignupDays - 1))
	var perDay []DayCount
	if err := s.db.SelectContext(ctx, &perDay, `SELECT day::timestamp AT TIME ZONE 'UTC' AS day, signups AS users
		FROM user_days WHERE day BETWEEN $1::date AND $2::date`,
		first.Format(time.DateOnly), today.Format(time.DateOnly)); err != nil {
		return Stats{}, fmt.Errorf("db: stats: signups: %w", err)
	}
	byDay := make(map[time.Time]int64, len(perDay))
	for _, d := range perDay {
		byDay[d.Day.UTC()] = d.Users
	}
	st.Signups = make([]DayCount, 0, SignupDays)
	for i := SignupDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i)
		st.Signups = append(st.Signups, DayCount{Day: day, Users: byDay[day]})
	}
	return st, nil
}
