package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

var roleNamesForTest = []string{"admin", "manager", "support"}

func TestParseUserListQuery(t *testing.T) {
	t.Parallel()
	def := userListQuery{Sort: "created_at", Order: "desc", Page: 1, PerPage: 20}
	with := func(f func(*userListQuery)) userListQuery { q := def; f(&q); return q }
	long := strings.Repeat("é", 250)
	cases := []struct {
		name string
		raw  string
		want userListQuery
	}{
		{"Empty", "", def},
		{"Everything", "q=ada&role=support&banned=yes&verified=no&sort=email&order=desc&page=3&per_page=50",
			userListQuery{Q: "ada", Role: "support", Banned: "yes", Verified: "no", Sort: "email", Order: "desc", Page: 3, PerPage: 50}},
		{"QueryTrimmed", "q=%20%20ada%20", with(func(q *userListQuery) { q.Q = "ada" })},
		{"QueryTooLongIsCut", "q=" + url.QueryEscape(long), with(func(q *userListQuery) { q.Q = strings.Repeat("é", 200) })},
		{"QueryInvalidUTF8", "q=a%FFb%00c", with(func(q *userListQuery) { q.Q = "abc" })},
		{"UnknownRoleIgnored", "role=superuser", def},
		{"RoleTrimmed", "role=%20manager", with(func(q *userListQuery) { q.Role = "manager" })},
		{"YesNoAnyCase", "banned=YES&verified=No", with(func(q *userListQuery) { q.Banned = "yes"; q.Verified = "no" })},
		{"YesNoUnknown", "banned=maybe&verified=1", def},
		{"UnknownSort", "sort=password_hash", def},
		{"SortGetsItsOrder", "sort=name", with(func(q *userListQuery) { q.Sort = "name"; q.Order = "asc" })},
		{"UnknownOrder", "sort=last_login_at&order=sideways", with(func(q *userListQuery) { q.Sort = "last_login_at" })},
		{"OrderAlone", "order=asc", with(func(q *userListQuery) { q.Order = "asc" })},
		{"PageMalformed", "page=abc", def},
		{"PageZero", "page=0", def},
		{"PageNegative", "page=-4", def},
		{"PageHuge", "page=99999999999999999999", def},
		{"PageVeryLarge", "page=123456789", with(func(q *userListQuery) { q.Page = maxPage })},
		{"PerPageOffered", "per_page=100", with(func(q *userListQuery) { q.PerPage = 100 })},
		{"PerPageNotOffered", "per_page=33", def},
		{"PerPageTooBig", "per_page=100000", def},
		{"PerPageMalformed", "per_page=ten", def},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			got := parseUserListQuery(v, roleNamesForTest)
			if got != c.want {
				t.Errorf("parse %q:\n got %+v\nwant %+v", c.raw, got, c.want)
			}
			// The canonical URL parses back to the same state.
			back, _ := url.ParseQuery(got.values().Encode())
			if again := parseUserListQuery(back, roleNamesForTest); again != got {
				t.Errorf("round trip of %q: %+v", got.url("/users"), again)
			}
		})
	}
}

