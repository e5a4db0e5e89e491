package db_test

import (
	"context"
	"testing"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// BenchmarkSessionLoad is the per-request cost of a signed-in request: the
// panel session and its user in one query (LoadPanelSession), against the
// user alone (LoadUser), with 100,000 users and 100,000 sessions in the
// tables. Run: go test -run '^$' -bench SessionLoad ./db/
func BenchmarkSessionLoad(b *testing.B) {
	s := testdb.New(b)
	ctx := context.Background()
	if _, err := s.DB().Exec(`INSERT INTO users (email, name, password_hash)
		SELECT 'user' || g || '@bench.test', 'User ' || g, 'x' FROM generate_series(1, 100000) g`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO panel_sessions (token_hash, user_id, session_version, expires_at)
		SELECT sha256(convert_to(id::text, 'UTF8')), id, session_version, now() + interval '1 day' FROM users`); err != nil {
		b.Fatal(err)
	}
	u := staff(b, s, "bench.staff@bench.test", "support")
	user, err := s.LoadUser(ctx, u.ID)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := s.StartPanelSession(ctx, user, db.SessionLimits{}, "192.0.2.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().Exec(`ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Run("LoadUser", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.LoadUser(ctx, u.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LoadPanelSession", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.LoadPanelSession(ctx, tok, db.SessionLimits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
