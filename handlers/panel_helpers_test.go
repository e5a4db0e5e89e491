package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// The handler tests run the whole panel over a real server and a real
// database, with a cookie jar, the way a browser without JavaScript would,
// and read the HTML with goquery.

// testSecret is the session secret of the test servers.
var testSecret = []byte("test-secret-test-secret-test-secret-0123")

// testPanel is a panel server over its own database.
type testPanel struct {
	t     *testing.T
	store *db.Store
	srv   *httptest.Server
	logs  *testdb.LogBuffer
}

func newTestPanel(t *testing.T, mutate ...func(*Options)) *testPanel {
	t.Helper()
	store := testdb.New(t)
	logs := &testdb.LogBuffer{}
	opts := Options{
		SessionSecret: testSecret,
		Static:        os.DirFS("../static"),
		Logger:        logs.Logger(),
	}
	for _, m := range mutate {
		m(&opts)
	}
	e, err := New(store, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &testPanel{t: t, store: store, srv: srv, logs: logs}
}

// addUser inserts an account with testdb.Password and the given roles (at
// bcrypt's minimum cost, so that signing in takes a millisecond).
func (p *testPanel) addUser(email, name string, roles ...string) string {
	p.t.Helper()
	return testdb.AddUser(p.t, p.store, email, name, roles...)
}

// staff are the accounts of the role matrix.
type staff struct {
	admin, support, manager, plain, banned, expired string // ids
}

const (
	adminEmail   = "ada.admin@panel.test"
	supportEmail = "sam.support@panel.test"
	managerEmail = "mia.manager@panel.test"
	plainEmail   = "pat.plain@panel.test"
	bannedEmail  = "ben.banned@panel.test"
	expiredEmail = "eve.expired@panel.test"
)

// addStaff inserts one account per kind of visitor.
func (p *testPanel) addStaff() staff {
	p.t.Helper()
	s := staff{
		admin:   p.addUser(adminEmail, "Ada Admin", "admin"),
		support: p.addUser(supportEmail, "Sam Support", "support"),
		manager: p.addUser(managerEmail, "Mia Manager", "manager"),
		plain:   p.addUser(plainEmail, "Pat Plain"),
		banned:  p.addUser(bannedEmail, "Ben Banned", "support"),
		expired: p.addUser(expiredEmail, "Eve Expired", "support"),
	}
	p.exec(`UPDATE users SET banned = true, ban_reason = 'abuse', banned_at = now() WHERE id = $1`, s.banned)
	p.exec(`UPDATE users SET banned = true, ban_reason = 'cooling off', banned_at = now() - interval '2 days',
		banned_until = now() - interval '1 day' WHERE id = $1`, s.expired)
	return s
}

func (p *testPanel) exec(q string, args ...any) {
	p.t.Helper()
	if _, err := p.store.DB().Exec(q, args...); err != nil {
		p.t.Fatalf("exec %q: %v", q, err)
	}
}

// asActor is a context whose changes are made by a system actor.
func asActor() context.Context {
	return db.WithActor(context.Background(), db.SystemActor("test"))
}

// browser is one visitor: a cookie jar that does not follow redirects, so
// that every status is seen.
type browser struct {
	t      *testing.T
	p      *testPanel
	client *http.Client
	// token is the CSRF token last read, for the cookies in tokenKey.
	token, tokenKey string
}

func (p *testPanel) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return &browser{t: p.t, p: p, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// page is one answer, read whole.
type page struct {
	status int
	header http.Header
	body   string
	doc    *goquery.Document
}

func (pg page) text(sel string) string { return strings.TrimSpace(pg.doc.Find(sel).First().Text()) }

func (pg page) has(sel string) bool { return pg.doc.Find(sel).Length() > 0 }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(raw))
	if err != nil {
		b.t.Fatalf("%s %s: parse HTML: %v", req.Method, req.URL, err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw), doc: doc}
}

// get fetches path; headers come in name, value pairs.
func (b *browser) get(path string, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.p.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits a form to path, with the CSRF token unless the form sets
// _csrf itself (even to "").
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	form = maps.Clone(form)
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", b.csrf())
	}
	req, err := http.NewRequest(http.MethodPost, b.p.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// cookie returns the named cookie of the jar, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.p.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// csrf returns the token a page's forms carry: the session's once signed
// in, the anonymous visitor's before. It reads it from a page, as a browser
// would, and keeps it until the cookies change (a sign-in renews it).
func (b *browser) csrf() string {
	b.t.Helper()
	key := b.cookieValue(sessionName) + "|" + b.cookieValue(csrfCookieName)
	if b.token != "" && b.tokenKey == key {
		return b.token
	}
	for _, path := range []string{"/account", "/login"} {
		if path == "/account" && b.cookie(sessionName) == nil {
			continue
		}
		pg := b.get(path)
		if pg.status != http.StatusOK {
			continue
		}
		hdr, _ := pg.doc.Find("body").Attr("hx-headers")
		var m map[string]string
		if err := json.Unmarshal([]byte(hdr), &m); err != nil || m["X-CSRF-Token"] == "" {
			b.t.Fatalf("GET %s: no CSRF token in hx-headers %q", path, hdr)
		}
		b.token, b.tokenKey = m["X-CSRF-Token"], b.cookieValue(sessionName)+"|"+b.cookieValue(csrfCookieName)
		return b.token
	}
	b.t.Fatal("no page with a CSRF token")
	return ""
}

func (b *browser) cookieValue(name string) string {
	if c := b.cookie(name); c != nil {
		return c.Value
	}
	return ""
}

// signIn signs in and checks that it worked.
func (b *browser) signIn(email string) {
	b.t.Helper()
	pg := b.post("/login", url.Values{"email": {email}, "password": {testdb.Password}})
	if pg.status != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: status %d, want 303; error %q", email, pg.status, pg.text(`[data-testid="login-error"]`))
	}
}

// signedIn returns a browser signed in as email.
func (p *testPanel) signedIn(email string) *browser {
	b := p.browser()
	b.signIn(email)
	return b
}

// wantStatus fails the test when pg.status is not want.
func wantStatus(t *testing.T, what string, pg page, want int) {
	t.Helper()
	if pg.status != want {
		snippet := pg.body
		if len(snippet) > 400 {
			snippet = snippet[:400]
		}
		t.Fatalf("%s: status %d, want %d\n%s", what, pg.status, want, snippet)
	}
}

// emails lists the emails of the table's rows, in order.
func (pg page) emails() []string {
	var out []string
	pg.doc.Find(`tr[data-testid="user-row"] td[data-testid="user-email"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

func emailsOf(users []db.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Email
	}
	return out
}

// seedTable inserts n users with varied, deterministic data (testdb.Seed).
func (p *testPanel) seedTable(n int) {
	p.t.Helper()
	testdb.Seed(p.t, p.store, n)
}