func TestCanonicalURL(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                               "/users",
		"sort=created_at&order=desc":     "/users",
		"page=1&per_page=20":             "/users",
		"sort=email&order=asc":           "/users?sort=email",
		"sort=email&order=desc&page=2":   "/users?order=desc&page=2&sort=email",
		"q=a+b&banned=no&per_page=100":   "/users?banned=no&per_page=100&q=a+b",
		"role=nope&verified=maybe&q=%20": "/users",
	}
	for raw, want := range cases {
		v, _ := url.ParseQuery(raw)
		if got := parseUserListQuery(v, roleNamesForTest).url("/users"); got != want {
			t.Errorf("%q: %q, want %q", raw, got, want)
		}
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	q := userListQuery{Sort: "created_at", Order: "desc", PerPage: 20}
	labels := func(p struct {
		page  int
		total int64
		full  bool
	}) string {
		q.Page = p.page
		pg := pagination(q, p.total, p.full)
		var out []string
		if pg.PrevURL != "" {
			out = append(out, "prev")
		}
		for _, it := range pg.Items {
			switch {
			case it.Gap:
				out = append(out, "…")
			case it.Current:
				out = append(out, "["+strconv.Itoa(it.N)+"]")
			default:
				out = append(out, strconv.Itoa(it.N))
			}
		}
		if pg.NextURL != "" {
			out = append(out, "next")
		}
		return strings.Join(out, " ")
	}
	type in = struct {
		page  int
		total int64
		full  bool
	}
	cases := []struct {
		in   in
		want string
	}{
		{in{1, 0, false}, "[1]"},
		{in{1, 20, true}, "[1]"},
		{in{1, 21, true}, "[1] 2 next"},
		{in{1, 1234567, true}, "[1] 2 3 … 61729 next"},
		{in{3, 1234567, true}, "prev 1 2 [3] 4 5 … 61729 next"},
		{in{10, 1234567, true}, "prev 1 … 8 9 [10] 11 12 … 61729 next"},
		{in{61729, 1234567, false}, "prev 1 … 61727 61728 [61729]"},
		// Without a total: the pages up to here, and the next one when
		// this one is full.
		{in{1, -1, true}, "[1] 2 next"},
		{in{1, -1, false}, "[1]"},
		{in{6, -1, true}, "prev 1 … 4 5 [6] 7 next"},
		{in{6, -1, false}, "prev 1 … 4 5 [6]"},
	}
	for _, c := range cases {
		if got := labels(c.in); got != c.want {
			t.Errorf("page %d of total %d (full %v): %q, want %q", c.in.page, c.in.total, c.in.full, got, c.want)
		}
	}
}

// TestUsersTableMatchesStore checks every filter, sort and paging
// combination against db.ListUsers with the same parameters.
func TestUsersTableMatchesStore(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(130)
	b := p.signedIn(supportEmail)
	ctx := context.Background()

	yes, no := true, false
	filters := []struct {
		raw string
		f   db.Filter
	}{
		{"", db.Filter{}},
		{"q=alice", db.Filter{Query: "alice"}},
		{"q=ALICE+north", db.Filter{Query: "ALICE north"}},
		{"q=%25", db.Filter{Query: "%"}},
		{"q=_x%40", db.Filter{Query: "_x@"}},
		{"q=%C3%A9mile", db.Filter{Query: "émile"}},
		{"q=no-such-user", db.Filter{Query: "no-such-user"}},
		{"role=support", db.Filter{Role: "support"}},
		{"role=admin", db.Filter{Role: "admin"}},
		{"banned=yes", db.Filter{Banned: &yes}},
		{"banned=no", db.Filter{Banned: &no}},
		{"verified=yes", db.Filter{Verified: &yes}},
		{"verified=no", db.Filter{Verified: &no}},
		{"banned=yes&verified=no", db.Filter{Banned: &yes, Verified: &no}},
		{"q=member&role=support&banned=no&verified=yes", db.Filter{Query: "member", Role: "support", Banned: &no, Verified: &yes}},
	}
	sorts := []struct{ sort, order string }{
		{"", ""}, {"created_at", "asc"}, {"email", ""}, {"email", "desc"},
		{"name", "asc"}, {"name", "desc"}, {"last_login_at", "desc"}, {"last_login_at", "asc"},
	}
	pagings := []struct{ page, perPage int }{{2, 20}, {7, 20}, {2, 50}, {1, 100}, {9999, 20}}

	check := func(fi, si int, page, perPage int) {
		f, srt := filters[fi], sorts[si]
		total, err := p.store.CountUsers(ctx, f.f)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := url.ParseQuery(f.raw)
		if srt.sort != "" {
			v.Set("sort", srt.sort)
		}
		if srt.order != "" {
			v.Set("order", srt.order)
		}
		v.Set("page", strconv.Itoa(page))
		v.Set("per_page", strconv.Itoa(perPage))
		path := "/users?" + v.Encode()
		// A page past the end shows the last page.
		page = min(page, lastPage(total, perPage))
		want, err := p.store.ListUsers(ctx, db.ListParams{Filter: f.f, SortBy: srt.sort, SortOrder: srt.order,
			Limit: perPage, Offset: (page - 1) * perPage})
		if err != nil {
			t.Fatal(err)
		}
		pg := b.get(path)
		wantStatus(t, path, pg, http.StatusOK)
		checkTable(t, path, pg, want, page, total)
	}
	// Every filter with every sort, on the first page; then every paging
	// with a few filters and sorts, so that the test stays quick.
	for fi := range filters {
		for si := range sorts {
			check(fi, si, 1, 20)
		}
	}
	for _, fi := range []int{0, 1, 7, 10} {
		for _, si := range []int{0, 3, 7} {
			for _, pp := range pagings {
				check(fi, si, pp.page, pp.perPage)
			}
		}
	}
}

