package handlers_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"userpanel/db"
	"userpanel/handlers"
	"userpanel/internal/testdb"
)

// The browser tests drive a real Chromium through the panel the way a staff
// member would, and check what that person would see. The package starts one
// headless browser; each test gets its own database, its own server and its
// own browser context (like an incognito window: no cookie or local storage
// leaks between tests).

const (
	// testTimeout bounds a whole journey, so that a stuck page fails the
	// test instead of hanging CI.
	testTimeout = 60 * time.Second
	// waitTimeout bounds one wait for the page to reach an expected state.
	// It is generous because a sign-in pays for bcrypt, which is slow under
	// -race on a busy CI machine.
	waitTimeout = 20 * time.Second

	adminEmail = "root.admin@userpanel.test"
	adminName  = "Root Admin"

	// fixtureUsers is how many users testdb.SeedPeople inserts besides the admin.
	fixtureUsers = 120
)

// chromePath finds the browser: $CHROME_PATH, else /usr/bin/chromium. A
// missing browser fails the test, saying how to get one; it never skips.
func chromePath(t *testing.T) string {
	t.Helper()
	want := os.Getenv("CHROME_PATH")
	if want == "" {
		want = "/usr/bin/chromium"
	}
	path, err := exec.LookPath(want)
	if err != nil {
		t.Fatalf("the browser tests need Chromium, and there is none at %q (%v). "+
			"`make test` installs it; or install it yourself with `apt-get install chromium`, "+
			"or point CHROME_PATH at a Chromium or Chrome binary", want, err)
	}
	return path
}

// screenshotDir is where the journeys save their screenshots for review.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "tmp", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create the screenshot folder: %v", err)
	}
	return dir
}

// panel is one journey: a database with an admin and fixture users, the
// panel serving it, and a browser tab.
type panel struct {
	t     *testing.T
	store *db.Store
	base  string
	// tab is the test's tab, without the journey's deadline; a second tab
	// in the same browser context (same cookies) is a child of it.
	tab context.Context
	// ctx is the tab, bounded by testTimeout.
	ctx context.Context

	shotPrefix string
	shotStep   int
	// console and exceptions collect what the page logs, for a failure
	// report (the browser writes from its own goroutine).
	console    *testdb.LogBuffer
	exceptions *testdb.LogBuffer
}

type panelOption func(*panelConfig)

type panelConfig struct{ noJS bool }

// withoutJavaScript turns script execution off in the tab before the first
// page loads, as a person with JavaScript disabled would browse.
func withoutJavaScript(c *panelConfig) { c.noJS = true }

// newPanel sets up a journey whose screenshots are named after prefix.
func newPanel(t *testing.T, prefix string, opts ...panelOption) *panel {
	t.Helper()
	var cfg panelConfig
	for _, o := range opts {
		o(&cfg)
	}
	browser := sharedBrowser(t)
	shots := screenshotDir(t)
	// Screenshots of an earlier run would mislead a reviewer.
	old, _ := filepath.Glob(filepath.Join(shots, prefix+"_*.png"))
	for _, f := range old {
		os.Remove(f)
	}

	store := testdb.New(t)
	testdb.AddUser(t, store, adminEmail, adminName, db.RoleAdmin)
	testdb.SeedPeople(t, store, fixtureUsers)

	serverLog := &testdb.LogBuffer{}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	e, err := handlers.New(store, handlers.Options{
		SessionSecret: secret,
		Static:        os.DirFS("../static"),
		Logger:        serverLog.Logger(),
	})
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	p := &panel{
		t: t, store: store, base: srv.URL,
		shotPrefix: prefix, console: &testdb.LogBuffer{}, exceptions: &testdb.LogBuffer{},
	}
	p.openTab(browser, cfg)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// Leave the evidence next to the failure: what the page looked
		// like, what it logged, what the server logged.
		sctx, cancel := context.WithTimeout(p.tab, 5*time.Second)
		defer cancel()
		if buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
			name := filepath.Join(shots, prefix+"_failed.png")
			if os.WriteFile(name, buf, 0o644) == nil {
				t.Logf("the page at the failure: %s", name)
			}
		}
		t.Logf("browser console:\n%s", p.console.String())
		t.Logf("server log:\n%s", serverLog.String())
	})
	return p
}

