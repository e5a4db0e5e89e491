package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

// formFields reads the hidden fields of the form sel, as a browser would
// send them.
func formFields(pg page, sel string) url.Values {
	v := url.Values{}
	pg.doc.Find(sel + ` input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Add(name, val)
	})
	return v
}

// rowIDs are the values of the table's row checkboxes, in order.
func rowIDs(pg page) []string {
	var ids []string
	pg.doc.Find(`input[data-testid="row-select"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("value")
		ids = append(ids, id)
	})
	return ids
}

// TestBulkBanFromTheTable is a support agent's spam wave, without
// JavaScript: filter the table, preview "ban all matching", see that the
// admin among them is skipped, give a reason and confirm, and land back on
// the same table with a flash that says what happened.
func TestBulkBanFromTheTable(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	for i := 0; i < 25; i++ {
		p.addUser(fmt.Sprintf("spam%02d@wave.test", i), "Spam Bot")
	}
	adminInWave := p.addUser("admin@wave.test", "Wave Admin", "admin")
	support := p.signedIn(supportEmail)

	table := support.get("/users?q=wave.test&sort=email&order=asc")
	wantStatus(t, "GET /users", table, http.StatusOK)
	if !table.has(`form[data-testid="bulk-form"][method="post"][action="/users/bulk"]`) {
		t.Fatal("no bulk form on the table")
	}
	var actions []string
	table.doc.Find(`select[data-testid="bulk-action"] option`).Each(func(_ int, s *goquery.Selection) {
		if v, _ := s.Attr("value"); v != "" {
			actions = append(actions, v)
		}
	})
	if fmt.Sprint(actions) != "[ban unban revoke_sessions]" {
		t.Errorf("support is offered %v, want ban, unban and sign out only", actions)
	}
	if got := table.text(`button[data-testid="bulk-all"]`); !strings.Contains(got, "all matching") {
		t.Errorf("all-matching button %q", got)
	}

	form := formFields(table, `form[data-testid="bulk-form"]`)
	form.Set("action", "ban")
	form.Set("scope", "filter")
	preview := support.post("/users/bulk", form)
	wantStatus(t, "preview", preview, http.StatusOK)
	if got := preview.text(`[data-testid="bulk-heading"]`); got != "This will ban 25 users" {
		t.Errorf("heading %q", got)
	}
	if n := preview.doc.Find(`[data-testid="bulk-sample"] li`).Length(); n != db.BulkSampleSize {
		t.Errorf("sample of %d users, want %d", n, db.BulkSampleSize)
	}
	skips := preview.doc.Find(`tr[data-testid="bulk-skip"]`)
	if skips.Length() != 1 || !strings.Contains(skips.Text(), "admin@wave.test") ||
		!strings.Contains(skips.Text(), "only an admin may act on staff") {
		t.Errorf("skipped rows %q", skips.Text())
	}
	if n := countBanned(t, p); n != 1 {
		t.Fatalf("the preview changed something: %d banned", n)
	}

	confirm := formFields(preview, `form[data-testid="bulk-confirm-form"]`)
	confirm.Set("confirm", "yes")
	// A confirmation without a reason is refused on the preview page,
	// nothing done.
	refused := support.post("/users/bulk", confirm)
	wantStatus(t, "confirm without reason", refused, http.StatusUnprocessableEntity)
	if !strings.Contains(refused.text(`[data-testid="bulk-error"]`), "Reason") {
		t.Errorf("error %q", refused.text(`[data-testid="bulk-error"]`))
	}
	if n := countBanned(t, p); n != 1 {
		t.Fatalf("a refused confirmation banned %d users", n-1)
	}

	confirm.Set("reason", "Spam")
	confirm.Set("duration", "7d")
	done := support.post("/users/bulk", confirm)
	wantStatus(t, "confirm", done, http.StatusSeeOther)
	if loc := done.header.Get("Location"); loc != "/users?q=wave.test&sort=email" {
		t.Errorf("back to %q, want the same table", loc)
	}
	back := support.get(done.header.Get("Location"))
	if got := back.text(`[data-testid="flash"]`); got != "Banned 25 users for 7 days and signed them out everywhere; 1 skipped." {
		t.Errorf("flash %q", got)
	}
	if n := countBanned(t, p); n != 26 {
		t.Errorf("%d banned, want the 25 spammers and Ben", n)
	}
	var adminBanned bool
	if err := p.store.DB().Get(&adminBanned, `SELECT banned FROM users WHERE id = $1`, adminInWave); err != nil || adminBanned {
		t.Errorf("the admin in the wave was banned (%v)", err)
	}
	var bulkRows int
	if err := p.store.DB().Get(&bulkRows, `SELECT count(*) FROM audit_log WHERE action = 'users.bulk'
		AND actor_email = $1 AND details->>'reason' = 'Spam' AND details->'filter'->>'q' = 'wave.test'`, supportEmail); err != nil || bulkRows != 1 {
		t.Errorf("%d bulk audit rows (%v)", bulkRows, err)
	}
}

