package handlers_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// The journeys of the issue: "sign in, type in the search box and see the
// table change without a page load, click a header and see the order flip,
// go to page 3, press back and see page 2 again, reload and see the same
// state, sign out. It saves a screenshot of each page for review."
//
// Run them with
//
//	TEST_DATABASE_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//		go test -race -run Browser -v ./handlers/
//
// Screenshots land in $SCREENSHOT_DIR, by default tmp/screenshots at the
// repository root.

// TestBrowserSignIn: the panel asks for a sign-in, refuses a wrong password
// with the one message, and lets the admin in. (That a plain user or a
// banned one gets the same message is the handler tests' job: each sign-in
// costs a bcrypt comparison, which is slow under -race.)
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "signin")

	// Not signed in: the users page sends the visitor to the login page.
	p.open("/users")
	s := p.waitFor("the login page", func(s pageState) bool { return s.LoginForm })
	if s.path() != "/login" {
		t.Errorf("visiting /users signed out landed on %s, want /login", s.URL)
	}
	if len(s.IDs) != 0 || s.CurrentUser != "" {
		t.Errorf("the login page shows users or a signed-in user:\n%s", s)
	}
	p.screenshot("login")

	// A wrong password.
	p.fillLogin(adminEmail, "not-the-password-at-all")
	waitRead(p, loginReader, `the "invalid email or password" message`, func(l loginView) bool {
		return strings.Contains(strings.ToLower(l.LoginError), "invalid email or password")
	})
	l := p.waitLogin("the login page", func(l loginPage) bool { return l.LoginForm })
	if l.path() != "/login" || l.CurrentUser != "" || !l.LoginForm {
		t.Errorf("after a wrong password the page is not the login form again:\n%s", l)
	}
	p.screenshot("wrong_password")

	// The right password lands on the users page, signed in.
	p.fillLogin(adminEmail, testdb.Password)
	s = p.waitFor("the users page, signed in", func(s pageState) bool {
		return s.path() == "/users" && len(s.IDs) > 0
	})
	if !strings.Contains(s.CurrentUser, adminEmail) {
		t.Errorf("the signed-in page shows current user %q, want %q", s.CurrentUser, adminEmail)
	}
	if s.LoginError != "" {
		t.Errorf("the signed-in page still shows the login error %q", s.LoginError)
	}
	links := p.navLinks()
	for _, want := range []navLink{{"Users", "/users"}, {"Dashboard", "/dashboard"}} {
		if !slices.ContainsFunc(links, func(l navLink) bool {
			return l.Path == want.Path && strings.Contains(l.Text, want.Text)
		}) {
			t.Errorf("the nav has no %q link to %s; it has %v", want.Text, want.Path, links)
		}
	}
	p.screenshot("users")

	// The nav's Dashboard link shows the counts.
	p.click(`nav[data-testid="nav"] a[href$="/dashboard"]`)
	stats, err := p.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitRead(p, dashboardReader, "the dashboard with the total of "+strconv.FormatInt(stats.Total, 10)+" users",
		func(d dashboardView) bool { return showsNumber(d.StatTotal, stats.Total) })
	p.screenshot("dashboard")

	// The admin's own page, and the audit log naming the sign-in.
	admin, err := p.store.GetUserByEmail(context.Background(), adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	p.open("/users/" + admin.ID)
	waitRead(p, userReader, "the admin's page", func(u userView) bool {
		return strings.Contains(u.UserTitle, adminName) && strings.Contains(u.UserRoles, "admin")
	})
	p.open("/audit")
	waitRead(p, auditReader, "the audit log with the admin's sign-in", func(a auditView) bool {
		return slices.ContainsFunc(a.AuditRows, func(r auditRow) bool {
			return r.Action == db.ActionLogin && strings.Contains(r.Actor, adminEmail)
		})
	})
	p.noPageErrors()
}