// The package's browser, started by the first test that needs it and
// stopped when the test binary exits (chromedp kills it with the parent).
var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
)

// profilePrefix names the browser profile folders in the temp folder; the
// suffix is the test process's id.
const profilePrefix = "userpanel-browser-tests-"

// sharedBrowser returns the package's browser, starting it the first time.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	chrome := chromePath(t)
	browserOnce.Do(func() { browserCtx, browserErr = startBrowser(chrome) })
	if browserErr != nil {
		t.Fatalf("start the browser %s: %v", chrome, browserErr)
	}
	return browserCtx
}

// startBrowser starts headless Chromium with a profile in the temp folder.
// The profile outlives every test (so it cannot be a t.TempDir); it is
// named after this process, and the next run removes the profiles of
// processes that have ended.
func startBrowser(chrome string) (context.Context, error) {
	removeStaleProfiles()
	profile := filepath.Join(os.TempDir(), profilePrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(profile, 0o700); err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		// Chromium runs as root in CI containers, where its sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 900),
	}
	allocCtx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(allocCtx)
	// The first Run starts the browser and ties it to ctx, which never
	// ends: each test's deadline is on its own tab.
	if err := chromedp.Do(ctx); err != nil {
		return nil, err
	}
	return ctx, nil
}

// removeStaleProfiles removes the browser profiles of earlier test
// processes that have ended.
func removeStaleProfiles() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), profilePrefix+"*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), profilePrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if proc, err := os.FindProcess(pid); err == nil {
			if err := proc.Signal(syscall.Signal(0)); err == nil || errors.Is(err, syscall.EPERM) {
				continue // still running
			}
		}
		os.RemoveAll(dir)
	}
}

// openTab opens the test's tab in a fresh browser context, bounded by
// testTimeout; the tab closes and its context is disposed when the test ends.
func (p *panel) openTab(browser context.Context, cfg panelConfig) {
	t := p.t
	tab, closeTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(closeTab)
	// The first Run creates the tab and ties it to tab, which has no
	// deadline of its own; the journey's deadline is on a child.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, testTimeout)
	t.Cleanup(cancel)
	p.tab, p.ctx = tab, ctx

	p.watchConsole(ctx)
	if cfg.noJS {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled,
			emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turn JavaScript off: %v", err)
		}
	}
}

// watchConsole records what the tab writes to its console; uncaught
// exceptions are also kept apart, for noPageErrors.
func (p *panel) watchConsole(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			line := fmt.Sprintf("%s %s:%d %s\n", m.Time.Format("15:04:05.000"), m.URL, m.Line+1, m)
			p.console.Write([]byte(line))
			if m.IsException() {
				p.exceptions.Write([]byte(line))
			}
		}
	}()
}

// noPageErrors fails the test if the page threw an uncaught exception.
func (p *panel) noPageErrors() {
	p.t.Helper()
	if ex := p.exceptions.String(); ex != "" {
		p.t.Errorf("the page threw uncaught JavaScript exceptions:\n%s", ex)
	}
}

// expectPage returns the ids, in order, of the page of users the store
// gives for p, and the total number of matches.
func (p *panel) expectPage(lp db.ListParams) ([]string, int64) {
	p.t.Helper()
	res, err := p.store.ListUsers(context.Background(), lp)
	if err != nil {
		p.t.Fatalf("store.ListUsers(%+v): %v", lp, err)
	}
	ids := make([]string, len(res.Users))
	for i, u := range res.Users {
		ids[i] = u.ID
	}
	return ids, res.Total
}

// What a person sees is read through one small reader per kind of page:
// each is a script that returns a JSON object and the Go struct it fills.
// pageState is all of them at once, for the journeys that cross pages.

// reader reads one part of the page: js is an arrow function, run with the
// helpers of readPrelude in scope, returning an object that decodes into T.
type reader[T any] struct{ js string }

// readPrelude is in scope for every reader.
const readPrelude = `const q = (s) => document.querySelector(s);
	const all = (s) => Array.from(document.querySelectorAll(s));
	const text = (el) => el ? el.textContent.replace(/\s+/g, " ").trim() : "";`

// expr is the expression that runs the reader and returns its JSON text.
func (r reader[T]) expr() string {
	return "(() => { " + readPrelude + " return JSON.stringify((" + r.js + ")()); })()"
}

