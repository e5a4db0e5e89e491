package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestDashboardTilesOpenTheirUsers: every number of the dashboard that an
// admin can click opens the user table filtered to exactly the users it
// counts (the table's count equals the tile), the chart's range selector
// works, and a manager gets the numbers without links.
func TestDashboardTilesOpenTheirUsers(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(60)
	p.exec(`UPDATE users SET created_at = now() - (substring(email from '(\d+)')::int % 40) * interval '1 day',
		last_login_at = now() - (substring(email from '(\d+)')::int % 9) * interval '1 day'
		WHERE email ~ '\d'`)
	p.exec(`INSERT INTO oauth_accounts (user_id, provider, provider_user_id)
		SELECT id, 'google', id::text FROM users WHERE email LIKE 'member1%'`)
	admin := p.signedIn(adminEmail)
	pg := admin.get("/dashboard")
	wantStatus(t, "dashboard", pg, http.StatusOK)

	type link struct{ what, href, value string }
	var links []link
	pg.doc.Find(`[data-testid^="stat-"] a[data-testid="stat-link"]`).Each(func(_ int, a *goquery.Selection) {
		tile, _ := a.Closest(`[data-testid^="stat-"]`).Attr("data-testid")
		links = append(links, link{tile, a.AttrOr("href", ""), strings.ReplaceAll(a.Text(), ",", "")})
	})
	pg.doc.Find(`[data-testid="stat-roles"] tr, [data-testid="stat-methods"] tr`).Each(func(_ int, tr *goquery.Selection) {
		links = append(links, link{tr.Find("th").Text(), tr.Find("a").AttrOr("href", ""), tr.Find("td").Text()})
	})
	if len(links) < 14 {
		t.Fatalf("%d linked numbers, want the 9 tiles, 4 role rows and the methods", len(links))
	}
	for _, l := range links {
		if !strings.HasPrefix(l.href, "/users") {
			t.Errorf("%s: link %q", l.what, l.href)
			continue
		}
		count := admin.get(strings.Replace(l.href, "/users", "/users/count", 1))
		wantStatus(t, "count for "+l.what, count, http.StatusOK)
		if got := strings.ReplaceAll(count.text(`[data-testid="total"]`), ",", ""); got != l.value {
			t.Errorf("%s: the tile says %s, the table it opens has %s (%s)", l.what, l.value, got, l.href)
		}
		if table := admin.get(l.href); table.status != http.StatusOK {
			t.Errorf("%s: %s answers %d", l.what, l.href, table.status)
		}
	}

	// A tile's filter shows on the table as a chip that removes it, and
	// stays through the filter form and the export.
	table := admin.get("/users?created_from=2020-01-01&q=member")
	if got := table.text(`[data-testid="filter-chips"] li`); !strings.HasPrefix(got, "Signed up since 2020-01-01") {
		t.Errorf("chip %q", got)
	}
	if href, _ := table.doc.Find(`a[data-testid="chip-remove"]`).Attr("href"); href != "/users?q=member" {
		t.Errorf("the chip removes to %q", href)
	}
	if v, _ := table.doc.Find(`form[data-testid="filters"] input[type="hidden"][name="created_from"]`).Attr("value"); v != "2020-01-01" {
		t.Errorf("the filter form drops created_from (%q)", v)
	}
	if href, _ := table.doc.Find(`[data-testid="export"], a[href^="/users/export.csv"]`).Attr("href"); !strings.Contains(href, "created_from=2020-01-01") {
		t.Errorf("the export link %q drops created_from", href)
	}

	// The chart: 30 daily bars by default, 52 weekly bars for a year.
	if n := pg.doc.Find(`[data-testid="signups-chart"] rect.bar`).Length(); n != 30 {
		t.Errorf("%d bars by default, want 30", n)
	}
	year := admin.get("/dashboard?range=1y")
	if n := year.doc.Find(`[data-testid="signups-chart"] rect.bar`).Length(); n != 52 {
		t.Errorf("%d bars for a year, want 52", n)
	}
	if got := year.text(`[data-testid="range-current"]`); got != "A year, by week" {
		t.Errorf("current range %q", got)
	}
	if n := year.doc.Find(`[data-testid="signups-table"] tbody tr`).Length(); n != 52 {
		t.Errorf("the chart's table has %d rows", n)
	}
	if admin.get("/dashboard?range=<script>").status != http.StatusOK {
		t.Error("an unknown range is not the default")
	}

	// Managers: the numbers, no links, no email but their own.
	m := p.signedIn(managerEmail).get("/dashboard")
	wantStatus(t, "manager dashboard", m, http.StatusOK)
	if m.has(`[data-testid^="stat-"] a`) || m.has(`[data-testid="stat-roles"] a`) || m.has(`[data-testid="stat-methods"] a`) {
		t.Error("a manager's numbers link to the user table")
	}
	if body := strings.ReplaceAll(m.body, managerEmail, ""); strings.Contains(body, "@") {
		t.Error("the manager's dashboard shows an email")
	}
}
