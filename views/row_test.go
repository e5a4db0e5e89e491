package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// TestRowHTML: the hand-written row (row.go) escapes every value, refuses a
// script URL as templ does, and shows each case's cells and forms.
func TestRowHTML(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 8, 5, 9, 0, time.FixedZone("CET", 3600))
	act := &RowActions{Allowed: true, CSRF: `tok"><script>`, Back: `/users?q=a&sort="x"`, BanFormURL: "/users/id1/ban?back=%2Fusers&row=1"}
	rows := []UserRow{
		{ID: "id1", URL: "/users/id1", Email: `<img src=x onerror=alert(1)>@x.org`, Name: `Zoë & "O'Brien"`,
			Roles: []string{"admin", "support"}, Verified: true, CreatedAt: now, LastLoginAt: &now, Actions: act},
		{ID: "id2", URL: "/users/id2", Email: "b@x.org", Banned: true, BannedUntil: &now, CreatedAt: now, Actions: act},
		{ID: "id3", URL: "javascript:alert(1)", Email: "c@x.org", Name: "C", Banned: true, CreatedAt: now, Actions: &RowActions{}},
		{ID: "id4", URL: "/users/id4", Email: "d@x.org", Name: "D", CreatedAt: now},
	}
	var buf bytes.Buffer
	for i, r := range rows {
		if err := userRow(r, i != 3).Render(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	for _, raw := range []string{"<img", "<script>", `"O'Brien"`, "javascript:"} {
		if strings.Contains(out, raw) {
			t.Errorf("the rows hold %q unescaped:\n%s", raw, out)
		}
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + out + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	tr := doc.Find(`tr[data-testid="user-row"]`)
	if tr.Length() != 4 {
		t.Fatalf("%d rows, want 4:\n%s", tr.Length(), out)
	}
	first := tr.Eq(0)
	if got := first.Find(`[data-testid="user-email"] a`).Text(); got != rows[0].Email {
		t.Errorf("email reads %q, want %q", got, rows[0].Email)
	}
	if got := first.Find(`[data-testid="user-name"]`).Text(); got != rows[0].Name {
		t.Errorf("name reads %q, want %q", got, rows[0].Name)
	}
	if got := first.Find(`[data-testid="user-roles"] .badge`).Map(func(_ int, s *goquery.Selection) string { return s.Text() }); strings.Join(got, ",") != "admin,support" {
		t.Errorf("roles read %v", got)
	}
	if got, _ := first.Find(`time`).First().Attr("datetime"); got != "2026-12-03T07:05:09Z" {
		t.Errorf("signed up at %q, want the UTC time", got)
	}
	if got := first.Find(`time`).First().Text(); got != "2026-12-03 07:05 UTC" {
		t.Errorf("signed up reads %q", got)
	}
	if v, _ := first.Find(`input[name="_csrf"]`).Attr("value"); v != act.CSRF {
		t.Errorf("the row form's token is %q, want %q", v, act.CSRF)
	}
	if v, _ := first.Find(`input[name="back"]`).Attr("value"); v != act.Back {
		t.Errorf("the row form's back is %q, want %q", v, act.Back)
	}
	if v, _ := first.Find(`details.row-menu`).Attr("hx-get"); v != act.BanFormURL {
		t.Errorf("the ban menu fetches %q, want %q", v, act.BanFormURL)
	}
	if first.Find(`[data-testid="row-unban"]`).Length() != 0 || first.Find(`[data-testid="row-revoke"]`).Length() != 1 {
		t.Error("a user not banned has a ban menu and a sign-out button, no unban")
	}
	if first.Find(`[data-testid="row-select"]`).Length() != 1 {
		t.Error("a selectable row has no checkbox")
	}

	banned := tr.Eq(1)
	if got := strings.Join(strings.Fields(banned.Find(`[data-testid="user-banned"]`).Text()), " "); got != "Banned until 2026-12-03 07:05 UTC" {
		t.Errorf("the ban reads %q", got)
	}
	if banned.Find(`[data-testid="row-unban"]`).Length() != 1 || banned.Find(`details.row-menu`).Length() != 0 {
		t.Error("a banned user's row has no unban button, or a ban menu")
	}
	if a, _ := banned.Find(`form`).First().Attr("action"); a != "/users/id2/unban" {
		t.Errorf("unban posts to %q", a)
	}
	if target, _ := banned.Find(`form`).First().Attr("hx-target"); target != "#row-id2" {
		t.Errorf("unban's answer goes to %q", target)
	}
	if got := banned.Find(`[data-testid="user-name"]`).Text(); got != "—" {
		t.Errorf("a user without a name reads %q", got)
	}

	staff := tr.Eq(2)
	if href, _ := staff.Find(`[data-testid="user-email"] a`).Attr("href"); href != string(templ.FailedSanitizationURL) {
		t.Errorf("a script URL became %q", href)
	}
	if staff.Find(`form`).Length() != 0 || staff.Find(`[data-testid="row-actions"]`).Text() != "—" {
		t.Error("a user the viewer may not act on has forms in their row")
	}
	if got := strings.TrimSpace(staff.Find(`[data-testid="user-banned"]`).Text()); !strings.HasSuffix(got, "permanently") {
		t.Errorf("a ban without an end reads %q", got)
	}

	plain := tr.Eq(3)
	if plain.Find(`[data-testid="row-actions"]`).Length() != 0 || plain.Find(`[data-testid="row-select"]`).Length() != 0 {
		t.Error("a row without actions, not selectable, has an actions cell or a checkbox")
	}
	if got := plain.Find(`[data-label="Last sign-in"]`).Text(); got != "never" {
		t.Errorf("no sign-in reads %q", got)
	}
}