// pageHead is what every page shows: where it is, its heading, who is signed in.
type pageHead struct {
	URL         string `json:"url"`
	Title       string `json:"title"`
	H1          string `json:"h1"`
	CurrentUser string `json:"currentUser"`
	Marker      *int   `json:"marker"`
	// Loading is whether the loading indicator shows; nil without one.
	Loading *bool `json:"loading"`
}

var headReader = reader[pageHead]{`() => ({
	url: location.href,
	title: document.title,
	h1: text(q("h1")),
	currentUser: text(q('[data-testid="current-user"]')),
	marker: (typeof window.__marker === "number") ? window.__marker : null,
	loading: (() => {
		const l = q('[data-testid="loading"]');
		if (!l) return null;
		const r = l.getBoundingClientRect(), cs = getComputedStyle(l);
		return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && Number(cs.opacity) > 0;
	})(),
})`}

// loginView is the login page.
type loginView struct {
	LoginForm  bool   `json:"loginForm"`
	LoginError string `json:"loginError"`
}

var loginReader = reader[loginView]{`() => ({
	loginForm: !!q('form[data-testid="login-form"]'),
	loginError: text(q('[data-testid="login-error"]')),
})`}

// tableView is the users table: its rows, paging, sorting and search box.
type tableView struct {
	IDs        []string          `json:"ids"`
	Emails     []string          `json:"emails"`
	Names      []string          `json:"names"`
	Current    string            `json:"current"`
	Range      string            `json:"range"`
	Sorted     map[string]string `json:"sorted"`
	Search     *string           `json:"search"`
	HasTable   bool              `json:"hasTable"`
	Empty      bool              `json:"empty"`
	TableError string            `json:"tableError"`
}

var tableReader = reader[tableView]{`() => {
	const rows = all('tr[data-testid="user-row"]');
	const sorted = {};
	for (const a of all('a[data-testid^="sort-"]')) {
		const th = a.closest("th");
		sorted[a.dataset.testid.slice(5)] = th ? (th.getAttribute("aria-sort") || "") : "(no th)";
	}
	const search = q('input[name="q"][data-testid="search"]');
	return {
		ids: rows.map((r) => {
			const a = r.querySelector('td[data-testid="user-email"] a');
			return a ? new URL(a.href, location.href).pathname.split("/").filter(Boolean).pop() : "";
		}),
		emails: rows.map((r) => text(r.querySelector('td[data-testid="user-email"] a') || r.querySelector('td[data-testid="user-email"]'))),
		names: rows.map((r) => text(r.querySelector('td[data-testid="user-name"]'))),
		current: text(q('[data-testid="page-current"]')),
		range: text(q('[data-testid="range"]')),
		sorted: sorted,
		search: search ? search.value : null,
		hasTable: !!q("#users-table"),
		empty: !!q('[data-testid="empty"]'),
		tableError: text(q('[data-testid="table-error"]')),
	};
}`}

// userView is one user's page.
type userView struct {
	UserTitle string `json:"userTitle"`
	UserRoles string `json:"userRoles"`
	BanState  string `json:"banState"`
	Sessions  int    `json:"sessions"`
}

var userReader = reader[userView]{`() => ({
	userTitle: text(q('h1[data-testid="user-title"]')),
	userRoles: text(q('[data-testid="user-roles"]')),
	banState: text(q('[data-testid="ban-state"]')),
	sessions: all('tr[data-testid="session-row"]').length,
})`}

// dashboardView is the counts dashboard, each number as the page shows it.
type dashboardView struct {
	StatTotal    string `json:"statTotal"`
	StatVerified string `json:"statVerified"`
	StatBanned   string `json:"statBanned"`
}

var dashboardReader = reader[dashboardView]{`() => {
	const stat = (id) => (q('[data-testid="' + id + '"]') || {innerText: ""}).innerText.replace(/\s+/g, " ").trim();
	return {statTotal: stat("stat-total"), statVerified: stat("stat-verified"), statBanned: stat("stat-banned")};
}`}

// auditRow is one row of the audit log as shown.
type auditRow struct {
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
}

// auditView is the audit log page.
type auditView struct {
	AuditRows []auditRow `json:"auditRows"`
}