func countBanned(t *testing.T, p *testPanel) int {
	t.Helper()
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM users WHERE banned AND (banned_until IS NULL OR banned_until > now())`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkPageSelection: ticked rows, and the whole page by its box, as a
// browser without JavaScript sends them; admins' role actions.
func TestBulkPageSelection(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	for i := 0; i < 30; i++ {
		p.addUser(fmt.Sprintf("member%02d@club.test", i), "Member")
	}
	admin := p.signedIn(adminEmail)
	table := admin.get("/users?q=club.test&sort=email&order=asc")
	ids := rowIDs(table)
	if len(ids) != 20 {
		t.Fatalf("%d selectable rows, want 20", len(ids))
	}

	// Two ticked rows.
	form := formFields(table, `form[data-testid="bulk-form"]`)
	form.Set("action", "grant_role")
	form.Set("role", "manager")
	form["ids"] = ids[:2]
	preview := admin.post("/users/bulk", form)
	wantStatus(t, "preview", preview, http.StatusOK)
	if got := preview.text(`[data-testid="bulk-heading"]`); got != "This will grant manager to 2 users" {
		t.Errorf("heading %q", got)
	}
	confirm := formFields(preview, `form[data-testid="bulk-confirm-form"]`)
	confirm.Set("role", "manager")
	confirm.Set("confirm", "yes")
	wantStatus(t, "confirm", admin.post("/users/bulk", confirm), http.StatusSeeOther)
	var managers int
	if err := p.store.DB().Get(&managers, `SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		JOIN users u ON u.id = ur.user_id WHERE r.name = 'manager' AND u.email LIKE '%@club.test'`); err != nil || managers != 2 {
		t.Errorf("%d managers at the club (%v), want 2", managers, err)
	}

	// The page box alone selects the page's 20 rows.
	form = formFields(table, `form[data-testid="bulk-form"]`)
	form.Set("action", "revoke_sessions")
	form.Set("scope", "ids")
	form.Set("all_page", "yes")
	preview = admin.post("/users/bulk", form)
	if got := preview.text(`[data-testid="bulk-heading"]`); got != "This will sign out everywhere 20 users" {
		t.Errorf("heading %q", got)
	}

	// Nothing ticked, or no action: said on the preview page, nothing done.
	form = formFields(table, `form[data-testid="bulk-form"]`)
	form.Set("action", "delete")
	pg := admin.post("/users/bulk", form)
	wantStatus(t, "no selection", pg, http.StatusUnprocessableEntity)
	if !strings.Contains(pg.text(`[data-testid="bulk-error"]`), "select at least one user") {
		t.Errorf("error %q", pg.text(`[data-testid="bulk-error"]`))
	}
	form.Set("action", "")
	form["ids"] = ids[:1]
	wantStatus(t, "no action", admin.post("/users/bulk", form), http.StatusUnprocessableEntity)
}

// TestBulkForbidden: the server checks each action against the role,
// whatever the form offered.
func TestBulkForbidden(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	target := p.addUser("target@bulk.test", "Target")
	for _, c := range []struct {
		email, action string
		want          int
	}{
		{supportEmail, "delete", http.StatusForbidden},
		{supportEmail, "grant_role", http.StatusForbidden},
		{managerEmail, "ban", http.StatusForbidden},
	} {
		b := p.signedIn(c.email)
		pg := b.post("/users/bulk", url.Values{"action": {c.action}, "role": {"admin"}, "ids": {target}, "confirm": {"yes"}})
		wantStatus(t, c.email+" "+c.action, pg, c.want)
	}
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action <> 'user.login'`); err != nil || n != 0 {
		t.Errorf("%d audit rows after refused bulk actions (%v)", n, err)
	}
	// Without the CSRF token nothing happens either.
	b := p.signedIn(adminEmail)
	pg := b.post("/users/bulk", url.Values{"_csrf": {""}, "action": {"delete"}, "ids": {target, s.plain}, "confirm": {"yes"}})
	wantStatus(t, "no CSRF", pg, http.StatusForbidden)
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM users WHERE id = $1`, target); err != nil || n != 1 {
		t.Error("a bulk delete without CSRF token deleted the user")
	}
	// Anonymous: to the sign-in page.
	pg = p.browser().post("/users/bulk", url.Values{"action": {"delete"}, "ids": {target}})
	wantStatus(t, "anonymous", pg, http.StatusSeeOther)
}

// TestRowActions: ban, unban and sign out from a table row: without
// JavaScript back to the same table with the message, with htmx the row in
// place and the message out of band; support sees no actions on staff.
func TestRowActions(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	target := p.addUser("row.target@panel.test", "Row Target")
	support := p.signedIn(supportEmail)
	tableURL := "/users?q=panel.test&sort=email&order=asc&per_page=50"
	table := support.get(tableURL)
	wantStatus(t, "table", table, http.StatusOK)

	row := func(pg page, id string) *goquery.Selection { return pg.doc.Find(`tr#row-` + id) }
	// The row's ban menu fetches its form when it opens (htmx); without
	// JavaScript its link leads to the user page.
	banForm := func(b *browser, pg page, id string) page {
		t.Helper()
		menu := row(pg, id).Find(`details.row-menu`)
		src, ok := menu.Attr("hx-get")
		if !ok {
			t.Fatalf("no ban menu on the row of %s", id)
		}
		if href, _ := menu.Find(`a[data-testid="row-ban-page"]`).Attr("href"); href != "/users/"+id+"/ban" {
			t.Errorf("the menu's link without JavaScript is %q", href)
		}
		f := b.get(src, "HX-Request", "true")
		wantStatus(t, "row ban form", f, http.StatusOK)
		if f.has(`nav[data-testid="nav"]`) || f.doc.Find(`form.row-ban[action="/users/`+id+`/ban"]`).Length() != 1 {
			t.Fatalf("want the row's ban form only:\n%s", f.body)
		}
		return f
	}
	if row(table, target).Find(`form.row-ban`).Length() != 0 {
		t.Error("the table carries the row's ban form before its menu opens")
	}
	if row(table, s.admin).Find(`form, details`).Length() != 0 {
		t.Error("support is offered actions on an admin's row")
	}
	if pg := support.get("/users/"+s.admin+"/ban?row=1&back=%2Fusers", "HX-Request", "true"); pg.status != http.StatusForbidden || pg.has(`form.row-ban`) {
		t.Errorf("support fetched a ban form for an admin (status %d)", pg.status)
	}
	if pg := support.get("/users/" + target + "/ban"); pg.status != http.StatusSeeOther || pg.header.Get("Location") != "/users/"+target {
		t.Errorf("the ban address without htmx: status %d to %q, want the user page", pg.status, pg.header.Get("Location"))
	}

	// The row's form posted as a plain form: back to the same table.
	form := formFields(banForm(support, table, target), `form.row-ban`)
	form.Set("reason", "Chargeback")
	form.Set("duration", "7d")
	pg := support.post("/users/"+target+"/ban", form)
	wantStatus(t, "row ban", pg, http.StatusSeeOther)
	if loc := pg.header.Get("Location"); loc != "/users?order=asc&per_page=50&q=panel.test&sort=email" && loc != "/users?per_page=50&q=panel.test&sort=email" {
		t.Errorf("back to %q, want the same table", loc)
	}
	back := support.get(pg.header.Get("Location"))
	if got := back.text(`[data-testid="flash"]`); got != "Banned row.target@panel.test for 7 days and signed them out everywhere." {
		t.Errorf("flash %q", got)
	}
	if !row(back, target).Find(`[data-testid="row-unban"]`).Is("button") {
		t.Error("the banned row offers no unban")
	}

	// With htmx: the row comes back in place, the flash out of band.
	form = formFields(back, `tr#row-`+target+` form`)
	pg = inTable(t, support.post("/users/"+target+"/unban", form, "HX-Request", "true"))
	wantStatus(t, "htmx row unban", pg, http.StatusOK)
	if pg.has(`nav[data-testid="nav"]`) || pg.doc.Find(`tr#row-`+target).Length() != 1 {
		t.Fatalf("want the row only:\n%s", pg.body)
	}
	if pg.doc.Find(`tr#row-`+target+` [data-testid="user-banned"] .badge`).Length() != 0 {
		t.Error("the row still shows the ban")
	}
	if oob, _ := pg.doc.Find(`#flashes`).Attr("hx-swap-oob"); oob != "true" {
		t.Error("the flash is not sent out of band")
	}
	if got := pg.text(`#flashes [data-testid="flash"]`); got != "Unbanned row.target@panel.test." {
		t.Errorf("flash %q", got)
	}
	if support.get(tableURL).has(`[data-testid="flash"]`) {
		t.Error("the htmx flash was also kept for the next page")
	}

	// A refused row ban (no reason) says why, and changes nothing.
	form = formFields(banForm(support, support.get(tableURL), target), `form.row-ban`)
	form.Set("duration", "1h") // the select's first option, as a browser sends it
	pg = inTable(t, support.post("/users/"+target+"/ban", form, "HX-Request", "true"))
	wantStatus(t, "refused row ban", pg, http.StatusOK)
	if got := pg.text(`#flashes .flash-error`); !strings.Contains(got, "Reason") {
		t.Errorf("error flash %q", got)
	}
	var banned bool
	if err := p.store.DB().Get(&banned, `SELECT banned FROM users WHERE id = $1`, target); err != nil || banned {
		t.Errorf("a refused ban banned the user (%v)", err)
	}

	// Managers have no row actions; admins have them on staff too.
	if p.signedIn(managerEmail).get(tableURL).status != http.StatusForbidden {
		t.Error("a manager reads the user table")
	}
	admin := p.signedIn(adminEmail)
	banForm(admin, admin.get(tableURL), s.support)
}

// inTable parses a row fragment as htmx does, inside a table: an HTML parser
// drops a <tr> found anywhere else.
func inTable(t *testing.T, pg page) page {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + pg.body + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	pg.doc = doc
	return pg
}
