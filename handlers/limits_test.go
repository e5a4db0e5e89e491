package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

// TestLimits: every form carries db's limits in its maxlength/minlength, and
// a field over its limit sent anyway (a script, an old page) gets a clear
// 422 message and changes nothing.
func TestLimits(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	admin := p.signedIn(adminEmail)
	target := p.addUser("limits-target@panel.test", "Lima Target")

	t.Run("Attributes", func(t *testing.T) {
		checks := []struct {
			path, sel, attr string
			want            int
		}{
			{"/users/new", `form[data-testid="create-user"] input[name="email"]`, "maxlength", db.MaxEmailLen},
			{"/users/new", `form[data-testid="create-user"] input[name="name"]`, "maxlength", db.MaxNameLen},
			{"/users/new", `form[data-testid="create-user"] input[name="password"]`, "maxlength", db.MaxPasswordBytes},
			{"/users/new", `form[data-testid="create-user"] input[name="password"]`, "minlength", db.MinPasswordLen},
			{"/users/" + target, `form[data-testid="edit-user"] input[name="name"]`, "maxlength", db.MaxNameLen},
			{"/users/" + target, `form[data-testid="ban-form"] input[name="reason"]`, "maxlength", db.MaxBanReasonLen},
			{"/users", `input[name="q"]`, "maxlength", db.MaxSearchLen},
		}
		for _, c := range checks {
			pg := admin.get(c.path)
			wantStatus(t, "GET "+c.path, pg, http.StatusOK)
			if got := pg.doc.Find(c.sel).First().AttrOr(c.attr, ""); got != strconv.Itoa(c.want) {
				t.Errorf("%s %s %s = %q, want %d", c.path, c.sel, c.attr, got, c.want)
			}
		}
	})

	t.Run("OverTheLimit", func(t *testing.T) {
		long := func(n int) string { return strings.Repeat("x", n+1) }
		cases := []struct {
			name, path string
			form       url.Values
			errSel     string
			msg        string
		}{
			{"CreateName", "/users", url.Values{"email": {"nia@panel.test"}, "name": {long(db.MaxNameLen)}, "password": {"a-long-enough-pass"}},
				`[data-testid="name-error"]`, fmt.Sprintf("Name is longer than %d characters.", db.MaxNameLen)},
			{"CreateEmail", "/users", url.Values{"email": {long(db.MaxEmailLen) + "@panel.test"}, "name": {"Nia"}, "password": {"a-long-enough-pass"}},
				`[data-testid="email-error"]`, fmt.Sprintf("Email is longer than %d characters.", db.MaxEmailLen)},
			{"CreatePassword", "/users", url.Values{"email": {"nia@panel.test"}, "name": {"Nia"}, "password": {long(db.MaxPasswordBytes)}},
				`[data-testid="password-error"]`, fmt.Sprintf("Password must be at most %d bytes.", db.MaxPasswordBytes)},
			{"EditName", "/users/" + target, url.Values{"email": {"limits-target@panel.test"}, "name": {long(100_000)}},
				`[data-testid="name-error"]`, fmt.Sprintf("Name is longer than %d characters.", db.MaxNameLen)},
			{"BanReason", "/users/" + target + "/ban", url.Values{"reason": {long(100_000)}, "duration": {"1h"}},
				`[data-testid="ban-error"]`, fmt.Sprintf("Reason is longer than %d characters.", db.MaxBanReasonLen)},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				users, before, audits := p.userCount(), p.userState(target), p.auditRowCount()
				pg := admin.post(c.path, c.form)
				wantStatus(t, "POST "+c.path, pg, http.StatusUnprocessableEntity)
				if got := pg.text(c.errSel); got != c.msg {
					t.Errorf("message %q, want %q", got, c.msg)
				}
				if p.userCount() != users || p.userState(target) != before || p.auditRowCount() != audits {
					t.Error("a refused form changed something")
				}
			})
		}
	})

	// A megabyte never reaches the handler: the body limit answers 413.
	t.Run("Megabyte", func(t *testing.T) {
		before := p.userState(target)
		pg := admin.post("/users/"+target+"/ban", url.Values{"reason": {strings.Repeat("x", 1<<20)}, "duration": {"1h"}})
		wantStatus(t, "POST a megabyte", pg, http.StatusRequestEntityTooLarge)
		if p.userState(target) != before {
			t.Error("a refused megabyte changed something")
		}
	})
}

// TestAuditFilterListsEveryAction: the audit page's action filter offers
// every action db writes (db.AuditActions, the one block in db/audit.go).
func TestAuditFilterListsEveryAction(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	pg := p.signedIn(adminEmail).get("/audit")
	wantStatus(t, "GET /audit", pg, http.StatusOK)
	offered := map[string]bool{}
	pg.doc.Find(`select[name="action"] option`).Each(func(_ int, o *goquery.Selection) {
		offered[o.AttrOr("value", "")] = true
	})
	for _, a := range db.AuditActions {
		if !offered[a] {
			t.Errorf("the action filter does not offer %q", a)
		}
	}
}