// checkTable compares the rendered table with the db's answer.
func checkTable(t *testing.T, path string, pg page, want db.ListResult, page int, total int64) {
	t.Helper()
	if got := pg.emails(); !slices.Equal(got, emailsOf(want.Users)) {
		t.Errorf("%s: rows\n got %v\nwant %v", path, got, emailsOf(want.Users))
		return
	}
	if len(want.Users) == 0 {
		if !pg.has(`[data-testid="empty"]`) {
			t.Errorf("%s: no empty state", path)
		}
		return
	}
	if got := pg.text(`[data-testid="page-current"]`); got != strconv.Itoa(page) {
		t.Errorf("%s: current page %q, want %d", path, got, page)
	}
	from, to := want.Offset+1, want.Offset+len(want.Users)
	rng := pg.text(`[data-testid="range"]`)
	if !strings.HasPrefix(rng, fmt.Sprintf("%d–%d of", from, to)) {
		t.Errorf("%s: range %q, want it to start %d–%d", path, rng, from, to)
	}
	// The total is on the page, or arrives from /users/count.
	if n := pg.doc.Find(`[data-testid="total"]`); n.Length() > 0 {
		if got := strings.ReplaceAll(n.Text(), ",", ""); got != strconv.FormatInt(total, 10) {
			t.Errorf("%s: total %q, want %d", path, got, total)
		}
	} else if _, ok := pg.doc.Find(`#users-total[hx-get^="/users/count"]`).Attr("hx-get"); !ok {
		t.Errorf("%s: neither a total nor a deferred count", path)
	}
	// Each row links to the user's page.
	pg.doc.Find(`tr[data-testid="user-row"]`).Each(func(i int, s *goquery.Selection) {
		href, _ := s.Find(`td[data-testid="user-email"] a`).Attr("href")
		if href != "/users/"+want.Users[i].ID {
			t.Errorf("%s: row %d links to %q", path, i, href)
		}
		if got := strings.TrimSpace(s.Find(`td[data-testid="user-name"]`).Text()); got != want.Users[i].Name && !(got == "—" && want.Users[i].Name == "") {
			t.Errorf("%s: row %d name %q, want %q", path, i, got, want.Users[i].Name)
		}
	})
	// The sorted column says so, and only that one.
	pg.doc.Find(`th`).Each(func(_ int, th *goquery.Selection) {
		a := th.Find(`a.sort`)
		if a.Length() == 0 {
			if _, ok := th.Attr("aria-sort"); ok {
				t.Errorf("%s: unsortable column has aria-sort", path)
			}
			return
		}
		key := strings.TrimPrefix(a.AttrOr("data-testid", ""), "sort-")
		aria, has := th.Attr("aria-sort")
		q, _ := url.Parse(path)
		state := parseUserListQuery(q.Query(), roleNamesForTest)
		switch {
		case key == state.Sort && state.Order == "asc" && aria != "ascending",
			key == state.Sort && state.Order == "desc" && aria != "descending",
			key != state.Sort && has:
			t.Errorf("%s: column %s has aria-sort=%q (has=%v)", path, key, aria, has)
		}
	})
}

