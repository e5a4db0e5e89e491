package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// wantSignedOut checks that pg sends the browser to sign in, back to next.
func wantSignedOut(t *testing.T, what string, pg page, next string) {
	t.Helper()
	if pg.status != http.StatusSeeOther || pg.header.Get("Location") != loginURL(next) {
		t.Fatalf("%s: %d to %q, want 303 to %q", what, pg.status, pg.header.Get("Location"), loginURL(next))
	}
}

// sessionRowID is the id of the newest panel session: in these tests, the
// one of the browser that signed in last.
func (b *browser) sessionRowID() string {
	b.t.Helper()
	var id string
	if err := b.p.store.DB().Get(&id, `SELECT id FROM panel_sessions ORDER BY created_at DESC LIMIT 1`); err != nil {
		b.t.Fatal(err)
	}
	return id
}

// The idle timeout and the absolute lifetime, with short limits and the
// real clock: activity keeps a session from going idle, but never past its
// absolute lifetime, counted from the sign-in.
func TestSessionLimits(t *testing.T) {
	t.Parallel()
	t.Run("AbsoluteNotRenewedByActivity", func(t *testing.T) {
		t.Parallel()
		p := newTestPanel(t, func(o *Options) { o.SessionMaxAge = 3 * time.Second; o.SessionIdleTimeout = 2 * time.Second })
		p.addUser(supportEmail, "Sam", "support")
		b := p.signedIn(supportEmail)
		start := time.Now()
		// A request every 200 ms, with a flash-saving action between, for
		// longer than the idle timeout: the session stays.
		for time.Since(start) < 2500*time.Millisecond {
			wantStatus(t, "GET /users while active", b.get("/users"), http.StatusOK)
			time.Sleep(200 * time.Millisecond)
		}
		for time.Since(start) < 3200*time.Millisecond {
			time.Sleep(100 * time.Millisecond)
		}
		wantSignedOut(t, "GET /users after the absolute lifetime", b.get("/users?q=sam"), "/users?q=sam")
	})
	t.Run("Idle", func(t *testing.T) {
		t.Parallel()
		p := newTestPanel(t, func(o *Options) { o.SessionIdleTimeout = time.Second })
		p.addUser(supportEmail, "Sam", "support")
		b := p.signedIn(supportEmail)
		wantStatus(t, "GET /users", b.get("/users"), http.StatusOK)
		time.Sleep(1200 * time.Millisecond)
		pg := b.get("/users/new?x=1")
		wantSignedOut(t, "GET after the idle timeout", pg, "/users/new?x=1")
		if ck := findSetCookie(pg.header, sessionName); ck == nil || ck.MaxAge >= 0 {
			t.Error("the expired session's cookie was not removed")
		}
	})
}

