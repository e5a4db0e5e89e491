package handlers

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// failLogin posts a wrong password and returns the answer.
func failLogin(b *browser, email string, headers ...string) page {
	b.t.Helper()
	return b.post("/login", url.Values{"email": {email}, "password": {"not-the-password"}}, headers...)
}

func TestLoginThrottledPerAccount(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	b := p.browser()
	for range db.MaxAccountFailures {
		wantStatus(t, "wrong password", failLogin(b, supportEmail), http.StatusUnauthorized)
	}
	// The right password now gets 429 and how long to wait, from any browser.
	pg := p.browser().post("/login", url.Values{"email": {strings.ToUpper(supportEmail)}, "password": {testdb.Password}})
	wantStatus(t, "locked sign-in", pg, http.StatusTooManyRequests)
	if msg := pg.text(`[data-testid="login-error"]`); msg != "Too many attempts, try again in 15 minutes." {
		t.Errorf("message %q", msg)
	}
	if ra := pg.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if pg.text(`input[name="email"]`) != "" || !pg.has(`[data-testid="login-form"]`) {
		t.Error("the form is not shown again")
	}
	// Another account signs in as usual.
	p.signedIn(adminEmail)
}

// TestLoginSpoofedForwardedFor: without a trusted proxy, X-Forwarded-For is
// ignored: a script cannot dodge the per-address count by inventing one.
func TestLoginSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	b := p.browser()
	for i := range db.MaxAddressFailures {
		email := fmt.Sprintf("spray%d@panel.test", i)
		p.addUser(email, "")
		wantStatus(t, "wrong password", failLogin(b, email, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)), http.StatusUnauthorized)
	}
	pg := b.post("/login", url.Values{"email": {adminEmail}, "password": {testdb.Password}}, "X-Forwarded-For", "198.51.100.1")
	wantStatus(t, "sign-in from a locked address", pg, http.StatusTooManyRequests)
	// The audit log names the connection's address, not the header's.
	page, err := p.store.ListAudit(asActor(), db.AuditFilter{Action: db.ActionLoginFailed, Limit: 1})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].DetailsMap()["address"] != "127.0.0.1" {
		t.Errorf("audit %+v, %v: want address 127.0.0.1", page.Entries, err)
	}
}

// TestLoginTrustedProxy: behind a trusted proxy, the client is the first
// untrusted address of X-Forwarded-For, read from the right.
func TestLoginTrustedProxy(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	p.addStaff()
	b := p.browser()
	for i := range db.MaxAddressFailures {
		email := fmt.Sprintf("spray%d@panel.test", i)
		p.addUser(email, "")
		// What the client wrote (left) is not believed; the proxies' hops are skipped.
		xff := fmt.Sprintf("6.6.6.%d, 192.0.2.7, 10.1.2.3", i)
		wantStatus(t, "wrong password", failLogin(b, email, "X-Forwarded-For", xff), http.StatusUnauthorized)
	}
	pg := b.post("/login", url.Values{"email": {adminEmail}, "password": {testdb.Password}}, "X-Forwarded-For", "192.0.2.7")
	wantStatus(t, "sign-in from the locked client", pg, http.StatusTooManyRequests)
	pg = b.post("/login", url.Values{"email": {adminEmail}, "password": {testdb.Password}}, "X-Forwarded-For", "192.0.2.8")
	wantStatus(t, "sign-in from another client", pg, http.StatusSeeOther)
	page, err := p.store.ListAudit(asActor(), db.AuditFilter{Action: db.ActionLoginFailed, Limit: 1})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].DetailsMap()["address"] != "192.0.2.7" {
		t.Errorf("audit %+v, %v: want address 192.0.2.7", page.Entries, err)
	}
	// The request log carries the client too.
	if !strings.Contains(p.logs.String(), `"client":"192.0.2.8"`) {
		t.Error("the request log has no client address")
	}
}

