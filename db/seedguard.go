package db

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// CountForeignUsers counts the users that a demo seed did not make: any
// user whose address is not at one of demoDomains, or whose password is set
// to anything but demoHash. seed refuses a database that holds such users,
// because its demo staff share a public password.
func (s *Store) CountForeignUsers(ctx context.Context, demoDomains []string, demoHash string) (int64, error) {
	var n int64
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users
		WHERE lower(split_part(email, '@', 2)) <> ALL($1::text[])
		   OR (password_hash IS NOT NULL AND password_hash <> $2)`, pq.Array(demoDomains), demoHash)
	if err != nil {
		return 0, fmt.Errorf("db: count foreign users: %w", err)
	}
	return n, nil
}