var auditReader = reader[auditView]{`() => ({
	auditRows: all('tr[data-testid="audit-row"]').map((r) => ({
		actor: text(r.querySelector('[data-testid="audit-actor"]')),
		action: text(r.querySelector('[data-testid="audit-action"]')),
		target: text(r.querySelector('[data-testid="audit-target"]')),
	})),
})`}

// pageState is what a person sees on the page at one moment: every reader
// at once.
type pageState struct {
	pageHead
	loginView
	tableView
	userView
	dashboardView
	auditView
}

var stateReader = reader[pageState]{"() => Object.assign({}, (" + headReader.js + ")(), (" + loginReader.js +
	")(), (" + tableReader.js + ")(), (" + userReader.js + ")(), (" + dashboardReader.js + ")(), (" +
	auditReader.js + ")())"}

// Each kind of page has a reader of its own, with the head every page has:
// a journey waits through the reader of the page it is on, and reads the
// whole page (pageState) only where it checks that a page shows nothing of
// another, or to describe a failure.
type (
	loginPage struct {
		pageHead
		loginView
	}
	tablePage struct {
		pageHead
		tableView
	}
	userPage struct {
		pageHead
		userView
	}
	dashboardPage struct {
		pageHead
		dashboardView
	}
	auditPage struct {
		pageHead
		auditView
	}
)

// withHead is r with the page's head read too, into P (a page above).
func withHead[P, V any](r reader[V]) reader[P] {
	return reader[P]{"() => Object.assign({}, (" + headReader.js + ")(), (" + r.js + ")())"}
}

var (
	loginPageReader     = withHead[loginPage](loginReader)
	tablePageReader     = withHead[tablePage](tableReader)
	userPageReader      = withHead[userPage](userReader)
	dashboardPageReader = withHead[dashboardPage](dashboardReader)
	auditPageReader     = withHead[auditPage](auditReader)
)

// waitHead waits until ok accepts the head of the page (see waitRead).
func (p *panel) waitHead(what string, ok func(pageHead) bool) pageHead {
	p.t.Helper()
	return waitRead(p, headReader, what, ok)
}

// waitLogin waits until ok accepts the login page (see waitRead).
func (p *panel) waitLogin(what string, ok func(loginPage) bool) loginPage {
	p.t.Helper()
	return waitRead(p, loginPageReader, what, ok)
}

// waitTable waits until ok accepts the users table page (see waitRead).
func (p *panel) waitTable(what string, ok func(tablePage) bool) tablePage {
	p.t.Helper()
	return waitRead(p, tablePageReader, what, ok)
}

// waitUser waits until ok accepts a user's page (see waitRead).
func (p *panel) waitUser(what string, ok func(userPage) bool) userPage {
	p.t.Helper()
	return waitRead(p, userPageReader, what, ok)
}

// waitDashboard waits until ok accepts the dashboard (see waitRead).
func (p *panel) waitDashboard(what string, ok func(dashboardPage) bool) dashboardPage {
	p.t.Helper()
	return waitRead(p, dashboardPageReader, what, ok)
}

// waitAudit waits until ok accepts the audit log (see waitRead).
func (p *panel) waitAudit(what string, ok func(auditPage) bool) auditPage {
	p.t.Helper()
	return waitRead(p, auditPageReader, what, ok)
}

// String describes the page in a failure message, as pageState does.
func (t tablePage) String() string {
	return pageState{pageHead: t.pageHead, tableView: t.tableView}.String()
}

// String describes the page in a failure message, as pageState does.
func (l loginPage) String() string {
	return pageState{pageHead: l.pageHead, loginView: l.loginView}.String()
}