// The defaults, 30 minutes idle and 12 hours in all, with the database's
// clock moved back instead of waiting.
func TestSessionDefaultLimits(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addUser(supportEmail, "Sam", "support")
	cases := []struct {
		name, shift string
		want        int
	}{
		{"Idle29Minutes", `last_seen_at = now() - interval '29 minutes'`, http.StatusOK},
		{"Idle31Minutes", `last_seen_at = now() - interval '31 minutes'`, http.StatusSeeOther},
		// Busy a minute ago, but signed in 12 hours ago.
		{"SignedIn12HoursAgo", `created_at = now() - interval '12 hours 1 second', expires_at = now() + interval '1 hour'`, http.StatusSeeOther},
		{"PastExpiresAt", `expires_at = now() - interval '1 second'`, http.StatusSeeOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := p.signedIn(supportEmail)
			wantStatus(t, "before", b.get("/users"), http.StatusOK)
			p.exec(`UPDATE panel_sessions SET `+c.shift+` WHERE id = $1`, b.sessionRowID())
			pg := b.get("/users?q=a%26b")
			if c.want == http.StatusOK {
				wantStatus(t, "after", pg, http.StatusOK)
				return
			}
			wantSignedOut(t, "after", pg, "/users?q=a%26b")
			// Signing in again goes back where the visitor was.
			form := b.get(pg.header.Get("Location"))
			next := form.doc.Find(`input[name="next"]`).AttrOr("value", "")
			in := b.post("/login", url.Values{"email": {supportEmail}, "password": {testdb.Password}, "next": {next}})
			if in.status != http.StatusSeeOther || in.header.Get("Location") != "/users?q=a%26b" {
				t.Fatalf("sign in again: %d to %q", in.status, in.header.Get("Location"))
			}
		})
	}
	// A form posted after the timeout leads to the sign-in page, back to
	// the page the form was on, not to a CSRF error; and it changes nothing.
	t.Run("PostAfterExpiry", func(t *testing.T) {
		target := p.addUser("tom.target@panel.test", "Tom")
		b := p.signedIn(supportEmail)
		tok := b.csrf()
		p.exec(`UPDATE panel_sessions SET last_seen_at = now() - interval '31 minutes' WHERE id = $1`, b.sessionRowID())
		pg := b.post("/users/"+target+"/ban", url.Values{"_csrf": {tok}, "reason": {"x"}, "duration": {"1h"}},
			"Referer", p.srv.URL+"/users/"+target)
		wantSignedOut(t, "POST after the idle timeout", pg, "/users/"+target)
		if p.auditCount(target, db.ActionBan) != 0 {
			t.Error("an expired session banned a user")
		}
	})
	// A spoofed X-Forwarded-For is not the address a session is listed under.
	t.Run("AddressFromTheConnection", func(t *testing.T) {
		b := p.browser()
		b.signInWith(supportEmail, "X-Forwarded-For", "203.0.113.9")
		var addr string
		_ = p.store.DB().Get(&addr, `SELECT client_addr FROM panel_sessions WHERE id = $1`, b.sessionRowID())
		if addr != "127.0.0.1" {
			t.Errorf("session listed under %q, want the connection's 127.0.0.1", addr)
		}
	})
	// last_seen_at is written at most once a minute, not on every request.
	t.Run("LastSeenWrittenOncePerMinute", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		id := b.sessionRowID()
		p.exec(`UPDATE panel_sessions SET last_seen_at = now() - interval '30 seconds' WHERE id = $1`, id)
		var before, after time.Time
		_ = p.store.DB().Get(&before, `SELECT last_seen_at FROM panel_sessions WHERE id = $1`, id)
		wantStatus(t, "GET /users", b.get("/users"), http.StatusOK)
		_ = p.store.DB().Get(&after, `SELECT last_seen_at FROM panel_sessions WHERE id = $1`, id)
		if !after.Equal(before) {
			t.Errorf("last_seen_at written after 30 s: %v -> %v", before, after)
		}
		p.exec(`UPDATE panel_sessions SET last_seen_at = now() - interval '61 seconds' WHERE id = $1`, id)
		wantStatus(t, "GET /users", b.get("/users"), http.StatusOK)
		_ = p.store.DB().Get(&after, `SELECT last_seen_at FROM panel_sessions WHERE id = $1`, id)
		if time.Since(after) > 10*time.Second {
			t.Errorf("last_seen_at not written after a minute: %v", after)
		}
	})
}

// Every sign-in is a new session with a new token, and a new CSRF token:
// nothing planted before the sign-in works after it.
func TestSignInRenewsSession(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()

	t.Run("NewSessionIdentity", func(t *testing.T) {
		// The attacker signs in to their own account and plants that
		// session cookie, and its CSRF token, in the victim's browser.
		attacker := p.signedIn(managerEmail)
		planted := attacker.cookie(sessionName)
		plantedToken := attacker.csrf()
		victim := p.browser()
		u, _ := url.Parse(p.srv.URL)
		victim.client.Jar.SetCookies(u, []*http.Cookie{{Name: planted.Name, Value: planted.Value, Path: "/"}})
		victim.signIn(supportEmail)
		if got := victim.cookie(sessionName); got == nil || got.Value == planted.Value {
			t.Fatal("the session cookie was not renewed at sign-in")
		}
		// The planted session is still the attacker's, not the victim's.
		if got := attacker.get("/users"); got.status != http.StatusForbidden {
			t.Errorf("the planted session now reaches /users: %d", got.status)
		}
		pg := victim.post("/users/"+s.plain+"/revoke-sessions", url.Values{"_csrf": {plantedToken}})
		wantStatus(t, "POST with the planted CSRF token", pg, http.StatusForbidden)
		var n int
		_ = p.store.DB().Get(&n, `SELECT count(DISTINCT token_hash) FROM panel_sessions WHERE user_id IN ($1, $2)`, s.support, s.manager)
		if n != 2 {
			t.Errorf("%d session rows, want 2 (one per sign-in)", n)
		}
	})

	t.Run("CSRFTokenFromBeforeSignInRefused", func(t *testing.T) {
		b := p.browser()
		before := b.csrf()
		b.signIn(supportEmail)
		after := b.csrf()
		if after == before {
			t.Fatal("CSRF token not rotated at sign-in")
		}
		pg := b.post("/users/"+s.plain+"/revoke-sessions", url.Values{"_csrf": {before}})
		wantStatus(t, "POST with the token from before sign-in", pg, http.StatusForbidden)
		pg = b.post("/users/"+s.plain+"/revoke-sessions", url.Values{"_csrf": {}}, "X-CSRF-Token", before)
		wantStatus(t, "htmx POST with the token from before sign-in", pg, http.StatusForbidden)
		if p.auditCount(s.plain, db.ActionRevokeSessions) != 0 {
			t.Fatal("a refused request signed the user out")
		}
		wantStatus(t, "POST with the session's token", b.post("/users/"+s.plain+"/revoke-sessions", nil), http.StatusSeeOther)
	})

	t.Run("SecondSignInEndsNothingButIsNew", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		first := b.cookie(sessionName).Value
		firstToken := b.csrf()
		b.signIn(supportEmail)
		if b.cookie(sessionName).Value == first {
			t.Fatal("signing in again kept the session cookie")
		}
		pg := b.post("/users/"+s.plain+"/revoke-sessions", url.Values{"_csrf": {firstToken}})
		wantStatus(t, "POST with the previous session's token", pg, http.StatusForbidden)
	})
}

