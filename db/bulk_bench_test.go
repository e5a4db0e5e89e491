package db_test

import (
	"testing"

	"userpanel/db"
)

// BenchmarkBulk100k times bulk actions over 100,000 users selected by a
// filter, with a live session each: the bar is seconds, not minutes.
// Run: go test -run '^$' -bench Bulk100k -benchtime 1x ./db/
func BenchmarkBulk100k(b *testing.B) {
	s := newStore(b)
	admin := staff(b, s, "admin@bulk.test", "admin")
	if _, err := s.DB().Exec(`INSERT INTO users (email, name, email_verified)
		SELECT 'load' || g || '@bulk.test', 'Load ' || g, g % 2 = 0 FROM generate_series(1, 100000) g`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO refresh_tokens (user_id, token_hash, expires_at)
		SELECT id, sha256(id::text::bytea), now() + interval '1 day' FROM users WHERE email LIKE 'load%'`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().Exec(`VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	sel := db.Selection{Filter: &db.Filter{Query: "@bulk.test"}}
	ctx := asUser(admin)
	for _, step := range []struct {
		name string
		req  db.BulkRequest
	}{
		{"Preview", db.BulkRequest{Action: db.BulkBan, Reason: "load", Selection: sel}},
		{"Ban", db.BulkRequest{Action: db.BulkBan, Reason: "load", Selection: sel}},
		{"Unban", db.BulkRequest{Action: db.BulkUnban, Selection: sel}},
		{"GrantRole", db.BulkRequest{Action: db.BulkGrantRole, Role: "manager", Selection: sel}},
		{"Delete", db.BulkRequest{Action: db.BulkDelete, Selection: sel}},
	} {
		b.Run(step.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run := s.Bulk
				if step.name == "Preview" {
					run = s.PreviewBulk
				}
				plan, err := run(ctx, step.req)
				if err != nil {
					b.Fatal(err)
				}
				if i == 0 && plan.Affected < 100000 {
					b.Fatalf("affected %d", plan.Affected)
				}
			}
		})
	}
}