// String describes the state in a failure message.
func (s pageState) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  url: %s\n  title: %q, h1: %q\n", s.URL, s.Title, s.H1)
	if s.LoginForm || s.LoginError != "" {
		fmt.Fprintf(&b, "  login form: %v, login error: %q\n", s.LoginForm, s.LoginError)
	}
	fmt.Fprintf(&b, "  current user: %q\n", s.CurrentUser)
	if s.HasTable {
		search := "(no search box)"
		if s.Search != nil {
			search = fmt.Sprintf("%q", *s.Search)
		}
		fmt.Fprintf(&b, "  users table: %d rows, search %s, page-current %q, range %q, aria-sort %v, empty %v, error %q\n",
			len(s.IDs), search, s.Current, s.Range, s.Sorted, s.Empty, s.TableError)
		for i := range s.IDs {
			if i == 6 {
				fmt.Fprintf(&b, "    ... %d more\n", len(s.IDs)-i)
				break
			}
			fmt.Fprintf(&b, "    %s | %s | %s\n", s.Emails[i], s.Names[i], s.IDs[i])
		}
	}
	if s.UserTitle != "" || s.StatTotal != "" {
		fmt.Fprintf(&b, "  user-title %q, stat-total %q\n", s.UserTitle, s.StatTotal)
	}
	if len(s.AuditRows) > 0 {
		fmt.Fprintf(&b, "  audit log: %d rows, first %+v\n", len(s.AuditRows), s.AuditRows[0])
	}
	if s.Marker != nil {
		fmt.Fprintf(&b, "  window.__marker = %d\n", *s.Marker)
	}
	if s.Loading != nil && *s.Loading {
		fmt.Fprintf(&b, "  the loading indicator shows\n")
	}
	return b.String()
}

// query returns the named parameter of the page's URL.
func (s pageHead) query(name string) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return ""
	}
	return u.Query().Get(name)
}

// path returns the path of the page's URL.
func (s pageHead) path() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return ""
	}
	return u.Path
}

// readRaw runs a reader once and returns its JSON text and what it decodes
// to. It can fail while a page is loading.
func readRaw[T any](p *panel, r reader[T]) (string, T, error) {
	var v T
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](r.expr()))
	if err == nil {
		err = json.Unmarshal([]byte(raw), &v)
	}
	return raw, v, err
}

// read runs a reader once, failing the test if the page cannot be read.
func read[T any](p *panel, r reader[T]) T {
	p.t.Helper()
	_, v, err := readRaw(p, r)
	if err != nil {
		p.t.Fatalf("read the page: %v", err)
	}
	return v
}

// state reads the whole page once. It can fail while a page is loading.
func (p *panel) state() (pageState, error) {
	_, s, err := readRaw(p, stateReader)
	return s, err
}

// waitRead reads the page through r until ok accepts what it shows, and
// fails the test with the last state seen when waitTimeout passes. htmx
// swaps and page loads are asynchronous: the tests always wait for the state
// they expect and never sleep a guessed time. Between two reads chromedp
// polls the page for a change to what r reads (or for a new document, when
// a navigation replaces it), so the Go side only looks again when there is
// something new to see.
func waitRead[T any](p *panel, r reader[T], what string, ok func(T) bool) T {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last T
	var lastErr error
	seen := false
	for {
		raw, v, err := readRaw(p, r)
		if err == nil {
			last, seen = v, true
			if ok(v) {
				return v
			}
		} else {
			lastErr = err
		}
		left := time.Until(deadline)
		if left <= 0 || p.ctx.Err() != nil {
			whole, _ := p.state()
			if !seen {
				p.t.Fatalf("waited %s for %s, and could not read the page: %v", waitTimeout, what, lastErr)
			}
			p.t.Fatalf("waited %s for %s; the reader saw %+v\nthe page showed:\n%s", waitTimeout, what, last, whole)
		}
		p.waitForChange(r.expr(), raw, err, left)
	}
}

// waitForChange lets chromedp poll the page until expr gives something other
// than last, or until a page that could not be read has loaded. An error
// here (a navigation destroyed the document being polled, or the time is
// up) only means it is time to read again.
func (p *panel) waitForChange(expr, last string, readErr error, left time.Duration) {
	cond := `document.readyState !== "loading"`
	if readErr == nil {
		lit, _ := json.Marshal(last)
		cond = fmt.Sprintf("(%s) !== %s", expr, lit)
	}
	ctx, cancel := context.WithTimeout(p.ctx, left+time.Second)
	defer cancel()
	_ = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(left)))
}

// waitFor waits until ok accepts the whole page (every reader); see waitRead.
func (p *panel) waitFor(what string, ok func(s pageState) bool) pageState {
	p.t.Helper()
	return waitRead(p, stateReader, what, ok)
}

