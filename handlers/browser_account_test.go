package handlers_test

import (
	"context"
	"strings"
	"testing"

	"userpanel/db"
)

// TestBrowserAccountSessions: an admin opens their account from the email
// in the top bar, sees this browser and an older sign-in elsewhere, and
// ends the other one.
func TestBrowserAccountSessions(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "account")
	ctx := context.Background()
	admin, err := p.store.GetUserByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	// The other device signed in earlier and was last seen a minute ago,
	// well within the idle limit: its row lists after this browser's.
	_, other, err := p.store.StartPanelSession(ctx, admin, db.SessionLimits{}, "198.51.100.4", "Old Laptop Browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.DB().ExecContext(ctx, `UPDATE panel_sessions
		SET created_at = now() - interval '1 minute', last_seen_at = now() - interval '1 minute' WHERE id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}
	p.signIn(adminEmail)

	p.click(`[data-testid="current-user"]`)
	p.waitFor("the account page", func(s pageState) bool { return s.path() == "/account" })
	rows := p.textOf(`[data-testid="account-sessions"] tbody`, func(s string) bool { return strings.Contains(s, "Old Laptop Browser") })
	if !strings.Contains(rows, "198.51.100.4") || !strings.Contains(rows, "this browser") {
		t.Errorf("the session list reads %q", rows)
	}
	p.screenshot("sessions")
	p.click(`button[data-testid="end-session"]`)
	if got := p.textOf(`[data-testid="flash"]`, func(s string) bool { return s != "" }); !strings.Contains(got, "ended") {
		t.Errorf("flash %q", got)
	}
	if got := p.textOf(`[data-testid="account-sessions"] tbody`, func(s string) bool { return !strings.Contains(s, "Old Laptop") }); !strings.Contains(got, "this browser") {
		t.Errorf("after ending: %q", got)
	}
	list, err := p.store.ListPanelSessions(ctx, admin.ID, db.SessionLimits{})
	if err != nil || len(list) != 1 {
		t.Fatalf("live sessions after ending one: %+v, %v", list, err)
	}
	p.screenshot("ended")
	p.noPageErrors()
}
