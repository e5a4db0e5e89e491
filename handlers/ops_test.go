package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestServerError(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	b := p.signedIn(adminEmail)
	wantStatus(t, "before", b.get("/readyz"), http.StatusOK)

	// With the database gone, every signed-in page fails: the designed
	// 500 page with a request id, and never the error itself.
	if err := p.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	pg := b.get("/users", "X-Request-ID", "proxy-req-42")
	wantStatus(t, "GET /users without a database", pg, http.StatusInternalServerError)
	if got := pg.text(`[data-testid="error-page"] .error-code`); got != "500" {
		t.Errorf("status on the page %q", got)
	}
	if got := pg.text(`[data-testid="request-id"]`); got != "proxy-req-42" || pg.header.Get("X-Request-ID") != got {
		t.Errorf("request id on the page %q, header %q", got, pg.header.Get("X-Request-ID"))
	}
	for _, leak := range []string{"sql", "closed", "database is", "load signed-in user"} {
		if strings.Contains(strings.ToLower(pg.text("main")), leak) {
			t.Errorf("the 500 page shows %q", leak)
		}
	}
	if !strings.Contains(p.logs.String(), `"msg":"request failed"`) || !strings.Contains(p.logs.String(), "sql: database is closed") {
		t.Error("the 500 was not logged with its error")
	}
	pg = b.get("/readyz")
	wantStatus(t, "readyz without a database", pg, http.StatusServiceUnavailable)
	wantStatus(t, "healthz without a database", b.get("/healthz"), http.StatusOK)
}

func TestErrorPagesAndHeaders(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	b := p.signedIn(supportEmail)

	pg := b.get("/no/such/page")
	wantStatus(t, "unknown path", pg, http.StatusNotFound)
	if pg.text(`[data-testid="current-user"]`) != supportEmail {
		t.Error("the 404 page lacks the signed-in layout")
	}
	if pg.has(`[data-testid="request-id"]`) {
		t.Error("a 404 page shows a request id")
	}
	wantStatus(t, "GET /logout", b.get("/logout"), http.StatusMethodNotAllowed)
	// POST /users creates a user (admins only), so the dashboard is the
	// GET-only path here.
	pg = b.post("/dashboard", nil)
	if pg.status != http.StatusMethodNotAllowed || !pg.has(`[data-testid="error-page"]`) {
		t.Errorf("POST /dashboard: %d", pg.status)
	}

	// A client's request id is kept only when it is a plain token.
	pg = b.get("/healthz", "X-Request-ID", "bad id <script>")
	if id := pg.header.Get("X-Request-ID"); id == "" || strings.ContainsAny(id, " <>") {
		t.Errorf("request id %q", id)
	}

	pg = b.get("/users")
	h := pg.header
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") || h.Get("X-Content-Type-Options") != "nosniff" ||
		h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", h)
	}

	// Static files: versioned URLs are cached for a year.
	css := pg.doc.Find(`link[rel="stylesheet"][href^="/static/app.css?v="]`).AttrOr("href", "")
	if css == "" {
		t.Fatal("the layout does not link a versioned app.css")
	}
	st := b.get(css)
	wantStatus(t, css, st, http.StatusOK)
	if cc := st.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("%s: Cache-Control %q", css, cc)
	}
	if ct := st.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("%s: Content-Type %q", css, ct)
	}
	for _, bad := range []string{"/static/../handlers.go", "/static/%2e%2e/go.mod", "/static/nope.css"} {
		if pg := b.get(bad); pg.status != http.StatusNotFound {
			t.Errorf("%s: %d", bad, pg.status)
		}
	}
}

func TestMetricsAndLogs(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t, func(o *Options) { o.MetricsToken = "metrics-token-4711" })
	s := p.addStaff()
	b := p.signedIn(supportEmail)
	wantStatus(t, "user page", b.get("/users/"+s.plain), http.StatusOK)
	wantStatus(t, "search", b.get("/users?q=secret-search@example.com"), http.StatusOK)
	b.get("/random/1")
	b.get("/random/2")

	// Metrics need the bearer token, even for a signed-in admin.
	for _, auth := range []string{"", "Bearer wrong", "Basic bWV0cmljcy10b2tlbi00NzEx", "metrics-token-4711"} {
		pg := b.get("/metrics", "Authorization", auth)
		wantStatus(t, "metrics with Authorization "+auth, pg, http.StatusUnauthorized)
		if strings.Contains(pg.body, "go_goroutines") {
			t.Fatalf("metrics shown with Authorization %q", auth)
		}
	}
	m := b.get("/metrics", "Authorization", "Bearer metrics-token-4711")
	wantStatus(t, "metrics", m, http.StatusOK)
	for _, want := range []string{
		`userpanel_http_requests_total{code="200",host="",method="GET",url="/users/:id"} 1`,
		`userpanel_http_request_duration_seconds_count{code="200",host="",method="GET",url="/users"} 1`,
		`userpanel_http_requests_total{code="303",host="",method="POST",url="/login"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m.body, "/random/") {
		t.Error("unknown paths became metric labels")
	}

	// One structured line per request, with the user, without the query.
	var found bool
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if line["msg"] != "request" {
			continue
		}
		if strings.Contains(sc.Text(), "secret-search") {
			t.Error("a search text reached the log")
		}
		if line["path"] == "/users/"+s.plain {
			found = true
			for _, k := range []string{"method", "status", "duration", "request_id"} {
				if _, ok := line[k]; !ok {
					t.Errorf("log line lacks %s: %s", k, sc.Text())
				}
			}
			if line["user_id"] != s.support || line["status"] != float64(200) {
				t.Errorf("log line: %s", sc.Text())
			}
		}
	}
	if !found {
		t.Error("no log line for the user page")
	}
}

// A request whose client went away (an htmx search replaced by the next
// keystroke) is not a server error, whatever the driver reports.
func TestCancelledRequestIsNotAnError(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	e, err := New(p.store, Options{SessionSecret: testSecret, Logger: slog.New(slog.NewJSONHandler(p.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/users?q=a", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	e.HTTPErrorHandler(errors.New("pq: canceling statement due to user request"), e.NewContext(req, rec))
	if rec.Code != statusClientClosed {
		t.Errorf("status %d, want %d", rec.Code, statusClientClosed)
	}
	if strings.Contains(p.logs.String(), "request failed") {
		t.Error("a cancelled request was logged as a failure")
	}
}
