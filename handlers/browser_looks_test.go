package handlers_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, from node_modules (package.json's devDependencies,
// installed by `make assets`).
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("../node_modules/axe-core/axe.min.js")
	return string(b), err
})

// axeViolation is one rule axe found broken, with where.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAxe runs axe on the page as it is and fails the test on any serious or
// critical violation of WCAG 2.1 A and AA.
func (p *panel) checkAxe(page string) {
	p.t.Helper()
	src, err := axeSource()
	if err != nil {
		p.t.Fatalf("read axe-core (run make assets): %v", err)
	}
	p.do("load axe", chromedp.Evaluate[chromedp.Void](src))
	vs := chromedp.Evaluate[[]axeViolation](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))})))`,
		chromedp.EvalAwaitPromise)
	ctx := p.ctx
	got, err := chromedp.Run(ctx, vs)
	if err != nil {
		p.t.Fatalf("run axe on %s: %v", page, err)
	}
	for _, v := range got {
		p.t.Errorf("%s: axe %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "; "))
	}
}

// scheme emulates the light or dark colour scheme.
func (p *panel) scheme(name string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: name}},
	}); err != nil {
		p.t.Fatalf("emulate %s: %v", name, err)
	}
}

// fits fails the test when the page scrolls sideways or an element of the
// page (outside a scrolling box) sticks out of the window.
func (p *panel) fits(page string) {
	p.t.Helper()
	type layout struct {
		PageWidth int    `json:"pageWidth"`
		Viewport  int    `json:"viewport"`
		Outside   string `json:"outside"`
	}
	l, err := chromedp.Run(p.ctx, chromedp.Evaluate[layout](`(() => {
		const inScroller = (e) => { for (let a = e.parentElement; a; a = a.parentElement) {
			const o = getComputedStyle(a).overflowX; if (o === "auto" || o === "scroll" || o === "hidden") return true; } return false; };
		const out = [...document.querySelectorAll("body *")].filter(e => {
			const r = e.getBoundingClientRect();
			return r.width > 0 && r.right > window.innerWidth + 1 && !inScroller(e);
		}).slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ").join(".") : ""));
		return {pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth, outside: out.join(", ")};
	})()`))
	if err != nil {
		p.t.Fatalf("measure %s: %v", page, err)
	}
	if l.PageWidth > l.Viewport || l.Outside != "" {
		p.t.Errorf("%s at %d px: the page is %d px wide; sticking out: %s", page, l.Viewport, l.PageWidth, l.Outside)
	}
}

// The looks tests visit every page at 1440 and 390 px, in light and dark,
// screenshot it, check that nothing sticks out of the window, and run axe:
// one test per width and scheme, so that each journey stays short.
func TestBrowserLooksWideLight(t *testing.T)  { t.Parallel(); checkLooks(t, 1440, "light") }
func TestBrowserLooksWideDark(t *testing.T)   { t.Parallel(); checkLooks(t, 1440, "dark") }
func TestBrowserLooksPhoneLight(t *testing.T) { t.Parallel(); checkLooks(t, 390, "light") }
func TestBrowserLooksPhoneDark(t *testing.T)  { t.Parallel(); checkLooks(t, 390, "dark") }

func checkLooks(t *testing.T, width int64, scheme string) {
	p := newPanel(t, fmt.Sprintf("looks_%d_%s", width, scheme))
	p.do("resize", chromedp.EmulateViewport(width, 900))
	p.scheme(scheme)
	shot := func(name string) {
		p.t.Helper()
		p.screenshot(name)
		p.fits(fmt.Sprintf("%s at %d px, %s", name, width, scheme))
		p.checkAxe(fmt.Sprintf("%s at %d px, %s", name, width, scheme))
	}
	p.open("/login")
	p.waitLogin("the sign-in page", func(s loginPage) bool { return s.LoginForm })
	shot("login")
	p.signIn(adminEmail)
	p.open("/users?sort=email&order=asc")
	s := p.waitTable("the user table", func(s tablePage) bool { return len(s.IDs) > 0 })
	shot("users")
	p.open("/users/" + s.IDs[0])
	p.waitUser("a user page", func(s userPage) bool { return s.UserTitle != "" })
	// With JavaScript the id and the email have copy buttons.
	p.textOf(`button[data-testid="copy-id"]:not([hidden])`, func(s string) bool { return s == "Copy" })
	shot("user")
	p.open("/users/new")
	p.waitHead("the new user form", func(s pageHead) bool { return s.H1 != "" })
	shot("new_user")
	p.open("/dashboard")
	p.waitDashboard("the dashboard", func(s dashboardPage) bool { return s.StatTotal != "" })
	shot("dashboard")
	p.open("/audit")
	p.waitAudit("the audit log", func(s auditPage) bool { return s.H1 == "Audit log" })
	shot("audit")
	p.open("/users?sort=email&order=asc")
	p.waitTable("the user table", func(s tablePage) bool { return len(s.IDs) > 0 })
	p.click(`input[data-testid="row-select"]`)
	p.choose(`select[data-testid="bulk-action"]`, "Sign out")
	p.click(`button[data-testid="bulk-selected"]`)
	p.waitHead("the bulk preview", func(s pageHead) bool { return strings.HasPrefix(s.H1, "This will") })
	shot("bulk_preview")
	p.noPageErrors()
}

// TestBrowserRefusedCreateAddress: a refused new-user form comes back with
// its message, and the address bar shows /users/new, so that a reload shows
// the form rather than posting it again.
func TestBrowserRefusedCreateAddress(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "refused")
	p.signIn(adminEmail)
	p.open("/users/new")
	p.waitHead("the new user form", func(s pageHead) bool { return s.H1 != "" })
	// A taken email: the browser's own checks pass, the server refuses.
	p.typeText(`form[data-testid="create-user"] input[name="email"]`, adminEmail, true)
	p.typeText(`form[data-testid="create-user"] input[name="password"]`, "a-long-enough-password-1", true)
	p.click(`button[data-testid="create"]`)
	p.textOf(`[data-testid="email-error"]`, func(s string) bool { return strings.Contains(s, "already exists") })
	p.waitHead("the form's own address", func(s pageHead) bool { return s.path() == "/users/new" })
	p.reload()
	p.waitHead("the form again after a reload", func(s pageHead) bool { return s.path() == "/users/new" && s.H1 != "" })
	p.noPageErrors()
}

// TestBrowserAuditFilters: the audit log applies each filter as it changes,
// as the user table does, and keeps it in the address bar.
func TestBrowserAuditFilters(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "auditlog")
	p.signIn(adminEmail)
	p.open("/audit")
	p.waitAudit("the audit log", func(s auditPage) bool { return s.H1 == "Audit log" })
	p.setMarker(3)
	p.choose(`select[data-testid="audit-action-filter"]`, "user.login")
	p.waitHead("the sign-ins only", func(s pageHead) bool { return s.query("action") == "user.login" })
	rng := p.textOf(`[data-testid="range"]`, func(s string) bool { return strings.HasPrefix(s, "1–1 of 1") })
	p.click(`input[data-testid="audit-hide-signins"]`)
	p.waitHead("sign-ins hidden", func(s pageHead) bool { return s.query("signins") == "hide" })
	p.textOf(`[data-testid="empty"]`, func(s string) bool { return strings.Contains(s, "No audit entries match") })
	if s := p.waitHead("the same page", func(pageHead) bool { return true }); s.Marker == nil || *s.Marker != 3 {
		t.Errorf("filtering reloaded the page (range was %q); it should swap the table only", rng)
	}
	p.noPageErrors()
}