// do runs browser actions with waitTimeout, so that a missing element fails
// fast with the selector named.
func (p *panel) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s, _ := p.state()
		p.t.Fatalf("%s: %v; the page showed:\n%s", what, err, s)
	}
}

// open loads a path of the panel and waits for the page to load.
func (p *panel) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path))
}

// target is where locateJS found an element.
type target struct {
	X, Y    float64
	Found   bool
	Covered string
}

// locateJS finds the first visible element that matches a selector, scrolls
// it to the middle of the window and returns its centre; with focus it
// also focuses it and puts the caret at the end, or with replace selects
// its text, so that typing replaces it. Covered names an element that lies
// on top of it, where a person's click would land instead.
const locateJS = `((sel, focus, replace) => {
	const el = Array.from(document.querySelectorAll(sel)).find((e) => {
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
	});
	if (!el) return {found: false};
	el.scrollIntoView({block: "center", inline: "center"});
	if (focus) {
		el.focus();
		if (replace) {
			el.select();
		} else {
			try { el.setSelectionRange(el.value.length, el.value.length); } catch (e) {}
		}
	}
	const r = el.getBoundingClientRect();
	const x = r.left + r.width / 2, y = r.top + r.height / 2;
	const hit = document.elementFromPoint(x, y);
	const covered = (hit && hit !== el && !el.contains(hit)) ? hit.outerHTML.slice(0, 200) : "";
	return {found: true, x, y, covered};
})`

// locate waits for a visible, uncovered element that sel matches and
// returns where it is on screen; chromedp polls the page for it.
func (p *panel) locate(sel string, focus, replace bool) target {
	p.t.Helper()
	expr := fmt.Sprintf("%s(%q, %v, %v)", locateJS, sel, focus, replace)
	found := fmt.Sprintf("(() => { const t = %s; return t.found && !t.covered ? t : false; })()", expr)
	deadline := time.Now().Add(waitTimeout)
	var err error
	// A navigation ends a poll early (its document is gone): poll the new
	// document, until the deadline.
	for left := waitTimeout; left > 0 && p.ctx.Err() == nil; left = time.Until(deadline) {
		ctx, cancel := context.WithTimeout(p.ctx, left+time.Second)
		var tg target
		tg, err = chromedp.Run(ctx, chromedp.Poll[target](found,
			chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(left)))
		cancel()
		if err == nil {
			return tg
		}
	}
	// Say why: not there, covered, or the page could not be read.
	s, _ := p.state()
	rctx, rcancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer rcancel()
	last, lerr := chromedp.Run(rctx, chromedp.Evaluate[target](expr))
	switch {
	case lerr != nil:
		p.t.Fatalf("look for %s: %v (%v); the page showed:\n%s", sel, err, lerr, s)
	case last.Found:
		p.t.Fatalf("%s is covered by %s; the page showed:\n%s", sel, last.Covered, s)
	default:
		p.t.Fatalf("waited %s for a visible %s (%v); the page showed:\n%s", waitTimeout, sel, err, s)
	}
	return target{}
}

// click clicks the first visible element that sel matches with the mouse,
// at its centre, as a person does. It finds the element with a script
// rather than chromedp's DOM queries, which lose track of a document that
// the back/forward cache restores.
func (p *panel) click(sel string) {
	p.t.Helper()
	tg := p.locate(sel, false, false)
	p.do("click "+sel, chromedp.MouseClickXY(tg.X, tg.Y))
}

// typeText types text into the field sel, key by key, at the end of what
// it holds; with replace the typing replaces what it holds.
func (p *panel) typeText(sel, text string, replace bool) {
	p.t.Helper()
	p.locate(sel, true, replace)
	p.do(fmt.Sprintf("type %q into %s", text, sel), chromedp.KeyEvent(text))
}

// choose picks the option labelled label in the select sel from the
// keyboard, as a person does: focus the select and type the label.
func (p *panel) choose(sel, label string) {
	p.t.Helper()
	p.locate(sel, true, false)
	p.do(fmt.Sprintf("choose %q in %s", label, sel), chromedp.KeyEvent(label))
}

// paste puts text into the field sel in one go, replacing what it holds,
// as pasting from the clipboard does.
func (p *panel) paste(sel, text string) {
	p.t.Helper()
	p.locate(sel, true, true)
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
		p.t.Fatalf("paste into %s: %v", sel, err)
	}
}