// A staff member sees where they are signed in and ends their other
// sessions; someone else's session is not theirs to end.
func TestAccountSessions(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	here := p.browser()
	here.signIn(supportEmail)
	there := p.browser()
	// The other device has its own User-Agent.
	there.signInWith(supportEmail, "User-Agent", "Phone Browser/1.0")
	admin := p.signedIn(adminEmail)

	pg := here.get("/account")
	wantStatus(t, "GET /account", pg, http.StatusOK)
	rows := pg.doc.Find(`[data-testid="account-session"]`)
	if rows.Length() != 2 {
		t.Fatalf("%d sessions listed, want 2:\n%s", rows.Length(), pg.body)
	}
	if pg.doc.Find(`[data-testid="session-current"]`).Length() != 1 {
		t.Error("this browser's session is not marked")
	}
	phone := pg.doc.Find(`[data-testid="account-session"]:has([data-testid="end-session"])`)
	otherID := phone.AttrOr("data-session-id", "")
	if got := strings.TrimSpace(phone.Find(`[data-testid="session-agent"]`).Text()); got != "Phone Browser/1.0" {
		t.Errorf("other session's browser %q", got)
	}
	if got := strings.TrimSpace(phone.Find(`[data-testid="session-addr"]`).Text()); got != "127.0.0.1" {
		t.Errorf("other session's address %q", got)
	}
	if strings.Contains(pg.body, adminEmail) {
		t.Error("the account page shows someone else's session")
	}

	t.Run("OtherUsersSessionIs404", func(t *testing.T) {
		var adminSession string
		_ = p.store.DB().Get(&adminSession, `SELECT id FROM panel_sessions WHERE user_id = $1`, s.admin)
		for _, id := range []string{adminSession, "00000000-0000-0000-0000-000000000000", "not-a-uuid"} {
			wantStatus(t, "end "+id, here.post("/account/sessions/"+id+"/end", nil), http.StatusNotFound)
		}
		wantStatus(t, "admin still signed in", admin.get("/users"), http.StatusOK)
	})
	t.Run("NeedsCSRF", func(t *testing.T) {
		pg := here.post("/account/sessions/"+otherID+"/end", url.Values{"_csrf": {"nope"}})
		wantStatus(t, "end without token", pg, http.StatusForbidden)
		wantStatus(t, "other device still signed in", there.get("/users"), http.StatusOK)
	})
	t.Run("EndOther", func(t *testing.T) {
		pg := here.post("/account/sessions/"+otherID+"/end", nil)
		if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/account" {
			t.Fatalf("end: %d to %q", pg.status, pg.header.Get("Location"))
		}
		wantSignedOut(t, "the ended device", there.get("/users"), "/users")
		wantStatus(t, "this browser", here.get("/users"), http.StatusOK)
		if p.auditCount(s.support, db.ActionSessionEnd) != 1 {
			t.Error("no audit row for the ended session")
		}
		list := here.get("/account")
		if n := list.doc.Find(`[data-testid="account-session"]`).Length(); n != 1 {
			t.Errorf("%d sessions listed after ending one, want 1", n)
		}
		wantStatus(t, "end it again", here.post("/account/sessions/"+otherID+"/end", nil), http.StatusNotFound)
	})
	t.Run("GetOfThePostAddress", func(t *testing.T) {
		pg := here.get("/account/sessions/" + otherID + "/end")
		if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/account" {
			t.Errorf("GET of the end address: %d to %q", pg.status, pg.header.Get("Location"))
		}
	})
	t.Run("Anonymous", func(t *testing.T) {
		pg := p.browser().post("/account/sessions/"+otherID+"/end", nil)
		if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.header.Get("Location"), "/login") {
			t.Errorf("anonymous end: %d to %q", pg.status, pg.header.Get("Location"))
		}
	})
}

