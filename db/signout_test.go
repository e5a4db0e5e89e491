package db_test

import (
	"testing"

	"userpanel/db"
)

func TestSignOut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	u := staff(t, s, "support@example.com", "support")

	t.Run("OK", func(t *testing.T) {
		before := sessionVersion(t, s, u.ID)
		if err := s.SignOut(asUser(u), u.ID); err != nil {
			t.Fatalf("SignOut: %v", err)
		}
		if after := sessionVersion(t, s, u.ID); after != before+1 {
			t.Fatalf("session_version %d -> %d, want bumped by one", before, after)
		}
		page, err := s.ListAudit(sysCtx(), db.AuditFilter{TargetID: u.ID, Action: db.ActionLogout})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].ActorEmail != u.Email {
			t.Fatalf("logout audit rows = %+v, %v", page.Entries, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.SignOut(asUser(u), "00000000-0000-0000-0000-000000000000"), db.ErrNotFound)
		wantErr(t, s.SignOut(asUser(u), "not-a-uuid"), db.ErrNotFound)
	})
}
