package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"userpanel/db"
)

// tokenState is one refresh token's revocation as the database holds it.
type tokenState struct {
	UserAgent string     `db:"user_agent"`
	RevokedAt *time.Time `db:"revoked_at"`
}

// insertTokens gives the user a live, an expired and an already revoked
// refresh token, named by their user agent.
func insertTokens(t *testing.T, s *db.Store, userID string) {
	t.Helper()
	mustExec(t, s, `INSERT INTO refresh_tokens (user_id, token_hash, user_agent, expires_at, revoked_at) VALUES
		($1, convert_to(gen_random_uuid()::text, 'UTF8'), 'live-1', now() + interval '1 day', NULL),
		($1, convert_to(gen_random_uuid()::text, 'UTF8'), 'live-2', now() + interval '30 days', NULL),
		($1, convert_to(gen_random_uuid()::text, 'UTF8'), 'expired', now() - interval '1 day', NULL),
		($1, convert_to(gen_random_uuid()::text, 'UTF8'), 'revoked', now() + interval '1 day', '2024-01-01T00:00:00Z')`, userID)
}

func tokens(t *testing.T, s *db.Store, userID string) map[string]*time.Time {
	t.Helper()
	var rows []tokenState
	if err := s.DB().Select(&rows, `SELECT user_agent, revoked_at FROM refresh_tokens WHERE user_id = $1`, userID); err != nil {
		t.Fatal(err)
	}
	out := map[string]*time.Time{}
	for _, r := range rows {
		out[r.UserAgent] = r.RevokedAt
	}
	return out
}

// checkRevoked checks that exactly the live tokens were revoked by the change
// and the others were left as they were.
func checkRevoked(t *testing.T, got map[string]*time.Time) {
	t.Helper()
	if got["live-1"] == nil || got["live-2"] == nil {
		t.Fatalf("live sessions not revoked: %v", got)
	}
	if got["expired"] != nil {
		t.Fatalf("an expired session was marked revoked")
	}
	if r := got["revoked"]; r == nil || !r.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("an already revoked session's revocation time changed: %v", r)
	}
}

func sessionVersion(t *testing.T, s *db.Store, id string) int {
	t.Helper()
	return countRows(t, s, `SELECT session_version FROM users WHERE id = $1`, id)
}

func TestBanUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	admin := staff(t, s, "admin@example.com", "admin")
	support := staff(t, s, "support@example.com", "support")

	t.Run("OK", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "bad@example.com", Verified: true})
		bystander := insertUser(t, s, fixture{Email: "bystander@example.com"})
		insertTokens(t, s, u.ID)
		insertTokens(t, s, bystander.ID)
		version := sessionVersion(t, s, u.ID)
		until := time.Now().Add(72 * time.Hour).Truncate(time.Microsecond)

		if err := s.BanUser(asUser(support), u.ID, "  spam  ", &until); err != nil {
			t.Fatalf("BanUser: %v", err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Banned || got.BanReason != "spam" || got.BannedUntil == nil || !got.BannedUntil.Equal(until) ||
			got.BannedAt == nil || got.BannedBy == nil || *got.BannedBy != support.ID || got.BannedByEmail != support.Email {
			t.Fatalf("banned user = %+v", got.User)
		}
		if v := sessionVersion(t, s, u.ID); v != version+1 {
			t.Fatalf("session_version %d -> %d, want bumped by one", version, v)
		}
		checkRevoked(t, tokens(t, s, u.ID))
		for ua, r := range tokens(t, s, bystander.ID) {
			if (ua == "revoked") != (r != nil) {
				t.Fatalf("banning one user touched another's session %q", ua)
			}
		}
		for _, sess := range got.Sessions {
			if sess.Active(time.Now()) {
				t.Fatalf("session %q still active after the ban", sess.UserAgent)
			}
		}
		page, err := s.ListAudit(ctx, db.AuditFilter{TargetID: u.ID, Action: db.ActionBan})
		if err != nil || len(page.Entries) != 1 {
			t.Fatalf("ban audit rows = %+v, %v", page.Entries, err)
		}
		e := page.Entries[0]
		d := e.DetailsMap()
		if e.ActorEmail != support.Email || e.TargetEmail != u.Email || d["reason"] != "spam" ||
			d["sessions_revoked"] != float64(2) || d["until"] != until.UTC().Format(time.RFC3339) {
			t.Fatalf("ban audit row = %+v details %v", e, d)
		}
		n, err := s.CountUsers(ctx, db.Filter{Banned: ptr(true)})
		if err != nil || n != 1 {
			t.Fatalf("CountUsers(banned) = %d, %v", n, err)
		}
	})

	t.Run("ForGood", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "forever@example.com"})
		if err := s.BanUser(asUser(admin), u.ID, "fraud", nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || !got.Banned || got.BannedUntil != nil || got.BanReason != "fraud" {
			t.Fatalf("banned for good = %+v, %v", got, err)
		}
		if _, ok := mustAudit(t, s, u.ID, db.ActionBan).DetailsMap()["until"]; ok {
			t.Fatalf("a ban for good records an end")
		}
		// Banning again replaces the reason and the end.
		until := time.Now().Add(time.Hour).Truncate(time.Microsecond)
		if err := s.BanUser(asUser(admin), u.ID, "fraud, reviewed", &until); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetUser(ctx, u.ID)
		if !got.Banned || got.BanReason != "fraud, reviewed" || got.BannedUntil == nil || !got.BannedUntil.Equal(until) {
			t.Fatalf("re-banned = %+v", got.User)
		}
	})

	refusals := []struct {
		name   string
		reason string
		until  *time.Time
		field  string
	}{
		{"ReasonRequired", "", nil, "reason"},
		{"ReasonBlank", " \t ", nil, "reason"},
		{"ReasonTooLong", strings.Repeat("x", db.MaxBanReasonLen+1), nil, "reason"},
		{"ReasonWithNul", "spam\x00", nil, "reason"},
		{"ReasonNotUTF8", "spam \xff", nil, "reason"},
		{"UntilInThePast", "spam", ptr(time.Now().Add(-time.Minute)), "until"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			u := insertUser(t, s, fixture{Email: strings.ToLower(c.name) + "@example.com"})
			insertTokens(t, s, u.ID)
			before := usersSnapshot(t, s)
			audits := len(auditRows(t, s))
			wantValidation(t, s.BanUser(asUser(admin), u.ID, c.reason, c.until), c.field)
			if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
				t.Fatalf("a refused ban changed something")
			}
			if live := tokens(t, s, u.ID); live["live-1"] != nil {
				t.Fatalf("a refused ban revoked sessions")
			}
		})
	}

	t.Run("ErrSelf", func(t *testing.T) {
		before := usersSnapshot(t, s)
		wantErr(t, s.BanUser(asUser(support), support.ID, "oops", nil), db.ErrSelf)
		if usersSnapshot(t, s) != before {
			t.Fatalf("a refused self-ban changed something")
		}
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		// The other admin is already banned, so admin is the last active one.
		insertUser(t, s, fixture{Email: "banned-admin@example.com", Roles: []string{"admin"}, Banned: true})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		wantErr(t, s.BanUser(sysCtx(), admin.ID, "coup", nil), db.ErrLastAdmin)
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("a refused ban changed something")
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.BanUser(ctx, "00000000-0000-4000-8000-000000000000", "x", nil), db.ErrNotFound)
		wantErr(t, s.BanUser(ctx, "nope", "x", nil), db.ErrNotFound)
		wantErr(t, s.UnbanUser(ctx, "nope"), db.ErrNotFound)
		wantErr(t, s.UnbanUser(ctx, "00000000-0000-4000-8000-000000000000"), db.ErrNotFound)
	})

	t.Run("ErrNoActor", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "noactor-ban@example.com"})
		wantErr(t, s.BanUser(context.Background(), u.ID, "x", nil), db.ErrNoActor)
		wantErr(t, s.UnbanUser(context.Background(), u.ID), db.ErrNoActor)
		_, err := s.RevokeSessions(context.Background(), u.ID)
		wantErr(t, err, db.ErrNoActor)
	})
}

func TestUnbanUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	support := staff(t, s, "support@example.com", "support")

	t.Run("OK", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "banned@example.com"})
		if err := s.BanUser(asUser(support), u.ID, "spam", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.UnbanUser(asUser(support), u.ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || got.Banned || got.BanReason != "" || got.BannedUntil != nil || got.BannedAt != nil || got.BannedBy != nil {
			t.Fatalf("unbanned user = %+v, %v", got, err)
		}
		e := mustAudit(t, s, u.ID, db.ActionUnban)
		if e.ActorEmail != support.Email || e.TargetEmail != u.Email {
			t.Fatalf("unban audit row = %+v", e)
		}
		n, _ := s.CountUsers(ctx, db.Filter{Banned: ptr(true)})
		if n != 0 {
			t.Fatalf("%d banned users after the unban", n)
		}
	})

	t.Run("NeverBannedWritesNoAudit", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "innocent@example.com"})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		if err := s.UnbanUser(asUser(support), u.ID); err != nil {
			t.Fatal(err)
		}
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("unbanning a user who was never banned changed something")
		}
	})

	t.Run("ExpiredBanIsCleared", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "expired@example.com", Banned: true, BannedUntil: ptr(time.Now().Add(-time.Hour))})
		if err := s.UnbanUser(asUser(support), u.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetUser(ctx, u.ID)
		if got.Banned || got.BanReason != "" || got.BannedUntil != nil {
			t.Fatalf("after unban = %+v", got.User)
		}
		if n := countRows(t, s, `SELECT count(*) FROM users WHERE banned`); n != 0 {
			t.Fatalf("the ban record is still there")
		}
	})
}