// TestBrowserLiveSearch: typing in the search box filters the table in
// place, with no page load, and pushes the search into the URL.
func TestBrowserLiveSearch(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "search")
	p.signIn(adminEmail)
	p.open("/users")
	first, _ := p.expectPage(db.ListParams{})
	p.waitTable("the first page of users", func(s tablePage) bool { return sameIDs(s.IDs, first) })
	p.screenshot("users")

	p.setMarker(42)
	const typed = "Zep" // three letters of the fixture first name "Zephyr"
	want, total := p.expectPage(db.ListParams{Filter: db.Filter{Query: typed}})
	if len(want) == 0 || total > 20 || int64(len(want)) != total {
		t.Fatalf("the fixtures should give one page of matches for %q, got %d of %d", typed, len(want), total)
	}
	p.typeText(`input[name="q"][data-testid="search"]`, typed, false)
	s := p.waitTable("the table to show only the users matching "+typed, func(s tablePage) bool {
		return sameIDs(s.IDs, want)
	})
	for i := range s.IDs {
		if !strings.Contains(strings.ToLower(s.Emails[i]+" "+s.Names[i]), strings.ToLower(typed)) {
			t.Errorf("row %d (%s, %s) does not match %q", i, s.Emails[i], s.Names[i], typed)
		}
	}
	if s.Marker == nil || *s.Marker != 42 {
		t.Errorf("the search reloaded the whole page (window.__marker is gone); it should swap the table only")
	}
	if got := s.query("q"); got != typed {
		t.Errorf("the URL after the search is %s; want q=%s in it, so that reload and share keep the search", s.URL, typed)
	}
	if s.Search == nil || *s.Search != typed {
		t.Errorf("the search box lost what was typed: %v", s.Search)
	}
	// The range line counts the matches (its "of N" may come a moment later).
	p.waitTable("the range to say of "+strconv.FormatInt(total, 10), func(s tablePage) bool {
		return strings.HasSuffix(strings.TrimSpace(s.Range), "of "+strconv.FormatInt(total, 10))
	})
	p.waitHead("the loading indicator to hide once the results are in", func(s pageHead) bool {
		return s.Loading != nil && !*s.Loading
	})
	p.screenshot("results")

	// A result opens the user's page; back returns to the same results.
	wantName, wantEmail := s.Names[0], s.Emails[0]
	p.click(`tr[data-testid="user-row"] td[data-testid="user-email"] a`)
	p.waitUser("the page of "+wantEmail, func(s userPage) bool {
		return strings.Contains(s.UserTitle, wantName) || strings.Contains(s.UserTitle, wantEmail)
	})
	p.screenshot("user")
	p.back()
	s = p.waitTable("the search results again after back", func(s tablePage) bool {
		return s.query("q") == typed && sameIDs(s.IDs, want)
	})
	if s.Search == nil || *s.Search != typed {
		t.Errorf("back at the results, the search box shows %v, want %q", s.Search, typed)
	}
	p.screenshot("back_to_results")

	// A search that matches nobody says so.
	p.typeText(`input[name="q"][data-testid="search"]`, "xqzw", true)
	s = p.waitTable("the empty state for a search with no match", func(s tablePage) bool {
		return s.Empty && len(s.IDs) == 0 && s.query("q") == "xqzw"
	})
	p.screenshot("no_match")

	// Clear the search and filter on bans instead, from the select.
	yes := true
	want, _ = p.expectPage(db.ListParams{Filter: db.Filter{Banned: &yes}})
	p.setMarker(43)
	p.typeText(`input[name="q"][data-testid="search"]`, "\b", true)
	p.choose(`form[data-testid="filters"] select[name="banned"]`, "Yes")
	s = p.waitTable("the banned users", func(s tablePage) bool {
		return sameIDs(s.IDs, want) && s.query("q") == "" && s.query("banned") != ""
	})
	if s.Marker == nil || *s.Marker != 43 {
		t.Errorf("the filters reloaded the whole page; they should swap the table only")
	}
	p.screenshot("banned")

	// A search longer than the panel takes (200 characters), pasted: the
	// page says what is wrong, or the box never takes that much; never a
	// server error, never a database message, and the table stays usable.
	long := strings.Repeat("ab", 101)
	p.paste(`input[name="q"][data-testid="search"]`, long)
	s = p.waitTable("an answer to a 202-character search", func(s tablePage) bool {
		return s.TableError != "" || (s.Search != nil && len(*s.Search) <= 200 && s.Empty)
	})
	for _, leak := range []string{"pq:", "SQL", "db:", "sqlx", "panic", "goroutine"} {
		if strings.Contains(s.TableError, leak) {
			t.Errorf("the error shown for a long search leaks internals (%q): %q", leak, s.TableError)
		}
	}
	if s.Marker == nil || *s.Marker != 43 {
		t.Errorf("a long search reloaded the whole page")
	}
	p.screenshot("long_search")
	p.noPageErrors()
}

