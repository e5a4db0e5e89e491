package handlers

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

func TestParseAuditQuery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want auditQuery
	}{
		{"Empty", "", auditQuery{Page: 1}},
		{"Everything", "actor=ada&action=user.ban&target=bob&page=3", auditQuery{Actor: "ada", Action: "user.ban", Target: "bob", Page: 3}},
		{"Trimmed", "actor=%20ada%20&target=%20b", auditQuery{Actor: "ada", Target: "b", Page: 1}},
		{"UnknownAction", "action=user.drop_tables", auditQuery{Page: 1}},
		{"ExportAction", "action=users.export", auditQuery{Action: db.ActionExport, Page: 1}},
		{"PageMalformed", "page=x", auditQuery{Page: 1}},
		{"PageNegative", "page=-2", auditQuery{Page: 1}},
		{"PageHuge", "page=123456789", auditQuery{Page: maxPage}},
		{"TooLongIsCut", "actor=" + strings.Repeat("é", 300), auditQuery{Actor: strings.Repeat("é", 200), Page: 1}},
		{"DateRange", "from=2026-03-01&to=2026-03-31", auditQuery{From: "2026-03-01", To: "2026-03-31", Page: 1}},
		{"DateMalformed", "from=2026-13-01&to=yesterday", auditQuery{Page: 1}},
		{"HideSignIns", "signins=hide", auditQuery{HideSignIns: true, Page: 1}},
		{"SignInsOtherValue", "signins=show", auditQuery{Page: 1}},
		{"SeedAction", "action=users.seed", auditQuery{Action: db.ActionSeed, Page: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			if got := parseAuditQuery(v); got != c.want {
				t.Fatalf("parseAuditQuery(%q) = %+v, want %+v", c.raw, got, c.want)
			}
		})
	}
}