func TestExpiredBan(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	hourAgo := time.Now().Add(-time.Hour)
	inAnHour := time.Now().Add(time.Hour)
	fs := insertUsers(t, s, []fixture{
		{Email: "expired@example.com", Verified: true, Roles: []string{"support"}, Banned: true, BannedUntil: &hourAgo},
		{Email: "current@example.com", Verified: true, Banned: true, BannedUntil: &inAnHour},
		{Email: "forever@example.com", Banned: true},
		{Email: "fine@example.com"},
	})
	expired := fs[0]
	// A ban that ended by the clock, written as the database would hold it.
	mustExec(t, s, `UPDATE users SET banned_until = now() - interval '1 minute' WHERE id = $1`, expired.ID)

	got, err := s.GetUser(ctx, expired.ID)
	if err != nil || got.Banned {
		t.Fatalf("GetUser of an expired ban: Banned=%v, %v", got != nil && got.Banned, err)
	}
	res, err := s.ListUsers(ctx, db.ListParams{Filter: db.Filter{Banned: ptr(true)}, SortBy: db.SortEmail})
	if err != nil {
		t.Fatal(err)
	}
	if emails := strings.Join(emailsOf(res.Users), ","); emails != "current@example.com,forever@example.com" || res.Total != 2 {
		t.Fatalf("banned filter = %s (total %d)", emails, res.Total)
	}
	res, err = s.ListUsers(ctx, db.ListParams{Filter: db.Filter{Banned: ptr(false)}, SortBy: db.SortEmail})
	if err != nil {
		t.Fatal(err)
	}
	if emails := strings.Join(emailsOf(res.Users), ","); emails != "expired@example.com,fine@example.com" || res.Total != 2 {
		t.Fatalf("not-banned filter = %s (total %d)", emails, res.Total)
	}
	for _, u := range res.Users {
		if u.Banned {
			t.Fatalf("%s reads as banned in the list", u.Email)
		}
	}
	for _, c := range []struct {
		f    db.Filter
		want int64
	}{
		{db.Filter{Banned: ptr(true)}, 2},
		{db.Filter{Banned: ptr(false)}, 2},
		{db.Filter{Banned: ptr(true), Verified: ptr(true)}, 1},
		{db.Filter{Banned: ptr(false), Verified: ptr(true)}, 1},
		{db.Filter{Banned: ptr(true), Role: "support"}, 0},
		{db.Filter{Banned: ptr(false), Role: "support"}, 1},
	} {
		if n, err := s.CountUsers(ctx, c.f); err != nil || n != c.want {
			t.Fatalf("CountUsers(%+v) = %d, %v, want %d", c.f, n, err, c.want)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Banned != 2 {
		t.Fatalf("Stats.Banned = %d, %v, want 2", st.Banned, err)
	}
	// A staff member whose ban has ended may sign in again.
	u, err := s.Authenticate(context.Background(), expired.Email, testPassword)
	if err != nil || u.Banned {
		t.Fatalf("an expired ban still blocks sign-in: %v", err)
	}
}

func TestRevokeSessions(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	support := staff(t, s, "support@example.com", "support")
	u := insertUser(t, s, fixture{Email: "user@example.com"})
	insertTokens(t, s, u.ID)
	version := sessionVersion(t, s, u.ID)

	n, err := s.RevokeSessions(asUser(support), u.ID)
	if err != nil || n != 2 {
		t.Fatalf("RevokeSessions = %d, %v, want 2", n, err)
	}
	checkRevoked(t, tokens(t, s, u.ID))
	if v := sessionVersion(t, s, u.ID); v != version+1 {
		t.Fatalf("session_version %d -> %d", version, v)
	}
	e := mustAudit(t, s, u.ID, db.ActionRevokeSessions)
	if e.ActorEmail != support.Email || e.TargetEmail != u.Email || e.DetailsMap()["sessions_revoked"] != float64(2) {
		t.Fatalf("audit row = %+v", e)
	}
	got, err := s.GetUser(sysCtx(), u.ID)
	if err != nil || got.Banned {
		t.Fatalf("signing a user out banned them: %+v, %v", got, err)
	}

	// Again: nothing left to revoke, but the panel sign-in still ends.
	n, err = s.RevokeSessions(asUser(support), u.ID)
	if err != nil || n != 0 {
		t.Fatalf("second RevokeSessions = %d, %v, want 0", n, err)
	}
	if v := sessionVersion(t, s, u.ID); v != version+2 {
		t.Fatalf("session_version after two revocations = %d, want %d", v, version+2)
	}

	_, err = s.RevokeSessions(asUser(support), "00000000-0000-4000-8000-000000000000")
	wantErr(t, err, db.ErrNotFound)
	_, err = s.RevokeSessions(asUser(support), "x")
	wantErr(t, err, db.ErrNotFound)
}

func emailsOf(us []db.User) []string { return ids(us, func(u db.User) string { return u.Email }) }

// mustAudit returns the newest audit row about target with the action.
func mustAudit(t *testing.T, s *db.Store, target, action string) db.AuditEntry {
	t.Helper()
	page, err := s.ListAudit(sysCtx(), db.AuditFilter{TargetID: target, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) == 0 {
		t.Fatalf("no %s audit row about %s", action, target)
	}
	return page.Entries[0]
}
