package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// visitors are the kinds of people the role matrix checks. A plain user and
// a banned staff member cannot sign in, so they browse as anonymous.
var visitors = []string{"anonymous", "plain", "banned", "manager", "support", "admin"}

// visitorBrowsers signs each kind of visitor in (or tries to).
func visitorBrowsers(t *testing.T, p *testPanel) map[string]*browser {
	t.Helper()
	bs := map[string]*browser{}
	for _, v := range visitors {
		b := p.browser()
		switch v {
		case "plain", "banned":
			email := map[string]string{"plain": plainEmail, "banned": bannedEmail}[v]
			pg := b.post("/login", url.Values{"email": {email}, "password": {testdb.Password}})
			wantStatus(t, "sign in as "+v, pg, http.StatusUnauthorized)
		case "manager":
			b.signIn(managerEmail)
		case "support":
			b.signIn(supportEmail)
		case "admin":
			b.signIn(adminEmail)
		}
		bs[v] = b
	}
	return bs
}

// toLogin is the answer for an anonymous visitor: 303 to the sign-in page
// that comes back to path.
func toLogin(path string) string { return loginURL(path) }

func TestRoutesByRole(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	bs := visitorBrowsers(t, p)
	target := p.addUser("target@panel.test", "Tara Target")
	user := "/users/" + target

	anon := func(path string) map[string]string {
		l := toLogin(path)
		return map[string]string{"anonymous": l, "plain": l, "banned": l}
	}
	type want struct {
		status   int
		location string
	}
	// expect builds the row of a route: the status of each signed-in role,
	// and a redirect to sign in for everyone else.
	expect := func(path string, manager, support, admin int) map[string]want {
		m := map[string]want{"manager": {status: manager}, "support": {status: support}, "admin": {status: admin}}
		for v, l := range anon(path) {
			m[v] = want{http.StatusSeeOther, l}
		}
		return m
	}
	everyone := func(status int) map[string]want {
		m := map[string]want{}
		for _, v := range visitors {
			m[v] = want{status: status}
		}
		return m
	}
	home := expect("/", 0, 0, 0)
	home["manager"] = want{http.StatusSeeOther, "/dashboard"}
	home["support"] = want{http.StatusSeeOther, "/users"}
	home["admin"] = want{http.StatusSeeOther, "/users"}
	login := everyone(http.StatusOK)
	login["manager"] = want{http.StatusSeeOther, "/dashboard"}
	login["support"] = want{http.StatusSeeOther, "/users"}
	login["admin"] = want{http.StatusSeeOther, "/users"}

	routes := []struct {
		path string
		want map[string]want
	}{
		{"/", home},
		{"/login", login},
		{"/users", expect("/users", 403, 200, 200)},
		{"/users?q=ta&sort=email&page=2", expect("/users?q=ta&sort=email&page=2", 403, 200, 200)},
		{"/users/count?q=ta", expect("/users/count?q=ta", 403, 200, 200)},
		{user, expect(user, 403, 200, 200)},
		{"/users/not-a-uuid", expect("/users/not-a-uuid", 403, 404, 404)},
		{"/users/00000000-0000-0000-0000-000000000000", expect("/users/00000000-0000-0000-0000-000000000000", 403, 404, 404)},
		{"/dashboard", expect("/dashboard", 200, 200, 200)},
		{"/dashboard?range=1y", expect("/dashboard?range=1y", 200, 200, 200)},
		{"/users/new", expect("/users/new", 403, 403, 200)},
		{"/users/export.csv", expect("/users/export.csv", 403, 403, 200)},
		{"/audit", expect("/audit", 403, 403, 200)},
		{"/audit?signins=hide&from=2026-01-01", expect("/audit?signins=hide&from=2026-01-01", 403, 403, 200)},
		{"/audit/export.csv", expect("/audit/export.csv", 403, 403, 200)},
		// A form's POST address typed as a GET leads to the form's page.
		{user + "/delete", expect(user+"/delete", 403, 303, 303)},
		{user + "/ban", expect(user+"/ban", 403, 303, 303)},
		{"/users/bulk", expect("/users/bulk", 403, 303, 303)},
		{"/healthz", everyone(200)},
		{"/readyz", everyone(200)},
		{"/account", expect("/account", 200, 200, 200)},
		// Without METRICS_TOKEN the panel's port does not serve metrics.
		{"/metrics", everyone(404)},
		{"/static/app.css", everyone(200)},
		{"/no/such/page", everyone(404)},
	}
	for _, r := range routes {
		for _, v := range visitors {
			w := r.want[v]
			pg := bs[v].get(r.path)
			if pg.status != w.status {
				t.Errorf("GET %s as %s: status %d, want %d", r.path, v, pg.status, w.status)
				continue
			}
			if loc := pg.header.Get("Location"); w.location != "" && loc != w.location {
				t.Errorf("GET %s as %s: Location %q, want %q", r.path, v, loc, w.location)
			}
			switch pg.status {
			case http.StatusForbidden, http.StatusNotFound:
				if !pg.has(`[data-testid="error-page"]`) || !strings.Contains(pg.text(`[data-testid="error-page"]`), strconv.Itoa(pg.status)) {
					t.Errorf("GET %s as %s: %d without the designed error page", r.path, v, pg.status)
				}
			}
		}
	}

	// An htmx request without a session is told where to go with
	// HX-Redirect, since htmx would otherwise swap the sign-in page into
	// the table.
	pg := bs["anonymous"].get("/users?q=x", "HX-Request", "true", "HX-Current-URL", p.srv.URL+"/users?q=x")
	wantStatus(t, "htmx GET /users as anonymous", pg, http.StatusOK)
	if got := pg.header.Get("HX-Redirect"); got != "/login?next=%2Fusers%3Fq%3Dx" {
		t.Errorf("htmx anonymous: HX-Redirect %q", got)
	}

	// The state-changing routes: moderators only, and a refused request
	// changes nothing.
	posts := []struct {
		path   string
		form   url.Values
		action string
	}{
		{user + "/revoke-sessions", nil, db.ActionRevokeSessions},
		{user + "/ban", url.Values{"reason": {"spam"}, "duration": {"1h"}}, db.ActionBan},
		{user + "/unban", nil, db.ActionUnban},
		{"/users/bulk", url.Values{"action": {"revoke_sessions"}, "ids": {target}, "confirm": {"yes"}}, db.ActionRevokeSessions},
	}
	for _, v := range visitors {
		for _, post := range posts {
			before := p.auditCount(target, post.action)
			pg := bs[v].post(post.path, post.form)
			switch v {
			case "support", "admin":
				wantStatus(t, "POST "+post.path+" as "+v, pg, http.StatusSeeOther)
				wantLoc := user
				if post.path == "/users/bulk" {
					wantLoc = "/users"
				}
				if loc := pg.header.Get("Location"); loc != wantLoc {
					t.Errorf("POST %s as %s: Location %q, want %q", post.path, v, loc, wantLoc)
				}
				if p.auditCount(target, post.action) != before+1 {
					t.Errorf("POST %s as %s: no audit row %s", post.path, v, post.action)
				}
			case "manager":
				wantStatus(t, "POST "+post.path+" as "+v, pg, http.StatusForbidden)
			default:
				wantStatus(t, "POST "+post.path+" as "+v, pg, http.StatusSeeOther)
				if loc := pg.header.Get("Location"); !strings.HasPrefix(loc, "/login") {
					t.Errorf("POST %s as %s: Location %q, want the sign-in page", post.path, v, loc)
				}
			}
			if v != "support" && v != "admin" && p.auditCount(target, post.action) != before {
				t.Errorf("POST %s as %s changed something", post.path, v)
			}
		}
	}
}