// auditRowsOf reads the audit table: actor, action, target and details of
// each row, in order.
func auditRowsOf(pg page) [][4]string {
	var out [][4]string
	pg.doc.Find(`table[data-testid="audit-table"] tr[data-testid="audit-row"]`).Each(func(_ int, s *goquery.Selection) {
		cell := func(id string) string {
			return strings.TrimSpace(s.Find(`[data-testid="` + id + `"]`).Text())
		}
		out = append(out, [4]string{cell("audit-actor"), cell("audit-action"), cell("audit-target"), cell("audit-details")})
	})
	return out
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	bob := p.addUser("bob.target@panel.test", "Bob Target")
	gone := p.addUser("gone.target@panel.test", "Gone Target")

	adminCtx := db.WithActor(context.Background(), db.Actor{ID: s.admin, Email: adminEmail})
	supportCtx := db.WithActor(context.Background(), db.Actor{ID: s.support, Email: supportEmail})
	until := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := p.store.BanUser(supportCtx, bob, "spam links", &until); err != nil {
		t.Fatal(err)
	}
	if err := p.store.UnbanUser(adminCtx, bob); err != nil {
		t.Fatal(err)
	}
	if err := p.store.DeleteUser(adminCtx, gone); err != nil {
		t.Fatal(err)
	}

	admin := p.signedIn(adminEmail)

	t.Run("NewestFirst", func(t *testing.T) {
		pg := admin.get("/audit")
		wantStatus(t, "GET /audit", pg, http.StatusOK)
		if !pg.has(`form[data-testid="audit-filters"][method="get"][action="/audit"]`) {
			t.Error("no GET filter form")
		}
		if vary := strings.Join(pg.header.Values("Vary"), ", "); !strings.Contains(vary, "HX-Request") {
			t.Errorf("Vary %q", vary)
		}
		rows := auditRowsOf(pg)
		// The admin's own sign-in is the newest row.
		if len(rows) < 4 {
			t.Fatalf("%d rows: %v", len(rows), rows)
		}
		want := [][2]string{{adminEmail, db.ActionLogin}, {adminEmail, db.ActionDelete}, {adminEmail, db.ActionUnban}, {supportEmail, db.ActionBan}}
		for i, w := range want {
			if rows[i][0] != w[0] || rows[i][1] != w[1] {
				t.Errorf("row %d = %v, want %v", i, rows[i], w)
			}
		}
		if pg.has(`a[data-testid="page-prev"]`) || pg.has(`a[data-testid="page-next"]`) {
			t.Error("a short log has no other page")
		}
	})

	t.Run("FilterByAction", func(t *testing.T) {
		pg := admin.get("/audit?action=user.ban")
		wantStatus(t, "GET /audit?action=user.ban", pg, http.StatusOK)
		rows := auditRowsOf(pg)
		if len(rows) != 1 || rows[0][1] != db.ActionBan || rows[0][2] != "bob.target@panel.test" {
			t.Fatalf("rows %v", rows)
		}
		if d := rows[0][3]; !strings.Contains(d, "reason: spam links") || !strings.Contains(d, "until: 2031-01-02") {
			t.Errorf("details %q", d)
		}
		// The target still exists: its cell links to the user.
		if href, _ := pg.doc.Find(`[data-testid="audit-target"] a`).Attr("href"); href != "/users/"+bob {
			t.Errorf("target link %q", href)
		}
		if v, _ := pg.doc.Find(`select[name="action"] option[selected]`).Attr("value"); v != db.ActionBan {
			t.Errorf("the form is not refilled: selected action %q", v)
		}
	})

	t.Run("FilterByActor", func(t *testing.T) {
		pg := admin.get("/audit?actor=SAM.SUPPORT")
		wantStatus(t, "GET /audit?actor=", pg, http.StatusOK)
		rows := auditRowsOf(pg)
		if len(rows) != 1 || rows[0][0] != supportEmail {
			t.Fatalf("rows %v", rows)
		}
	})

	t.Run("FilterByTargetGone", func(t *testing.T) {
		pg := admin.get("/audit?target=gone.target")
		wantStatus(t, "GET /audit?target=", pg, http.StatusOK)
		rows := auditRowsOf(pg)
		if len(rows) != 1 || rows[0][1] != db.ActionDelete || rows[0][2] != "gone.target@panel.test" {
			t.Fatalf("rows %v", rows)
		}
		// A deleted user is named, not linked.
		if pg.has(`[data-testid="audit-target"] a`) {
			t.Error("a deleted target is linked")
		}
	})

	t.Run("NoMatch", func(t *testing.T) {
		pg := admin.get("/audit?actor=nobody&action=user.roles")
		wantStatus(t, "GET /audit no match", pg, http.StatusOK)
		if len(auditRowsOf(pg)) != 0 || !pg.has(`[data-testid="empty"]`) {
			t.Fatal("want the empty state")
		}
	})

	t.Run("InvalidTextIs400", func(t *testing.T) {
		for _, raw := range []string{"actor=a%00b", "target=%FF%FE"} {
			pg := admin.get("/audit?" + raw)
			wantStatus(t, "GET /audit?"+raw, pg, http.StatusBadRequest)
			if !pg.has(`[data-testid="error-page"]`) {
				t.Errorf("%s: no designed error page", raw)
			}
		}
	})

	t.Run("Fragment", func(t *testing.T) {
		pg := admin.get("/audit?action=user.ban", "HX-Request", "true")
		wantStatus(t, "htmx GET /audit", pg, http.StatusOK)
		if pg.has(`form[data-testid="audit-filters"]`) || pg.has(`nav[data-testid="nav"]`) || len(auditRowsOf(pg)) != 1 {
			t.Fatalf("want the table fragment only:\n%s", pg.body)
		}
	})

	t.Run("Nav", func(t *testing.T) {
		pg := admin.get("/users")
		if !pg.has(`nav[data-testid="nav"] a[href="/audit"]`) {
			t.Error("admins have no Audit log link")
		}
		for _, email := range []string{supportEmail, managerEmail} {
			pg := p.signedIn(email).get("/dashboard")
			wantStatus(t, "GET /dashboard as "+email, pg, http.StatusOK)
			if pg.has(`nav[data-testid="nav"] a[href="/audit"]`) {
				t.Errorf("%s sees the Audit log link", email)
			}
		}
	})
}

func TestAuditLogAccess(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	for _, email := range []string{supportEmail, managerEmail} {
		pg := p.signedIn(email).get("/audit")
		wantStatus(t, "GET /audit as "+email, pg, http.StatusForbidden)
	}
	pg := p.browser().get("/audit?action=user.ban")
	wantStatus(t, "GET /audit anonymous", pg, http.StatusSeeOther)
	if loc := pg.header.Get("Location"); loc != toLogin("/audit?action=user.ban") {
		t.Errorf("Location %q", loc)
	}
}