func TestClientAddrExtractor(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.1 fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff string
		trusted           bool
		want              string
	}{
		{"NoProxiesIgnoresHeader", "203.0.113.5:4000", "192.0.2.1", false, "203.0.113.5"},
		{"UntrustedPeerIgnoresHeader", "203.0.113.5:4000", "192.0.2.1", true, "203.0.113.5"},
		{"TrustedPeer", "10.0.0.2:4000", "192.0.2.1", true, "192.0.2.1"},
		{"SkipsTrustedHops", "10.0.0.2:4000", "6.6.6.6, 192.0.2.1, 192.168.1.1", true, "192.0.2.1"},
		{"AllTrusted", "10.0.0.2:4000", "10.9.9.9", true, "10.9.9.9"},
		{"Garbage", "10.0.0.2:4000", "not-an-ip, 192.168.1.1", true, "192.168.1.1"},
		{"NoHeader", "10.0.0.2:4000", "", true, "10.0.0.2"},
		{"IPv6", "[fd00::1]:4000", "2001:db8::7", true, "2001:db8::7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr []netip.Prefix
			if c.trusted {
				tr = trusted
			}
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = c.remote
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if got := clientAddrExtractor(tr)(r); got != c.want {
				t.Errorf("client = %q, want %q", got, c.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad range was accepted")
	}
}

func TestUnlockFromUserPage(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	b := p.browser()
	for range db.MaxAccountFailures + 1 {
		failLogin(b, supportEmail)
	}
	admin := p.signedIn(adminEmail)
	pg := admin.get("/users/" + s.support)
	wantStatus(t, "user page", pg, http.StatusOK)
	if !strings.HasPrefix(pg.text(`[data-testid="lock-state"]`), "Locked") || !pg.has(`[data-testid="unlock-form"]`) {
		t.Fatalf("lock state %q", pg.text(`[data-testid="lock-state"]`))
	}
	// Support may not unlock; nobody may without the CSRF token.
	other := p.signedIn(managerEmail)
	wantStatus(t, "unlock as manager", other.post("/users/"+s.support+"/unlock", nil), http.StatusForbidden)
	wantStatus(t, "unlock without CSRF", admin.post("/users/"+s.support+"/unlock", url.Values{"_csrf": {""}}), http.StatusForbidden)

	wantStatus(t, "unlock", admin.post("/users/"+s.support+"/unlock", nil), http.StatusSeeOther)
	pg = admin.get("/users/" + s.support)
	if pg.text(`[data-testid="lock-state"]`) != "Not locked." {
		t.Errorf("after unlock: %q", pg.text(`[data-testid="lock-state"]`))
	}
	p.signedIn(supportEmail)
	n := 0
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action = $1 AND target_id = $2`, db.ActionUnlock, s.support); err != nil || n != 1 {
		t.Errorf("%d unlock audit rows, %v", n, err)
	}
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	here, elsewhere := p.signedIn(supportEmail), p.signedIn(supportEmail)
	pg := here.get("/account")
	wantStatus(t, "GET /account", pg, http.StatusOK)
	if pg.text(`[data-testid="account-email"]`) != supportEmail {
		t.Errorf("account page for %q", pg.text(`[data-testid="account-email"]`))
	}

	refused := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"WrongCurrent", url.Values{"current_password": {"nope"}, "password": {"a-new-long-password"}, "confirm": {"a-new-long-password"}}, "current_password"},
		{"Mismatch", url.Values{"current_password": {testdb.Password}, "password": {"a-new-long-password"}, "confirm": {"a-new-long-passw0rd"}}, "confirm"},
		{"Breached", url.Values{"current_password": {testdb.Password}, "password": {"1qaz2wsx3edc"}, "confirm": {"1qaz2wsx3edc"}}, "password"},
		{"Short", url.Values{"current_password": {testdb.Password}, "password": {"short"}, "confirm": {"short"}}, "password"},
	}
	for _, c := range refused {
		pg := here.post("/account/password", c.form)
		wantStatus(t, c.name, pg, http.StatusUnprocessableEntity)
		if pg.text(`[data-testid="`+c.field+`-error"]`) == "" {
			t.Errorf("%s: no message by %s", c.name, c.field)
		}
	}
	pg = here.post("/account/password", url.Values{"current_password": {testdb.Password}, "password": {"a-new-long-password"}, "confirm": {"a-new-long-password"}})
	wantStatus(t, "change password", pg, http.StatusSeeOther)
	if loc := pg.header.Get("Location"); loc != "/account?changed=1" {
		t.Errorf("Location %q", loc)
	}
	pg = here.get("/account?changed=1")
	if !pg.has(`[data-testid="password-changed"]`) {
		t.Error("no confirmation")
	}
	// This sign-in goes on; the other one ended.
	wantStatus(t, "this browser", here.get("/users"), http.StatusOK)
	wantStatus(t, "the other browser", elsewhere.get("/users"), http.StatusSeeOther)
	wantStatus(t, "old password", p.browser().post("/login", url.Values{"email": {supportEmail}, "password": {testdb.Password}}), http.StatusUnauthorized)
	wantStatus(t, "new password", p.browser().post("/login", url.Values{"email": {supportEmail}, "password": {"a-new-long-password"}}), http.StatusSeeOther)
}

func TestAdminSetsPassword(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	admin := p.signedIn(adminEmail)
	sam := p.signedIn(supportEmail)

	wantStatus(t, "empty form", admin.post("/users/"+s.support+"/password", nil), http.StatusUnprocessableEntity)
	pg := admin.post("/users/"+s.support+"/password", url.Values{"password": {"password1234"}})
	wantStatus(t, "weak", pg, http.StatusUnprocessableEntity)
	if pg.text(`[data-testid="password-error"]`) == "" {
		t.Error("no message by the password field")
	}
	wantStatus(t, "own password here", admin.post("/users/"+s.admin+"/password", url.Values{"password": {"a-new-long-password"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "as support", sam.post("/users/"+s.manager+"/password", url.Values{"password": {"a-new-long-password"}}), http.StatusForbidden)

	pg = admin.post("/users/"+s.support+"/password", url.Values{"password": {"temporary-password-1"}, "must_change": {"true"}})
	wantStatus(t, "set password", pg, http.StatusSeeOther)
	// Sam's sign-in ended; with the new password he must choose his own first.
	wantStatus(t, "sam's old session", sam.get("/users"), http.StatusSeeOther)
	sam = p.browser()
	pg = sam.post("/login", url.Values{"email": {supportEmail}, "password": {"temporary-password-1"}})
	wantStatus(t, "sign in", pg, http.StatusSeeOther)
	if loc := pg.header.Get("Location"); loc != "/account" {
		t.Errorf("after sign-in: Location %q", loc)
	}
	pg = sam.get("/users")
	if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/account" {
		t.Errorf("GET /users before the change: %d %s", pg.status, pg.header.Get("Location"))
	}
	if !sam.get("/account").has(`[data-testid="must-change"]`) {
		t.Error("the account page does not say why")
	}
	pg = sam.post("/account/password", url.Values{"current_password": {"temporary-password-1"}, "password": {"sams-own-password"}, "confirm": {"sams-own-password"}})
	wantStatus(t, "choose own", pg, http.StatusSeeOther)
	wantStatus(t, "GET /users after", sam.get("/users"), http.StatusOK)

	// Only "must change": the password stays, the next page asks.
	wantStatus(t, "force only", admin.post("/users/"+s.support+"/password", url.Values{"must_change": {"true"}}), http.StatusSeeOther)
	if pg := sam.get("/users"); pg.header.Get("Location") != "/account" {
		t.Errorf("after force: %d %s", pg.status, pg.header.Get("Location"))
	}
	if !admin.get("/users/" + s.support).has(`[data-testid="must-change"]`) {
		t.Error("the user page does not show the required change")
	}
	for _, a := range []string{db.ActionPasswordSet, db.ActionPasswordForce, db.ActionPasswordChange} {
		n := 0
		if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action = $1`, a); err != nil || n != 1 {
			t.Errorf("%d %s rows, %v", n, a, err)
		}
	}
}