// TestBrowserSort: a click on the Email header sorts by email, ascending; a
// second click flips the order; the header says which way it is sorted. The
// sorted page then reloads at a phone's width.
func TestBrowserSort(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "sort")
	p.signIn(adminEmail)
	p.open("/users")
	def, _ := p.expectPage(db.ListParams{})
	s := p.waitTable("the users, newest first", func(s tablePage) bool { return sameIDs(s.IDs, def) })
	if s.Sorted["created_at"] != "descending" {
		t.Errorf("by default the created_at header should carry aria-sort=descending; the headers say %v", s.Sorted)
	}
	p.screenshot("default")
	p.setMarker(42)

	var last []string
	for _, order := range []string{db.OrderAsc, db.OrderDesc} {
		aria := map[string]string{db.OrderAsc: "ascending", db.OrderDesc: "descending"}[order]
		want, _ := p.expectPage(db.ListParams{SortBy: db.SortEmail, SortOrder: order})
		p.click(`th a[data-testid="sort-email"]`)
		s := p.waitTable("the users sorted by email, "+aria, func(s tablePage) bool {
			return sameIDs(s.IDs, want) && s.Sorted["email"] == aria
		})
		emails := slices.Clone(s.Emails)
		for i := range emails {
			emails[i] = strings.ToLower(emails[i])
		}
		sorted := slices.IsSorted(emails)
		if order == db.OrderDesc {
			slices.Reverse(emails)
			sorted = slices.IsSorted(emails)
		}
		if !sorted {
			t.Errorf("the emails shown are not in %s order: %v", aria, s.Emails)
		}
		for key, v := range s.Sorted {
			if key != "email" && (v == "ascending" || v == "descending") {
				t.Errorf("sorted by email, the %s header still says aria-sort=%s", key, v)
			}
		}
		if s.query("sort") != "email" {
			t.Errorf("the URL %s does not carry sort=email", s.URL)
		}
		if s.Marker == nil || *s.Marker != 42 {
			t.Errorf("sorting reloaded the whole page; the header link should swap the table only")
		}
		p.screenshot("email_" + order)
		last = s.IDs
	}

	// The same page on a phone.
	checkNarrowScreen(p, last)
	p.noPageErrors()
}