func TestUsersTableLinksKeepState(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(130)
	b := p.signedIn(adminEmail)

	pg := b.get("/users?banned=no&verified=yes&sort=name&page=2&per_page=20")
	wantStatus(t, "GET", pg, http.StatusOK)
	links := map[string]string{
		"sort-name":       "/users?banned=no&order=desc&sort=name&verified=yes",
		"sort-email":      "/users?banned=no&sort=email&verified=yes",
		"sort-created_at": "/users?banned=no&verified=yes",
		"page-prev":       "/users?banned=no&sort=name&verified=yes",
		"page-next":       "/users?banned=no&page=3&sort=name&verified=yes",
		"page-1":          "/users?banned=no&sort=name&verified=yes",
		"page-3":          "/users?banned=no&page=3&sort=name&verified=yes",
	}
	for id, want := range links {
		a := pg.doc.Find(`a[data-testid="` + id + `"]`)
		href, _ := a.Attr("href")
		hx, _ := a.Attr("hx-get")
		push, _ := a.Attr("hx-push-url")
		target, _ := a.Attr("hx-target")
		if href != want || hx != want || push != "true" || target != "#users-table" {
			t.Errorf("%s: href %q hx-get %q push %q target %q, want %q", id, href, hx, push, target, want)
		}
	}
	// The filter form is a plain GET form that keeps the sort in hidden
	// fields, and its controls reload the table with htmx.
	form := pg.doc.Find(`form[data-testid="filters"]`)
	if m, _ := form.Attr("method"); m != "get" || form.AttrOr("action", "") != "/users" {
		t.Errorf("filter form: method %q action %q", m, form.AttrOr("action", ""))
	}
	if v := form.Find(`input[type="hidden"][name="sort"]`).AttrOr("value", ""); v != "name" {
		t.Errorf("hidden sort %q", v)
	}
	search := form.Find(`input[name="q"][data-testid="search"][type="search"]`)
	if trig := search.AttrOr("hx-trigger", ""); trig != "input changed delay:300ms, search" {
		t.Errorf("search hx-trigger %q", trig)
	}
	for _, name := range []string{"role", "banned", "verified", "per_page"} {
		if form.Find(`select[name="`+name+`"]`).Length() != 1 {
			t.Errorf("no select %s", name)
		}
	}
	if v := form.Find(`select[name="banned"] option[selected]`).AttrOr("value", ""); v != "no" {
		t.Errorf("banned select shows %q", v)
	}
	// The submit button is in <noscript>, which an HTML parser with
	// scripting on (goquery's) reads as text.
	if ns := form.Find("noscript").Text(); !strings.Contains(ns, `<button type="submit"`) {
		t.Errorf("no submit button for use without JavaScript: %q", ns)
	}
	if !pg.has(`[data-testid="loading"]`) || !pg.has(`[data-testid="table-error"]`) {
		t.Error("no loading indicator or error area")
	}

	// Past the end: the last page, not an error.
	pg = b.get("/users?page=999")
	wantStatus(t, "page 999", pg, http.StatusOK)
	last := lastPage(int64(130+6), 20)
	if got := pg.text(`[data-testid="page-current"]`); got != strconv.Itoa(last) {
		t.Errorf("page past the end shows page %q, want %d", got, last)
	}
	pg = b.get("/users?q=member&page=999")
	if got := pg.text(`[data-testid="page-current"]`); got != "7" {
		t.Errorf("search past the end shows page %q, want 7", got)
	}
	pg = b.get("/users?q=nobody-at-all&page=3")
	wantStatus(t, "empty search page 3", pg, http.StatusOK)
	if !pg.has(`[data-testid="empty"]`) {
		t.Error("no empty state")
	}
}

func TestUsersFragment(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(60)
	b := p.signedIn(supportEmail)

	path := "/users?sort=email&order=desc&page=2"
	full := b.get(path)
	frag := b.get(path, "HX-Request", "true", "HX-Current-URL", p.srv.URL+"/users")
	wantStatus(t, "full", full, http.StatusOK)
	wantStatus(t, "fragment", frag, http.StatusOK)
	for _, pg := range []page{full, frag} {
		if vary := strings.Join(pg.header.Values("Vary"), ", "); !strings.Contains(vary, "HX-Request") {
			t.Errorf("Vary %q lacks HX-Request", vary)
		}
		if pg.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", pg.header.Get("Cache-Control"))
		}
	}
	if strings.Contains(strings.ToLower(frag.body), "<html") || strings.Contains(frag.body, "<nav class=\"container\"") {
		t.Error("the fragment is a whole page")
	}
	if !strings.HasPrefix(strings.TrimSpace(frag.body), `<div id="users-table"`) {
		t.Errorf("the fragment does not start with the table: %.80s", frag.body)
	}
	if !slices.Equal(full.emails(), frag.emails()) || len(full.emails()) != 20 {
		t.Errorf("fragment rows %v differ from page rows %v", frag.emails(), full.emails())
	}
	if got := frag.header.Get("HX-Push-Url"); got != "/users?order=desc&page=2&sort=email" {
		t.Errorf("HX-Push-Url %q", got)
	}
	// The form's sort follows the table, out of band.
	if oob := frag.doc.Find(`#users-sort-state[hx-swap-oob="true"] input[name="sort"]`).AttrOr("value", ""); oob != "email" {
		t.Errorf("out-of-band sort state %q", oob)
	}
	// The browser already shows this URL: no new history entry.
	again := b.get("/users?sort=email&order=desc&page=2&q=", "HX-Request", "true",
		"HX-Current-URL", p.srv.URL+"/users?order=desc&page=2&sort=email")
	if got := again.header.Get("HX-Push-Url"); got != "false" {
		t.Errorf("HX-Push-Url for the shown URL %q, want false", got)
	}
	// A history restore rebuilds the whole page.
	restore := b.get(path, "HX-Request", "true", "HX-History-Restore-Request", "true")
	if !strings.Contains(restore.body, "<html") || !slices.Equal(restore.emails(), full.emails()) {
		t.Error("a history-restore request did not get the whole page")
	}
	if !full.has(`html body nav[data-testid="nav"]`) || !full.has(`#users-table[data-testid="users-table"]`) {
		t.Error("the full page lacks the layout or the table")
	}
}