func TestAuditLogPaging(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	// 120 rows, one second apart, newest last.
	p.exec(`INSERT INTO audit_log (at, actor_email, action, target_email, details)
		SELECT timestamptz '2025-01-01 00:00:00+00' + g * interval '1 second', 'system:test', 'user.update',
			'paged' || g || '@panel.test', '{}'
		FROM generate_series(1, 120) g`)
	admin := p.signedIn(adminEmail)
	var seen []string
	path := "/audit?actor=system%3Atest"
	for n := 1; path != ""; n++ {
		pg := admin.get(path)
		wantStatus(t, "GET "+path, pg, http.StatusOK)
		rows := auditRowsOf(pg)
		if want := min(50, 120-len(seen)); len(rows) != want {
			t.Fatalf("page %d: %d rows, want %d", n, len(rows), want)
		}
		for _, r := range rows {
			seen = append(seen, r[2])
		}
		if n > 1 {
			if prev, _ := pg.doc.Find(`a[data-testid="page-prev"]`).Attr("href"); !strings.Contains(prev, "actor=system%3Atest") {
				t.Errorf("page %d: previous link %q loses the filter", n, prev)
			}
		}
		path, _ = pg.doc.Find(`a[data-testid="page-next"]`).Attr("href")
		if n > 5 {
			t.Fatal("too many pages")
		}
	}
	if len(seen) != 120 {
		t.Fatalf("%d rows over all pages, want 120", len(seen))
	}
	for i, e := range seen {
		if want := fmt.Sprintf("paged%d@panel.test", 120-i); e != want {
			t.Fatalf("row %d = %s, want %s (newest first)", i, e, want)
		}
	}
	// Past the end: the empty state and a way back.
	pg := admin.get("/audit?actor=system%3Atest&page=9")
	wantStatus(t, "GET past the end", pg, http.StatusOK)
	if !pg.has(`[data-testid="empty"] a[href="/audit?actor=system%3Atest"]`) {
		t.Errorf("no first-page link past the end:\n%s", pg.body)
	}
}