// TestBrowserPagingHistory: search, sort, go to page 2 and 3 with the
// pagination links, press back to see page 2 again, reload and see the
// same page 2, same search, same sort.
func TestBrowserPagingHistory(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "paging")
	p.signIn(adminEmail)
	p.open("/users")
	p.waitTable("the users table", func(s tablePage) bool { return len(s.IDs) > 0 })

	const typed = "example"
	lp := db.ListParams{Filter: db.Filter{Query: typed}}
	want, total := p.expectPage(lp)
	if total <= 60 {
		t.Fatalf("the fixtures should give more than 3 pages for %q, got %d", typed, total)
	}
	p.typeText(`input[name="q"][data-testid="search"]`, typed, false)
	p.waitTable("the users matching "+typed, func(s tablePage) bool {
		return sameIDs(s.IDs, want) && s.query("q") == typed
	})

	lp.SortBy, lp.SortOrder = db.SortName, db.OrderAsc
	want, _ = p.expectPage(lp)
	p.click(`th a[data-testid="sort-name"]`)
	p.waitTable("the matches sorted by name", func(s tablePage) bool {
		return sameIDs(s.IDs, want) && s.Sorted["name"] == "ascending"
	})
	p.screenshot("page1")

	lp.Offset = 20
	page2, _ := p.expectPage(lp)
	p.click(`a[data-testid="page-next"]`)
	page2State := p.waitTable("page 2", func(s tablePage) bool {
		return sameIDs(s.IDs, page2) && s.Current == "2"
	})
	p.screenshot("page2")

	lp.Offset = 40
	page3, _ := p.expectPage(lp)
	p.click(`a[data-testid="page-3"]`)
	s := p.waitTable("page 3", func(s tablePage) bool {
		return sameIDs(s.IDs, page3) && s.Current == "3"
	})
	if s.query("page") != "3" || s.query("q") != typed || s.query("sort") != "name" {
		t.Errorf("the URL of page 3 is %s; want page=3 with the search and the sort kept", s.URL)
	}
	rangeWant := regexp.MustCompile(`\b41\s*[–—-]\s*60 of ` + strconv.FormatInt(total, 10) + `\b`)
	p.waitTable("the range 41–60 of "+strconv.FormatInt(total, 10), func(s tablePage) bool {
		return rangeWant.MatchString(s.Range)
	})
	p.screenshot("page3")

	// Back: page 2 again, with the search and the sort as they were.
	p.back()
	s = p.waitTable("page 2 again after back", func(s tablePage) bool {
		return sameIDs(s.IDs, page2) && s.Current == "2" && s.query("page") == "2"
	})
	checkSameState(t, "after back", s, page2State)
	p.screenshot("back_page2")

	// Reload: a full page load renders exactly the same page 2.
	p.setMarker(7)
	p.reload()
	s = p.waitTable("page 2 after reload", func(s tablePage) bool {
		return s.Marker == nil && sameIDs(s.IDs, page2) && s.Current == "2"
	})
	checkSameState(t, "after reload", s, page2State)
	p.screenshot("reload_page2")

	// Previous: page 1 of the same search and sort.
	lp.Offset = 0
	page1, _ := p.expectPage(lp)
	p.click(`a[data-testid="page-prev"]`)
	s = p.waitTable("page 1 after Previous", func(s tablePage) bool {
		return sameIDs(s.IDs, page1) && s.Current == "1"
	})
	if s.query("q") != typed || s.query("sort") != "name" || (s.query("page") != "" && s.query("page") != "1") {
		t.Errorf("the URL after Previous is %s; want page 1 with the search and the sort kept", s.URL)
	}
	p.noPageErrors()
}

// checkSameState compares what a person sees of the table's state.
func checkSameState(t *testing.T, when string, got, want tablePage) {
	t.Helper()
	if got.URL != want.URL {
		t.Errorf("%s the URL is %s, want %s", when, got.URL, want.URL)
	}
	if got.Search == nil || want.Search == nil || *got.Search != *want.Search {
		t.Errorf("%s the search box shows %v, want %v", when, deref(got.Search), deref(want.Search))
	}
	if got.Sorted["name"] != "ascending" {
		t.Errorf("%s the headers say %v, want name ascending", when, got.Sorted)
	}
	// The "of N" part may arrive a moment after the rows.
	if r1, r2 := rangeStart(got.Range), rangeStart(want.Range); r1 != r2 {
		t.Errorf("%s the range reads %q, want %q", when, got.Range, want.Range)
	}
}

// rangeStart is the "41–60" of a range "41–60 of 80".
func rangeStart(r string) string {
	if i := strings.Index(r, " of "); i >= 0 {
		r = r[:i]
	}
	return strings.TrimSpace(r)
}

func deref(s *string) string {
	if s == nil {
		return "(no search box)"
	}
	return *s
}