// auditCount counts the audit rows of action about the user.
func (p *testPanel) auditCount(target, action string) int {
	p.t.Helper()
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE target_id = $1 AND action = $2`, target, action); err != nil {
		p.t.Fatal(err)
	}
	return n
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()

	refused := []struct{ name, email, password string }{
		{"PlainUser", plainEmail, testdb.Password},
		{"BannedStaff", bannedEmail, testdb.Password},
		{"UnknownEmail", "nobody@panel.test", testdb.Password},
		{"WrongPassword", adminEmail, "not-the-password-at-all"},
		{"EmptyPassword", adminEmail, ""},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			b := p.browser()
			pg := b.post("/login", url.Values{"email": {c.email}, "password": {c.password}, "next": {"/dashboard"}})
			wantStatus(t, "sign in", pg, http.StatusUnauthorized)
			if got := pg.text(`[data-testid="login-error"]`); !strings.Contains(got, "invalid email or password") {
				t.Errorf("login error %q, want it to say invalid email or password", got)
			}
			if got, _ := pg.doc.Find(`form[data-testid="login-form"] input[name="email"]`).Attr("value"); got != c.email {
				t.Errorf("email not refilled: %q", got)
			}
			if got, _ := pg.doc.Find(`input[name="next"]`).Attr("value"); got != "/dashboard" {
				t.Errorf("next not kept: %q", got)
			}
			if b.cookie(sessionName) != nil {
				t.Error("a refused sign-in set a session cookie")
			}
			wantStatus(t, "GET /users after refusal", b.get("/users"), http.StatusSeeOther)
		})
	}

	t.Run("OK", func(t *testing.T) {
		b := p.browser()
		csrfBefore := b.csrf()
		pg := b.post("/login", url.Values{"email": {"  ADA.Admin@panel.test "}, "password": {testdb.Password}})
		wantStatus(t, "sign in", pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != "/users" {
			t.Errorf("admin lands on %q, want /users", loc)
		}
		ck := findSetCookie(pg.header, sessionName)
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
			t.Errorf("session cookie: HttpOnly=%v SameSite=%v Secure=%v Path=%q", ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path)
		}
		// The CSRF token is renewed with the session.
		if b.cookie(csrfCookieName) != nil {
			t.Error("the pre-sign-in CSRF cookie survived the sign-in")
		}
		home := b.get("/users")
		wantStatus(t, "GET /users", home, http.StatusOK)
		if got := home.text(`[data-testid="current-user"]`); got != adminEmail {
			t.Errorf("current user %q", got)
		}
		if tok := b.csrf(); tok == csrfBefore {
			t.Error("CSRF token not renewed at sign-in")
		}
		var last *time.Time
		if err := p.store.DB().Get(&last, `SELECT last_login_at FROM users WHERE id = $1`, s.admin); err != nil || last == nil {
			t.Errorf("last_login_at not set: %v %v", last, err)
		}
		if p.auditCount(s.admin, db.ActionLogin) != 1 {
			t.Error("no audit row for the sign-in")
		}
	})

	t.Run("ManagerStartsOnDashboard", func(t *testing.T) {
		b := p.browser()
		pg := b.post("/login", url.Values{"email": {managerEmail}, "password": {testdb.Password}})
		if loc := pg.header.Get("Location"); pg.status != http.StatusSeeOther || loc != "/dashboard" {
			t.Errorf("manager: %d to %q", pg.status, loc)
		}
	})

	// An expired ban is no ban: the db reads it as not banned.
	t.Run("ExpiredBanStaff", func(t *testing.T) {
		p.browser().signIn(expiredEmail)
	})

	nexts := []struct{ next, want string }{
		{"/users?q=ada&sort=email", "/users?q=ada&sort=email"},
		{"/dashboard", "/dashboard"},
		{"https://evil.example", "/users"},
		{"https://evil.example/users", "/users"},
		{"//evil.example", "/users"},
		{"/\\evil.example", "/users"},
		{"\\\\evil.example", "/users"},
		{"javascript:alert(1)", "/users"},
		{"/login", "/users"},
		{"", "/users"},
	}
	for _, n := range nexts {
		t.Run("Next="+n.next, func(t *testing.T) {
			b := p.browser()
			pg := b.post("/login", url.Values{"email": {supportEmail}, "password": {testdb.Password}, "next": {n.next}})
			wantStatus(t, "sign in", pg, http.StatusSeeOther)
			if loc := pg.header.Get("Location"); loc != n.want {
				t.Errorf("next=%q: went to %q, want %q", n.next, loc, n.want)
			}
			// The sign-in form carries only a safe next.
			form := p.browser().get("/login?next=" + url.QueryEscape(n.next))
			got, _ := form.doc.Find(`input[name="next"]`).Attr("value")
			if want := safeNext(n.next); got != want {
				t.Errorf("form next %q, want %q", got, want)
			}
		})
	}

	t.Run("RedirectedBackAfterSignIn", func(t *testing.T) {
		b := p.browser()
		pg := b.get("/users?q=sam&per_page=50")
		loc := pg.header.Get("Location")
		form := b.get(loc)
		next, _ := form.doc.Find(`input[name="next"]`).Attr("value")
		pg = b.post("/login", url.Values{"email": {supportEmail}, "password": {testdb.Password}, "next": {next}})
		if got := pg.header.Get("Location"); got != "/users?q=sam&per_page=50" {
			t.Errorf("after sign-in went to %q", got)
		}
	})

	t.Run("SignedInSkipsForm", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		pg := b.get("/login?next=/users/" + s.plain)
		if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/users/"+s.plain {
			t.Errorf("GET /login signed in: %d %q", pg.status, pg.header.Get("Location"))
		}
	})

	// A session that no longer holds (here: signed out everywhere) ends on
	// the sign-in page itself, and that page's form still works.
	t.Run("StaleSessionOnLoginPage", func(t *testing.T) {
		b := p.signedIn(expiredEmail)
		if _, err := p.store.RevokeSessions(asActor(), s.expired); err != nil {
			t.Fatal(err)
		}
		form := b.get("/login")
		wantStatus(t, "GET /login with a stale session", form, http.StatusOK)
		tok := form.doc.Find(`input[name="_csrf"]`).AttrOr("value", "")
		pg := b.post("/login", url.Values{"email": {expiredEmail}, "password": {testdb.Password}, "_csrf": {tok}})
		wantStatus(t, "sign in again", pg, http.StatusSeeOther)
	})

	t.Run("Logout", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		pg := b.get("/users")
		if !pg.has(`form[action="/logout"] button[data-testid="logout"]`) {
			t.Error("no sign-out button")
		}
		tok, _ := pg.doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
		pg = b.post("/logout", url.Values{"_csrf": {tok}})
		if pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/login" {
			t.Errorf("logout: %d %q", pg.status, pg.header.Get("Location"))
		}
		if ck := findSetCookie(pg.header, sessionName); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("logout did not expire the session cookie: %+v", ck)
		}
		wantStatus(t, "GET /users after logout", b.get("/users"), http.StatusSeeOther)
	})

	t.Run("LogoutEndsCopiedCookie", func(t *testing.T) {
		b := p.signedIn(supportEmail)
		stolen := b.cookie(sessionName)
		if stolen == nil {
			t.Fatal("no session cookie after sign-in")
		}
		wantStatus(t, "POST /logout", b.post("/logout", nil), http.StatusSeeOther)

		// Someone who copied the cookie before the sign-out replays it.
		replay := p.browser()
		u, _ := url.Parse(p.srv.URL)
		replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: stolen.Name, Value: stolen.Value, Path: "/"}})
		pg := replay.get("/users")
		if pg.status != http.StatusSeeOther || !strings.HasPrefix(pg.header.Get("Location"), "/login") {
			t.Fatalf("GET /users with a cookie from before the sign-out: %d %q, want a redirect to /login",
				pg.status, pg.header.Get("Location"))
		}
		page, err := p.store.ListAudit(asActor(), db.AuditFilter{Action: db.ActionLogout, Target: supportEmail})
		if err != nil || len(page.Entries) == 0 || page.Entries[0].ActorEmail != supportEmail {
			t.Fatalf("sign-out audit rows = %+v, %v", page.Entries, err)
		}
	})
}

func findSetCookie(h http.Header, name string) *http.Cookie {
	resp := http.Response{Header: h}
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	// signIn posts the sign-in form of client's server by hand: the cookie
	// jar would not send Secure cookies over http, so the test carries them.
	signIn := func(t *testing.T, client *http.Client, base string) (login, signedIn *http.Response) {
		t.Helper()
		resp, err := client.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := doc.Find(`form[data-testid="login-form"] input[name="_csrf"]`).Attr("value")
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{
			"email": {adminEmail}, "password": {testdb.Password}, "_csrf": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range resp.Cookies() {
			req.AddCookie(ck)
		}
		out, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if out.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d", out.StatusCode)
		}
		return resp, out
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// Under SECURE_COOKIES the cookies are Secure and named __Host-, which
	// the browser accepts only for path / without a Domain.
	t.Run("Option", func(t *testing.T) {
		t.Parallel()
		p := newTestPanel(t, func(o *Options) { o.SecureCookies = true })
		p.addUser(adminEmail, "Ada", "admin")
		login, in := signIn(t, &http.Client{CheckRedirect: noRedirect}, p.srv.URL)
		for _, c := range []struct {
			h    http.Header
			name string
		}{{login.Header, "__Host-csrf"}, {in.Header, "__Host-userpanel_session"}} {
			ck := findSetCookie(c.h, c.name)
			if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("cookie %s: %+v", c.name, ck)
			}
		}
		for _, plain := range []string{sessionName, csrfCookieName} {
			if findSetCookie(login.Header, plain) != nil || findSetCookie(in.Header, plain) != nil {
				t.Errorf("a cookie without the prefix (%s) was set", plain)
			}
		}
		// The pre-sign-in CSRF cookie is removed at sign-in.
		if ck := findSetCookie(in.Header, "__Host-csrf"); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("sign-in did not remove the anonymous CSRF cookie: %+v", ck)
		}
	})
	// Over TLS without the option the cookies are still Secure, with plain names.
	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		store := newTestPanel(t).store
		e, err := New(store, Options{SessionSecret: testSecret, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewTLSServer(e)
		defer srv.Close()
		testdb.AddUser(t, store, adminEmail, "", db.RoleAdmin)
		client := srv.Client()
		client.CheckRedirect = noRedirect
		_, in := signIn(t, client, srv.URL)
		if ck := findSetCookie(in.Header, sessionName); ck == nil || !ck.Secure {
			t.Errorf("session cookie over TLS not Secure: %+v", ck)
		}
	})
}

// The user and their roles are reloaded on every request: a change made
// elsewhere takes effect on the next click.
func TestSessionFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	ctx := asActor()

	cases := []struct {
		name   string
		change func(t *testing.T, id string)
		want   int
	}{
		{"Banned", func(t *testing.T, id string) {
			if err := p.store.BanUser(ctx, id, "compromised", nil); err != nil {
				t.Fatal(err)
			}
		}, http.StatusSeeOther},
		{"BanInForceWithoutVersionBump", func(t *testing.T, id string) {
			p.exec(`UPDATE users SET banned = true, ban_reason = 'x', banned_until = now() + interval '1 hour' WHERE id = $1`, id)
		}, http.StatusSeeOther},
		{"StaffRoleRemoved", func(t *testing.T, id string) {
			if err := p.store.SetRoles(ctx, id, nil); err != nil {
				t.Fatal(err)
			}
		}, http.StatusSeeOther},
		{"SignedOutEverywhere", func(t *testing.T, id string) {
			if _, err := p.store.RevokeSessions(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, http.StatusSeeOther},
		{"Deleted", func(t *testing.T, id string) {
			if err := p.store.DeleteUser(ctx, id); err != nil {
				t.Fatal(err)
			}
		}, http.StatusSeeOther},
		{"BecameManager", func(t *testing.T, id string) {
			if err := p.store.SetRoles(ctx, id, []string{"manager"}); err != nil {
				t.Fatal(err)
			}
		}, http.StatusForbidden},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			email := "staff" + strconv.Itoa(i) + "@panel.test"
			id := p.addUser(email, "Staff", "support")
			b := p.signedIn(email)
			wantStatus(t, "before", b.get("/users"), http.StatusOK)
			c.change(t, id)
			pg := b.get("/users")
			wantStatus(t, "after", pg, c.want)
			// The same click from htmx: sent to sign in, or told to reload
			// so that the 403 page shows.
			hx := b.get("/users?page=2", "HX-Request", "true", "HX-Current-URL", p.srv.URL+"/users")
			switch c.want {
			case http.StatusForbidden:
				if hx.status != http.StatusForbidden || hx.header.Get("HX-Refresh") != "true" {
					t.Errorf("htmx after the change: %d, HX-Refresh %q", hx.status, hx.header.Get("HX-Refresh"))
				}
			default:
				if got := hx.header.Get("HX-Redirect"); got != "/login?next=%2Fusers" {
					t.Errorf("htmx after the change: HX-Redirect %q", got)
				}
			}
			if c.want == http.StatusSeeOther {
				if loc := pg.header.Get("Location"); loc != "/login?next=%2Fusers" {
					t.Errorf("Location %q", loc)
				}
				if ck := findSetCookie(pg.header, sessionName); ck == nil || ck.MaxAge >= 0 {
					t.Error("the dead session's cookie was not removed")
				}
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	b := p.signedIn(supportEmail)
	target := "/users/" + s.plain

	cases := []struct {
		name    string
		token   []string // nil: no _csrf field
		headers []string
	}{
		{"Missing", nil, nil},
		{"Empty", []string{""}, nil},
		{"Wrong", []string{"not-the-token-not-the-token-1234"}, nil},
		{"WrongHeader", nil, []string{"X-CSRF-Token", "not-the-token"}},
		{"CrossSiteBrowser", []string{"whatever"}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := url.Values{"reason": {"csrf"}, "duration": {"1h"}}
			// A key without values sends no field, and stops post from
			// adding the right token.
			form["_csrf"] = c.token
			pg := b.post(target+"/ban", form, c.headers...)
			wantStatus(t, "POST ban", pg, http.StatusForbidden)
			if !pg.has(`[data-testid="error-page"]`) {
				t.Error("CSRF refusal is not the designed error page")
			}
			if p.auditCount(s.plain, db.ActionBan) != 0 {
				t.Fatal("a refused request banned the user")
			}
			// Still signed in: the refusal ended nothing.
			wantStatus(t, "GET /users", b.get("/users"), http.StatusOK)
			pg = b.post("/logout", url.Values{"_csrf": c.token}, c.headers...)
			wantStatus(t, "POST /logout", pg, http.StatusForbidden)
			wantStatus(t, "still signed in", b.get("/users"), http.StatusOK)
		})
	}

	t.Run("HeaderAsHtmxSendsIt", func(t *testing.T) {
		pg := b.post(target+"/revoke-sessions", url.Values{"_csrf": {}}, "X-CSRF-Token", b.csrf())
		wantStatus(t, "POST with header token", pg, http.StatusSeeOther)
	})
	t.Run("LoginNeedsToken", func(t *testing.T) {
		pg := p.browser().post("/login", url.Values{"email": {adminEmail}, "password": {testdb.Password}, "_csrf": {}})
		wantStatus(t, "POST /login without token", pg, http.StatusForbidden)
	})
	t.Run("EveryFormCarriesTheToken", func(t *testing.T) {
		for _, path := range []string{"/users", target, "/dashboard"} {
			pg := b.get(path)
			pg.doc.Find(`form[method="post"]`).Each(func(_ int, f *goquery.Selection) {
				if v, _ := f.Find(`input[name="_csrf"]`).Attr("value"); v == "" {
					action, _ := f.Attr("action")
					t.Errorf("%s: form %s has no _csrf", path, action)
				}
			})
			hdr, _ := pg.doc.Find("body").Attr("hx-headers")
			if !strings.Contains(hdr, `"X-CSRF-Token"`) || !strings.Contains(hdr, b.csrf()) {
				t.Errorf("%s: body hx-headers %q does not carry the token", path, hdr)
			}
		}
	})
}