// TestAuditLogInvestigate is what an admin does when looking into an
// incident: narrow the log to a few days, hide the sign-ins, read the exact
// total, follow the actor and the target, and download what they see.
func TestAuditLogInvestigate(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	bob := p.addUser("bob.investigated@panel.test", "Bob")
	// Sixty bans and sixty sign-ins by the support member, one a minute on
	// 2026-03-02, and one row on each side of that day.
	p.exec(`INSERT INTO audit_log (at, actor_id, actor_email, action, target_id, target_email, details)
		SELECT timestamptz '2026-03-02 10:00:00+00' + g * interval '1 minute', $1, $2, a, $3,
			'bob.investigated@panel.test', '{"reason": "=HYPERLINK(\"x\")", "until": "2026-03-09T14:24:46Z"}'
		FROM generate_series(1, 60) g, unnest(ARRAY['user.ban', 'user.login']) a`, s.support, supportEmail, bob)
	p.exec(`INSERT INTO audit_log (at, actor_email, action, target_email, details) VALUES
		('2026-03-01 23:59:59+00', 'system:test', 'user.update', 'before@panel.test', '{}'),
		('2026-03-03 00:00:00+00', 'system:test', 'user.update', 'after@panel.test', '{}')`)
	admin := p.signedIn(adminEmail)

	path := "/audit?from=2026-03-02&to=2026-03-02&signins=hide"
	pg := admin.get(path)
	wantStatus(t, "GET "+path, pg, http.StatusOK)
	if got := pg.text(`[data-testid="range"]`); got != "1–50 of 60" {
		t.Errorf("range %q, want 1–50 of 60", got)
	}
	rows := auditRowsOf(pg)
	if len(rows) != 50 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r[1] != db.ActionBan {
			t.Fatalf("row %v: sign-ins are hidden and the range is one day", r)
		}
	}
	if at := pg.text(`[data-testid="audit-at"]`); at != "2026-03-02 11:00:00 UTC" {
		t.Errorf("newest row at %q, want seconds and UTC", at)
	}
	if d := rows[0][3]; !strings.Contains(d, "until: 2026-03-09 14:24 UTC") || strings.Contains(d, "T14:24:46Z") {
		t.Errorf("details %q: times read as elsewhere in the panel, not RFC 3339", d)
	}
	if href, _ := pg.doc.Find(`[data-testid="audit-actor"] a`).Attr("href"); href != "/users/"+s.support {
		t.Errorf("actor link %q", href)
	}
	if href, _ := pg.doc.Find(`[data-testid="audit-target"] a`).Attr("href"); href != "/users/"+bob {
		t.Errorf("target link %q", href)
	}
	// The form is refilled, and every control reloads the table with htmx.
	for sel, want := range map[string]string{`input[name="from"]`: "2026-03-02", `input[name="to"]`: "2026-03-02"} {
		if v, _ := pg.doc.Find(sel).Attr("value"); v != want {
			t.Errorf("%s value %q, want %q", sel, v, want)
		}
	}
	if !pg.has(`input[name="signins"][checked]`) {
		t.Error("Hide sign-ins is not kept checked")
	}
	for _, sel := range []string{`input[name="actor"]`, `select[name="action"]`, `input[name="from"]`, `input[name="signins"]`} {
		if _, ok := pg.doc.Find(sel).Attr("hx-trigger"); !ok {
			t.Errorf("%s does not reload the table when it changes", sel)
		}
	}
	next, _ := pg.doc.Find(`a[data-testid="page-next"]`).Attr("href")
	for _, part := range []string{"from=2026-03-02", "to=2026-03-02", "signins=hide", "page=2"} {
		if !strings.Contains(next, part) {
			t.Errorf("next page %q loses %s", next, part)
		}
	}
	if got := admin.get(next).text(`[data-testid="range"]`); got != "51–60 of 60" {
		t.Errorf("page 2 range %q", got)
	}

	// A target given as an id finds the rows about that user.
	pg = admin.get("/audit?target=" + bob + "&action=user.login")
	if got := pg.text(`[data-testid="range"]`); got != "1–50 of 60" {
		t.Errorf("target by id: range %q", got)
	}

	// The user page links to the whole history.
	up := admin.get("/users/" + bob)
	if href, _ := up.doc.Find(`a[data-testid="user-audit-log"]`).Attr("href"); href != "/audit?target="+bob {
		t.Errorf("user page history link %q", href)
	}
	if p.signedIn(supportEmail).get("/users/" + bob).has(`a[data-testid="user-audit-log"]`) {
		t.Error("support, who cannot read /audit, is offered a link to it")
	}

	t.Run("Export", func(t *testing.T) {
		exportHref, _ := pg.doc.Find(`a[data-testid="audit-export"]`).Attr("href")
		if !strings.HasPrefix(exportHref, "/audit/export.csv?") || !strings.Contains(exportHref, "target="+bob) {
			t.Fatalf("export link %q does not carry the filter", exportHref)
		}
		res := admin.get(path[:len("/audit")] + "/export.csv" + path[len("/audit"):])
		wantStatus(t, "GET /audit/export.csv", res, http.StatusOK)
		if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 61 || recs[0][0] != "id" {
			t.Fatalf("%d records, want the header and 60 bans; first %v", len(recs), recs[0])
		}
		for _, r := range recs[1:] {
			if r[4] != db.ActionBan || !strings.HasPrefix(r[7], "{") {
				t.Fatalf("record %v", r)
			}
		}
		// The export is on record, with its filter.
		log := admin.get("/audit?action=audit.export")
		if rows := auditRowsOf(log); len(rows) != 1 || rows[0][0] != adminEmail || !strings.Contains(rows[0][3], "signins=hide") {
			t.Errorf("export audit rows %v", rows)
		}
		// A formula in a value a person typed is defused.
		p.exec(`INSERT INTO audit_log (actor_email, action, target_email, details)
			VALUES ('system:test', 'user.update', '=HYPERLINK("http://evil.example")', '{}')`)
		res = admin.get("/audit/export.csv?target=HYPERLINK")
		recs, _ = csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if len(recs) != 2 || recs[1][6] != `'=HYPERLINK("http://evil.example")` {
			t.Fatalf("formula export %v", recs)
		}
		res = admin.get("/audit/export.csv?actor=%3Dcmd")
		wantStatus(t, "export with no match", res, http.StatusOK)
		if recs, _ := csv.NewReader(strings.NewReader(res.body)).ReadAll(); len(recs) != 1 {
			t.Errorf("no match: %d records, want the header only", len(recs))
		}
		for _, email := range []string{supportEmail, managerEmail} {
			wantStatus(t, "export as "+email, p.signedIn(email).get("/audit/export.csv"), http.StatusForbidden)
		}
		wantStatus(t, "bad text", admin.get("/audit/export.csv?actor=a%00b"), http.StatusBadRequest)
	})
}