// TestBrowserWithoutJavaScript: with JavaScript off the filter form, the sort
// headers and the page links still work, as plain GET requests.
func TestBrowserWithoutJavaScript(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "nojs", withoutJavaScript)
	p.signIn(adminEmail)
	p.open("/users")
	first, _ := p.expectPage(db.ListParams{})
	p.waitTable("the users table", func(s tablePage) bool { return sameIDs(s.IDs, first) })
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.htmx !== "undefined"`)); err != nil || ran {
		t.Fatalf("JavaScript should be off in this tab (htmx loaded: %v, %v)", ran, err)
	}

	const typed = "example"
	lp := db.ListParams{Filter: db.Filter{Query: typed}}
	want, _ := p.expectPage(lp)
	p.typeText(`input[name="q"][data-testid="search"]`, typed, false)
	p.click(`form[data-testid="filters"] [type="submit"]`)
	s := p.waitTable("the users matching "+typed+" after submitting the form", func(s tablePage) bool {
		return s.query("q") == typed && sameIDs(s.IDs, want)
	})
	if s.Search == nil || *s.Search != typed {
		t.Errorf("the search box shows %v after the search, want %q", deref(s.Search), typed)
	}
	p.screenshot("filtered")

	lp.SortBy, lp.SortOrder = db.SortEmail, db.OrderAsc
	want, _ = p.expectPage(lp)
	p.click(`th a[data-testid="sort-email"]`)
	p.waitTable("the matches sorted by email", func(s tablePage) bool {
		return sameIDs(s.IDs, want) && s.Sorted["email"] == "ascending" && s.query("q") == typed
	})

	lp.Offset = 20
	want, _ = p.expectPage(lp)
	p.click(`a[data-testid="page-next"]`)
	p.waitTable("page 2 of the sorted matches", func(s tablePage) bool {
		return sameIDs(s.IDs, want) && s.Current == "2" && s.query("q") == typed && s.query("sort") == "email"
	})
	p.screenshot("page2")

	p.click(`button[data-testid="logout"]`)
	p.waitLogin("the login page after signing out", func(s loginPage) bool {
		return s.LoginForm && s.CurrentUser == ""
	})
}

// TestBrowserSignOut: the logout button ends the session; the users page
// asks for a sign-in again, also in a second tab that was left open.
func TestBrowserSignOut(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "signout")
	p.signIn(adminEmail)
	p.open("/users")
	p.waitTable("the users table", func(s tablePage) bool { return len(s.IDs) > 0 })

	// A second tab of the same browser, sharing the session cookie.
	other, cancel := chromedp.NewContext(p.tab)
	defer cancel()
	octx, ocancel := context.WithTimeout(other, testTimeout)
	defer ocancel()
	if err := chromedp.Do(other); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	if err := chromedp.Do(octx, chromedp.Navigate(p.base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-testid="user-row"]`))); err != nil {
		t.Fatalf("open /users in a second tab: %v", err)
	}
	stale := &panel{t: t, ctx: octx, tab: other, base: p.base}
	p.front()

	p.screenshot("users")
	p.click(`button[data-testid="logout"]`)
	s := p.waitLogin("the login page after signing out", func(s loginPage) bool {
		return s.LoginForm && s.CurrentUser == ""
	})
	if s.path() != "/login" {
		t.Errorf("signing out landed on %s, want /login", s.URL)
	}
	p.screenshot("signed_out")

	p.open("/users")
	after := p.waitFor("the login page for /users after signing out", func(s pageState) bool { return s.LoginForm })
	if after.path() != "/login" || len(after.IDs) != 0 {
		t.Errorf("after signing out /users showed:\n%s\nwant the login page", after)
	}

	// The tab left open on /users: its next search must lead to the login
	// page, not paste the login form into the table.
	stale.front()
	stale.typeText(`input[name="q"][data-testid="search"]`, "Zep", false)
	stale.waitFor("the stale tab to go to the login page", func(s pageState) bool {
		return s.path() == "/login" && s.LoginForm && !s.HasTable
	})
	p.noPageErrors()
}

// checkNarrowScreen narrows the window to a phone's width (390 px) and
// reloads: the same rows come back, the search box is fully on screen, and
// the page itself does not scroll sideways (a wide table may scroll inside
// its own box).
func checkNarrowScreen(p *panel, want []string) {
	t := p.t
	t.Helper()
	p.do("narrow the window to 390 px", chromedp.EmulateViewport(390, 844))
	p.reload()
	p.waitTable("the same users at 390 px", func(s tablePage) bool { return sameIDs(s.IDs, want) })
	p.screenshot("users_390")

	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	type layout struct {
		PageWidth   int  `json:"pageWidth"`
		Viewport    int  `json:"viewport"`
		SearchShown bool `json:"searchShown"`
	}
	l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](`(() => {
		const s = document.querySelector('input[name="q"][data-testid="search"]');
		const r = s ? s.getBoundingClientRect() : null;
		return {
			pageWidth: document.documentElement.scrollWidth,
			viewport: window.innerWidth,
			searchShown: !!r && r.width > 0 && r.left >= 0 && r.right <= window.innerWidth,
		};
	})()`))
	if err != nil {
		t.Fatalf("measure the page at 390 px: %v", err)
	}
	if l.PageWidth > l.Viewport {
		t.Errorf("at 390 px the page is %d px wide and scrolls sideways; wide content should scroll in its own box", l.PageWidth)
	}
	if !l.SearchShown {
		t.Errorf("at 390 px the search box is not fully on screen")
	}
}
