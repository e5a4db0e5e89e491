package cli

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The tests of faults, shutdown and several instances run the real `serve`
// (in process, through App.Run, with its flags and environment) and talk to
// it over HTTP as a browser without JavaScript would.

// serverSecret is the session secret every test server shares, as the
// instances of one deployment do.
const serverSecret = "two-instances-share-this-secret-0123456789"

// testServer is one running `userpanel serve`.
type testServer struct {
	URL  string
	done chan result
	stop context.CancelFunc
}

// startServer runs `serve` on a free port against the database at dbURL,
// with env added to the defaults (no drain, warnings only), and stops it when
// the test ends. It is the helper for any test that needs several instances
// of the panel on one database.
func startServer(t *testing.T, dbURL string, env map[string]string) *testServer {
	t.Helper()
	full := map[string]string{"DATABASE_URL": dbURL, "SESSION_SECRET": serverSecret, "LOG_LEVEL": "error",
		"SHUTDOWN_DRAIN": "0"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	s := &testServer{done: make(chan result, 1), stop: cancel}
	go func() {
		s.done <- runApp(t, ctx, func(a net.Addr) { addrs <- a }, "", full, "serve", "--listen", "127.0.0.1:0")
	}()
	select {
	case a := <-addrs:
		s.URL = "http://" + a.String()
	case r := <-s.done:
		cancel()
		t.Fatalf("serve stopped early: exit %d\n%s", r.code, r.stderr)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start listening")
	}
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the server as SIGTERM would and checks that it exited 0.
// It is safe to call twice.
func (s *testServer) shutdown(t *testing.T) {
	t.Helper()
	s.stop()
	select {
	case r, ok := <-s.done:
		if ok {
			close(s.done)
			r.expect(t, exitOK)
		}
	case <-time.After(60 * time.Second):
		t.Error("serve did not stop")
	}
}

// running reports whether the server has not exited.
func (s *testServer) running() bool {
	select {
	case r, ok := <-s.done:
		if ok {
			s.done <- r
		}
		return false
	default:
		return true
	}
}

// visitor is one browser: a cookie jar, shared by every server it visits
// (cookies do not depend on the port), that does not follow redirects.
type visitor struct {
	t      *testing.T
	client *http.Client
	// token is the CSRF token of the visitor's session, read once per
	// sign-in (it changes with the session, and every instance shares it).
	token string
}

func newVisitor(t *testing.T) *visitor {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &visitor{t: t, client: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// answer is a response read whole.
type answer struct {
	status   int
	location string
	body     string
	took     time.Duration
}

func (v *visitor) do(req *http.Request) answer {
	v.t.Helper()
	start := time.Now()
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), took: time.Since(start)}
}

func (v *visitor) get(rawURL string) answer {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// csrfHeader finds the CSRF token a page hands htmx (the body's hx-headers).
var csrfHeader = regexp.MustCompile(`&#34;X-CSRF-Token&#34;:&#34;([^&]+)&#34;`)

// csrf reads the CSRF token of the visitor's current session from a page of
// base: the account page when signed in, else the sign-in page. The token is
// bound to the session, which every instance shares.
func (v *visitor) csrf(base string) string {
	v.t.Helper()
	for _, path := range []string{"/account", "/login"} {
		a := v.get(base + path)
		if m := csrfHeader.FindStringSubmatch(a.body); a.status == http.StatusOK && m != nil {
			return m[1]
		}
	}
	v.t.Fatalf("no CSRF token on %s", base)
	return ""
}

// post submits a form with the CSRF token of the visitor's session.
func (v *visitor) post(base, path string, form url.Values) answer {
	v.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if v.token == "" {
		v.token = v.csrf(base)
	}
	form.Set("_csrf", v.token)
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// cookie is the value of the jar's cookie name for base, or "".
func (v *visitor) cookie(base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range v.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// signIn signs in on base and checks that it worked.
func (v *visitor) signIn(base, email, password string) {
	v.t.Helper()
	v.token = ""
	a := v.post(base, "/login", url.Values{"email": {email}, "password": {password}})
	if a.status != http.StatusSeeOther {
		v.t.Fatalf("sign in as %s on %s: status %d, want 303\n%.300s", email, base, a.status, a.body)
	}
	v.token = v.csrf(base) // a new session, a new token

}

// wantSignedOut fails unless a is the redirect to the sign-in page.
func wantSignedOut(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login") {
		t.Fatalf("%s: status %d to %q, want 303 to /login", what, a.status, a.location)
	}
}

// createStaff makes an account with a role through `create-user`, the
// password on standard input, and returns its id.
func createStaff(t *testing.T, dbURL, email, role, password string) string {
	t.Helper()
	run(t, password+"\n", map[string]string{"DATABASE_URL": dbURL}, "create-user", "--email", email,
		"--name", strings.Split(email, "@")[0], "--role", role).expect(t, exitOK)
	store := openTestStore(t, dbURL)
	// The same password at bcrypt's lowest cost (bcrypt reads the cost from
	// the hash): a sign-in then takes a millisecond rather than seconds
	// under the race detector, well within the request timeout.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := store.DB().Get(&id, `UPDATE users SET password_hash = $2 WHERE email = $1 RETURNING id`, email, string(hash)); err != nil {
		t.Fatal(err)
	}
	return id
}