// signInWith signs in with extra request headers (name, value pairs).
func (b *browser) signInWith(email string, headers ...string) {
	b.t.Helper()
	pg := b.post("/login", url.Values{"email": {email}, "password": {testdb.Password}}, headers...)
	if pg.status != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: status %d", email, pg.status)
	}
}

// Sign-out clears the cookies and lands on the sign-in page even when the
// database is gone.
func TestSignOutWithDatabaseDown(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addUser(supportEmail, "Sam", "support")
	b := p.signedIn(supportEmail)
	tok := b.csrf()
	if err := p.store.Close(); err != nil {
		t.Fatal(err)
	}
	pg := b.post("/logout", url.Values{"_csrf": {tok}})
	if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/login" {
		t.Fatalf("POST /logout with the database down: %d to %q\n%.300s", pg.status, pg.header.Get("Location"), pg.body)
	}
	for _, name := range []string{sessionName, csrfCookieName} {
		if ck := findSetCookie(pg.header, name); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("cookie %s not cleared: %+v", name, ck)
		}
	}
	if b.cookie(sessionName) != nil {
		t.Error("the browser still holds the session cookie")
	}
	if !strings.Contains(p.logs.String(), "could not end the session") {
		t.Error("the failed server-side sign-out is not logged")
	}
}

// A session refused because its user lost the staff role stays ended when
// the role comes back: a copy of its cookie does not revive.
func TestSessionDoesNotReviveWithTheRole(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	id := p.addUser(supportEmail, "Sam", "support")
	b := p.signedIn(supportEmail)
	stolen := b.cookie(sessionName)
	if err := p.store.SetRoles(asActor(), id, nil); err != nil {
		t.Fatal(err)
	}
	wantSignedOut(t, "without the role", b.get("/users"), "/users")
	if err := p.store.SetRoles(asActor(), id, []string{"support"}); err != nil {
		t.Fatal(err)
	}
	replay := p.browser()
	u, _ := url.Parse(p.srv.URL)
	replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: stolen.Name, Value: stolen.Value, Path: "/"}})
	wantSignedOut(t, "the old cookie after the role is back", replay.get("/users"), "/users")
}

// Two panel servers on one database: a session started on one works on the
// other, and ending it on either ends it on both.
func TestSessionsAcrossServers(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	e2, err := New(p.store, Options{SessionSecret: testSecret, Logger: slog.New(slog.NewJSONHandler(p.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(e2)
	t.Cleanup(srv2.Close)
	// on2 is a browser whose cookies are b's, sent to the second server.
	on2 := func(b *browser) *browser {
		p2 := &testPanel{t: t, store: p.store, srv: srv2, logs: p.logs}
		b2 := p2.browser()
		u1, _ := url.Parse(p.srv.URL)
		u2, _ := url.Parse(srv2.URL)
		b2.client.Jar.SetCookies(u2, b.client.Jar.Cookies(u1))
		return b2
	}

	t.Run("SignOutOnOne", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		b2 := on2(b)
		wantStatus(t, "server 2 before", b2.get("/users"), http.StatusOK)
		wantStatus(t, "sign out on server 1", b.post("/logout", nil), http.StatusSeeOther)
		wantSignedOut(t, "server 2 after", b2.get("/users"), "/users")
	})
	t.Run("EndFromAccountOnTwo", func(t *testing.T) {
		laptop := p.signedIn(supportEmail)
		phone := p.signedIn(supportEmail)
		phoneID := phone.sessionRowID()
		laptop2 := on2(laptop)
		wantStatus(t, "end on server 2", laptop2.post("/account/sessions/"+phoneID+"/end", nil), http.StatusSeeOther)
		wantSignedOut(t, "phone on server 1", phone.get("/users"), "/users")
	})
	t.Run("SignedOutEverywhere", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		b2 := on2(p.signedIn(supportEmail))
		admin2 := on2(p.signedIn(adminEmail))
		wantStatus(t, "revoke on server 2", admin2.post("/users/"+s.support+"/revoke-sessions", nil), http.StatusSeeOther)
		wantSignedOut(t, "server 1", b.get("/users"), "/users")
		wantSignedOut(t, "server 2", b2.get("/users"), "/users")
	})
}
