package db_test

import (
	"context"
	"strings"
	"testing"

	"userpanel/db"
)

func TestPanelSessions(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	u := staff(t, s, "support@example.com", "support")
	other := staff(t, s, "admin@example.com", "admin")
	ctx := context.Background()
	lim := db.SessionLimits{}
	start := func(t *testing.T, f fixture, ua string) (string, *db.PanelSession) {
		t.Helper()
		user, err := s.LoadUser(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		tok, ps, err := s.StartPanelSession(ctx, user, lim, "::ffff:192.0.2.7", ua)
		if err != nil {
			t.Fatalf("StartPanelSession: %v", err)
		}
		return tok, ps
	}

	t.Run("OK", func(t *testing.T) {
		tok, ps := start(t, u, "Browser/1.0")
		got, user, err := s.LoadPanelSession(ctx, tok, lim)
		if err != nil || got.ID != ps.ID || user.ID != u.ID || got.ClientAddr != "192.0.2.7" || got.UserAgent != "Browser/1.0" {
			t.Fatalf("LoadPanelSession = %+v, %+v, %v", got, user, err)
		}
		if d := ps.ExpiresAt.Sub(ps.CreatedAt); d != db.DefaultSessionMaxAge {
			t.Errorf("expires %v after sign-in, want %v", d, db.DefaultSessionMaxAge)
		}
		// Only a hash of the token is stored.
		if n := countRows(t, s, `SELECT count(*) FROM panel_sessions WHERE position(convert_to($1, 'UTF8') in token_hash) > 0`, tok); n != 0 {
			t.Error("the token is stored as it is")
		}
		_, _, err = s.LoadPanelSession(ctx, tok+"x", lim)
		wantErr(t, err, db.ErrNotFound)
	})
	t.Run("TwoSignInsTwoTokens", func(t *testing.T) {
		a, pa := start(t, u, "")
		b, pb := start(t, u, "")
		if a == b || pa.ID == pb.ID || len(a) < 40 {
			t.Fatalf("tokens %q %q, ids %s %s", a, b, pa.ID, pb.ID)
		}
	})
	t.Run("Limits", func(t *testing.T) {
		for _, shift := range []string{
			`last_seen_at = now() - interval '30 minutes'`,
			`created_at = now() - interval '12 hours'`,
			`expires_at = now()`,
			`ended_at = now()`,
		} {
			tok, ps := start(t, u, "")
			if _, err := s.DB().Exec(`UPDATE panel_sessions SET `+shift+` WHERE id = $1`, ps.ID); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.LoadPanelSession(ctx, tok, lim)
			wantErr(t, err, db.ErrSessionEnded)
		}
	})
	t.Run("SignOutEverywhereEndsAll", func(t *testing.T) {
		tok, _ := start(t, u, "")
		if _, err := s.RevokeSessions(sysCtx(), u.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.LoadPanelSession(ctx, tok, lim)
		wantErr(t, err, db.ErrSessionEnded)
		list, err := s.ListPanelSessions(ctx, u.ID, lim)
		if err != nil || len(list) != 0 {
			t.Fatalf("ListPanelSessions after sign-out everywhere = %+v, %v", list, err)
		}
	})
	t.Run("SignOutSession", func(t *testing.T) {
		tok, _ := start(t, u, "")
		keep, _ := start(t, u, "")
		if err := s.SignOutSession(ctx, tok); err != nil {
			t.Fatalf("SignOutSession: %v", err)
		}
		_, _, err := s.LoadPanelSession(ctx, tok, lim)
		wantErr(t, err, db.ErrSessionEnded)
		if _, _, err := s.LoadPanelSession(ctx, keep, lim); err != nil {
			t.Errorf("another session of the user ended too: %v", err)
		}
		wantErr(t, s.SignOutSession(ctx, tok), db.ErrNotFound)
		page, err := s.ListAudit(sysCtx(), db.AuditFilter{TargetID: u.ID, Action: db.ActionLogout})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].ActorEmail != u.Email {
			t.Fatalf("logout audit rows = %+v, %v", page.Entries, err)
		}
	})
	t.Run("EndOwn", func(t *testing.T) {
		_, mine := start(t, u, "")
		theirTok, theirs := start(t, other, "")
		wantErr(t, s.EndOwnPanelSession(asUser(u), theirs.ID), db.ErrNotFound)
		wantErr(t, s.EndOwnPanelSession(asUser(u), "not-a-uuid"), db.ErrNotFound)
		wantErr(t, s.EndOwnPanelSession(ctx, mine.ID), db.ErrNoActor)
		if _, _, err := s.LoadPanelSession(ctx, theirTok, lim); err != nil {
			t.Fatalf("someone else's session ended: %v", err)
		}
		if err := s.EndOwnPanelSession(asUser(u), mine.ID); err != nil {
			t.Fatalf("EndOwnPanelSession: %v", err)
		}
		wantErr(t, s.EndOwnPanelSession(asUser(u), mine.ID), db.ErrNotFound)
		page, err := s.ListAudit(sysCtx(), db.AuditFilter{TargetID: u.ID, Action: db.ActionSessionEnd})
		if err != nil || len(page.Entries) != 1 {
			t.Fatalf("session.end audit rows = %+v, %v", page.Entries, err)
		}
	})
	t.Run("CleanInput", func(t *testing.T) {
		user, _ := s.LoadUser(ctx, u.ID)
		_, ps, err := s.StartPanelSession(ctx, user, lim, "not an address", strings.Repeat("é", 400)+"\x00\xff")
		if err != nil {
			t.Fatalf("StartPanelSession with odd input: %v", err)
		}
		if ps.ClientAddr != "" || len(ps.UserAgent) > 512 || strings.ContainsRune(ps.UserAgent, 0) {
			t.Errorf("stored %q / %d bytes of user agent", ps.ClientAddr, len(ps.UserAgent))
		}
	})
	t.Run("DeletedWithTheUser", func(t *testing.T) {
		gone := staff(t, s, "gone@example.com", "manager")
		start(t, gone, "")
		if err := s.DeleteUser(sysCtx(), gone.ID); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, s, `SELECT count(*) FROM panel_sessions WHERE user_id = $1`, gone.ID); n != 0 {
			t.Errorf("%d sessions outlived their user", n)
		}
	})
}
