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
	Banned     int64
	// SignedInLast30Days counts users whose last sign-in is within 30 days.
	SignedInLast30Days int64
	ByRole             []RoleCount
	// Signups has one entry per day for the last SignupDays days, oldest first.
	Signups []DayCount
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
	st.Signups = make([]DayCount, 0, SignupDays)
	for i := SignupDays - 1; i >= 0; i-- {
		day := today.AddDate(0, 0, -i)
		st.Signups = append(st.Signups, DayCount{Day: day, Users: byDay[day]})
	}
	return st, nil
}