// setMarker puts a value on window; it survives htmx swaps and pushed
// URLs, and a full page load loses it.
func (p *panel) setMarker(v int) {
	p.t.Helper()
	p.do("set window.__marker", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("window.__marker = %d", v)))
}

// back presses the browser's back button. chromedp.NavigateBack waits for a
// load event, which a history entry that htmx pushed never fires, so this
// goes to the previous entry and lets waitFor watch the result.
func (p *panel) back() string {
	p.t.Helper()
	h, err := chromedp.Call(p.ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		p.t.Fatalf("read the history: %v", err)
	}
	if h.CurrentIndex < 1 {
		p.t.Fatalf("there is no page to go back to (history %d entries, at %d)", len(h.Entries), h.CurrentIndex)
	}
	prev := h.Entries[h.CurrentIndex-1]
	if _, err := chromedp.Call(p.ctx, page.NavigateToHistoryEntry,
		page.NavigateToHistoryEntryParams{EntryID: prev.ID}); err != nil {
		p.t.Fatalf("go back: %v", err)
	}
	return prev.URL
}

// front brings the tab to the front, as a person switching to it does: a
// background tab gets throttled timers and no animation frames.
func (p *panel) front() {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, page.BringToFront, cdp.Empty{}); err != nil {
		p.t.Fatalf("bring the tab to the front: %v", err)
	}
}

// reload reloads the page as the reload button does, and waits for it.
func (p *panel) reload() {
	p.t.Helper()
	p.do("reload", chromedp.Reload())
}

// screenshot saves the whole page as <prefix>_<NN>_<step>.png.
func (p *panel) screenshot(step string) {
	p.t.Helper()
	p.shotStep++
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	// Right after a navigation commits, the page can have no size yet
	// ("Cannot take screenshot with 0 width"): chromedp polls until the
	// load has finished and the page has a size. A capture can still fail
	// when a navigation replaced the document the poll read; then the poll
	// runs again, in the new document, which is the wait: no sleep.
	var buf []byte
	var err error
	for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
		err = chromedp.Do(ctx, chromedp.Poll[chromedp.Void](
			`document.readyState === "complete" && document.documentElement.scrollWidth > 0`,
			chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout)))
		if err == nil {
			buf, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", step, err)
	}
	name := filepath.Join(screenshotDir(p.t), fmt.Sprintf("%s_%02d_%s.png", p.shotPrefix, p.shotStep, step))
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		p.t.Fatalf("save screenshot: %v", err)
	}
}

// signIn signs in as email, an account testdb.AddUser made, through the
// login form, and waits for the signed-in page.
func (p *panel) signIn(email string) pageState {
	p.t.Helper()
	p.open("/login")
	p.fillLogin(email, testdb.Password)
	return p.waitFor("the signed-in page naming "+email, func(s pageState) bool {
		return strings.Contains(s.CurrentUser, email) && !s.LoginForm
	})
}

// fillLogin types the credentials into the login form and submits it.
func (p *panel) fillLogin(email, password string) {
	p.t.Helper()
	p.typeText(`form[data-testid="login-form"] input[name="email"]`, email, true)
	p.typeText(`form[data-testid="login-form"] input[name="password"]`, password, true)
	p.click(`form[data-testid="login-form"] button[type="submit"][data-testid="login-submit"]`)
}

// navLink is one link of the nav, as a person reads it.
type navLink struct {
	Text string `json:"text"`
	Path string `json:"path"`
}

// navLinks returns the links of the nav.
func (p *panel) navLinks() []navLink {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]navLink](`Array.from(
		document.querySelectorAll('nav[data-testid="nav"] a'),
		(a) => ({text: a.textContent.replace(/\s+/g, " ").trim(), path: new URL(a.href, location.href).pathname}))`))
	if err != nil {
		p.t.Fatalf("read the nav: %v", err)
	}
	return links
}

// sameIDs reports whether the page shows exactly the users want, in order.
func sameIDs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// showsNumber reports whether text shows n as a number of its own, not as
// part of a longer one.
func showsNumber(text string, n int64) bool {
	re := regexp.MustCompile(`(^|[^\d,])` + strconv.FormatInt(n, 10) + `($|[^\d,])`)
	return re.MatchString(text)
}
