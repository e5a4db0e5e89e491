package db

// The totals of the user list: CountUsers, answered from the trigger-kept
// totals (user_counts, search_trigrams) wherever they hold the answer.

import (
	"context"
	"fmt"
)

// CountUsers returns how many users match f.
func (s *Store) CountUsers(ctx context.Context, f Filter) (int64, error) {
	if err := f.normalize(); err != nil {
		return 0, err
	}
	return s.count(ctx, f)
}

// count answers from the trigger-kept totals when it can, and counts banned
// users through their small partial index; only a search or a role filter
// pays for a real count.
func (s *Store) count(ctx context.Context, f Filter) (int64, error) {
	if f == (Filter{Query: f.Query}) && isTrigram(f.Query) {
		// Three letters or digits alone: the trigger-kept total
		// (schema.sql, search_trigrams). The database lowercases, as the
		// search does; where its locale turns a letter into one outside
		// ASCII, the search is counted below instead.
		var t struct {
			Kept  bool  `db:"kept"`
			Users int64 `db:"users"`
		}
		if err := s.db.GetContext(ctx, &t, `SELECT lower($1) ~ '^[a-z0-9]{3}$' AS kept,
			COALESCE((SELECT users FROM search_trigrams WHERE trigram = lower($1)), 0) AS users`, f.Query); err != nil {
			return 0, fmt.Errorf("db: count a three-letter search: %w", err)
		}
		if t.Kept {
			return t.Users, nil
		}
	}
	if f.Query == "" && f.Role != "" && f.Banned == nil && f.Verified == nil && !f.narrowed() {
		// Staff are few: count the role's grants rather than probing every
		// user for one.
		var n int64
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
			WHERE r.name = $1`, f.Role); err != nil {
			return 0, fmt.Errorf("db: count users with role: %w", err)
		}
		return n, nil
	}
	if f.Query != "" || f.Role != "" || f.narrowed() {
		where, args := f.where()
		var n int64
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users u`+where, args...); err != nil {
			return 0, fmt.Errorf("db: count users: %w", err)
		}
		return n, nil
	}
	var all int64
	if f.Banned == nil || !*f.Banned {
		var c struct {
			Total    int64 `db:"total"`
			Verified int64 `db:"verified"`
		}
		if err := s.db.GetContext(ctx, &c, `SELECT total, verified FROM user_counts`); err != nil {
			return 0, fmt.Errorf("db: read user counts: %w", err)
		}
		all = c.Total
		if f.Verified != nil {
			all = c.Verified
			if !*f.Verified {
				all = c.Total - c.Verified
			}
		}
		if f.Banned == nil {
			return all, nil
		}
	}
	banned := true
	where, args := Filter{Banned: &banned, Verified: f.Verified}.where()
	var nBanned int64
	if err := s.db.GetContext(ctx, &nBanned, `SELECT count(*) FROM users u`+where, args...); err != nil {
		return 0, fmt.Errorf("db: count banned users: %w", err)
	}
	if *f.Banned {
		return nBanned, nil
	}
	return all - nBanned, nil
}

// isTrigram reports whether q is three ASCII letters or digits, whose
// total search_trigrams keeps.
func isTrigram(q string) bool {
	if len(q) != 3 {
		return false
	}
	for i := range 3 {
		c := q[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