func TestDeferredCount(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(130)
	b := p.signedIn(supportEmail)
	ctx := context.Background()

	// Without a search the total is on the page at once.
	pg := b.get("/users")
	if got := pg.text(`[data-testid="range"]`); got != "1–20 of 136" {
		t.Errorf("range %q", got)
	}
	if pg.has(`[hx-get^="/users/count"]`) {
		t.Error("an unfiltered page defers its count")
	}

	// A search renders the rows first and fetches the count separately.
	pg = b.get("/users?q=member&sort=name")
	count := pg.doc.Find(`#users-total`)
	hx := count.AttrOr("hx-get", "")
	if hx != "/users/count?q=member&sort=name" || count.AttrOr("hx-trigger", "") != "load" {
		t.Fatalf("deferred count: hx-get %q trigger %q", hx, count.AttrOr("hx-trigger", ""))
	}
	if got := pg.text(`[data-testid="range"]`); !strings.HasPrefix(got, "1–20 of") {
		t.Errorf("range %q", got)
	}
	if pg.has(`[data-testid="page-5"]`) {
		t.Error("pages beyond the next one shown before the count arrived")
	}
	want, err := p.store.CountUsers(ctx, db.Filter{Query: "member"})
	if err != nil {
		t.Fatal(err)
	}
	frag := b.get(hx, "HX-Request", "true")
	wantStatus(t, "count fragment", frag, http.StatusOK)
	if got := frag.text(`[data-testid="total"]`); got != strconv.FormatInt(want, 10) {
		t.Errorf("count %q, want %d", got, want)
	}
	oob := frag.doc.Find(`nav#users-pagination[hx-swap-oob="true"]`)
	if oob.Find(`a[data-testid="page-7"]`).AttrOr("href", "") != "/users?page=7&q=member&sort=name" {
		t.Errorf("the count's pagination lacks the last page: %s", oob.Text())
	}
	// Without JavaScript the count is a page of its own.
	plain := b.get(hx)
	wantStatus(t, "count page", plain, http.StatusOK)
	if !strings.Contains(plain.body, "<html") || plain.text(`[data-testid="total"]`) != strconv.FormatInt(want, 10) {
		t.Error("the plain count page lacks the layout or the number")
	}
	if pg.doc.Find(`#users-total noscript`).Length() == 0 {
		t.Error("no link to the count without JavaScript")
	}
	// A last, short page knows its total without counting.
	pg = b.get("/users?q=member&page=7")
	if got := pg.text(`[data-testid="total"]`); got != strconv.FormatInt(want, 10) {
		t.Errorf("last page total %q, want %d", got, want)
	}
}

func TestRowContents(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	b := p.signedIn(adminEmail)
	pg := b.get("/users?q=ben.banned")
	row := pg.doc.Find(`tr[data-testid="user-row"]`)
	if row.Length() != 1 {
		t.Fatalf("%d rows", row.Length())
	}
	cells := map[string]string{}
	row.Find("td").Each(func(_ int, td *goquery.Selection) {
		cells[td.AttrOr("data-testid", "")] = strings.Join(strings.Fields(td.Text()), " ")
	})
	want := map[string]string{
		"user-email":    bannedEmail,
		"user-name":     "Ben Banned",
		"user-roles":    "support",
		"user-verified": "Yes",
		"user-banned":   "Banned permanently",
	}
	for k, v := range want {
		if cells[k] != v {
			t.Errorf("%s: %q, want %q", k, cells[k], v)
		}
	}
	if n := row.Find("time").Length(); n != 1 {
		t.Errorf("want one time (created; never signed in), got %d", n)
	}
}
