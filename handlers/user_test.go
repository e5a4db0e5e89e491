package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

func TestUserPage(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	ctx := asActor()
	id := p.addUser("grace.user@panel.test", "Grace <b>User</b>")
	p.exec(`INSERT INTO refresh_tokens (user_id, token_hash, user_agent, ip, expires_at, revoked_at) VALUES
		($1, 'a', 'Firefox/120', '198.51.100.4', now() + interval '7 days', NULL),
		($1, 'b', 'curl/8', '2001:db8::1', now() - interval '1 day', NULL),
		($1, 'c', 'Safari/17', NULL, now() + interval '7 days', now())`, id)
	p.exec(`INSERT INTO oauth_accounts (user_id, provider, provider_user_id, email) VALUES ($1, 'github', 'gh-42', 'grace@github.test')`, id)
	if err := p.store.BanUser(db.WithActor(ctx, db.Actor{ID: s.admin, Email: adminEmail}), id, "spam & abuse", nil); err != nil {
		t.Fatal(err)
	}
	b := p.signedIn(supportEmail)

	pg := b.get("/users/" + id)
	wantStatus(t, "user page", pg, http.StatusOK)
	if got := pg.text(`h1[data-testid="user-title"]`); !strings.Contains(got, "grace.user@panel.test") || !strings.Contains(got, "Grace <b>User</b>") {
		t.Errorf("title %q", got)
	}
	if strings.Contains(pg.body, "<b>User</b>") {
		t.Error("the name is not escaped")
	}
	ban := pg.text(`[data-testid="ban-state"]`)
	for _, want := range []string{"Banned", "permanently", "spam & abuse", adminEmail} {
		if !strings.Contains(ban, want) {
			t.Errorf("ban state %q lacks %q", ban, want)
		}
	}
	if href := pg.doc.Find(`[data-testid="ban-state"] a[href="/users/` + s.admin + `"]`).Length(); href != 1 {
		t.Error("the banning admin is not linked")
	}
	// Banning revoked the live session; the expired one stays expired.
	states := strings.Join(strings.Fields(pg.doc.Find(`[data-testid="sessions"] tbody`).Text()), " ")
	for _, want := range []string{"Firefox/120", "198.51.100.4", "2001:db8::1", "Safari/17", "revoked", "expired"} {
		if !strings.Contains(states, want) {
			t.Errorf("sessions %q lack %q", states, want)
		}
	}
	if n := pg.doc.Find(`[data-testid="sessions"] tbody tr`).Length(); n != 3 {
		t.Errorf("%d sessions", n)
	}
	if got := pg.text(`[data-testid="oauth"]`); !strings.Contains(got, "github") || !strings.Contains(got, "gh-42") {
		t.Errorf("oauth %q", got)
	}
	audit := pg.text(`[data-testid="user-audit"]`)
	if !strings.Contains(audit, db.ActionBan) || !strings.Contains(audit, "reason: spam & abuse") {
		t.Errorf("audit %q", audit)
	}
	if !pg.has(`form[data-testid="unban-form"]`) || !pg.has(`form[data-testid="revoke-form"]`) || pg.has(`form[data-testid="ban-form"]`) {
		t.Error("a banned user's page should offer unban and sign-out, not ban")
	}

	for _, bad := range []string{"/users/nope", "/users/" + strings.ToUpper(id) + "x", "/users/00000000-0000-0000-0000-000000000000", "/users/%27%3B--"} {
		pg := b.get(bad)
		wantStatus(t, bad, pg, http.StatusNotFound)
		if !strings.Contains(pg.text(`[data-testid="error-page"]`), "404") {
			t.Errorf("%s: not the designed 404 page", bad)
		}
	}

	// The back link returns to the table as it was left.
	pg = b.get("/users/"+id, "Referer", p.srv.URL+"/users?q=grace&page=1")
	if href := pg.doc.Find(`.breadcrumb a`).AttrOr("href", ""); href != "/users?q=grace&page=1" {
		t.Errorf("back link %q", href)
	}
	pg = b.get("/users/"+id, "Referer", "https://evil.example/users?x")
	if href := pg.doc.Find(`.breadcrumb a`).AttrOr("href", ""); href != "/users" {
		t.Errorf("back link from another site %q", href)
	}
}

func TestModeration(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	const targetEmail = "victor.user@panel.test"
	id := p.addUser(targetEmail, "Victor")
	userURL := "/users/" + id
	b := p.signedIn(supportEmail)

	loadUser := func() *db.User {
		t.Helper()
		u, err := p.store.LoadUser(asActor(), id)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	t.Run("Refused", func(t *testing.T) {
		cases := []struct {
			name   string
			path   string
			form   url.Values
			status int
			msg    string
		}{
			{"NoReason", userURL + "/ban", url.Values{"reason": {"   "}, "duration": {"7d"}}, http.StatusUnprocessableEntity, "Reason is required."},
			{"BadDuration", userURL + "/ban", url.Values{"reason": {"spam"}, "duration": {"forever-ish"}}, http.StatusUnprocessableEntity, "Choose how long the ban lasts."},
			{"ReasonTooLong", userURL + "/ban", url.Values{"reason": {strings.Repeat("x", 501)}, "duration": {"1h"}}, http.StatusUnprocessableEntity, "Reason is longer than 500 characters."},
			{"Self", "/users/" + s.support + "/ban", url.Values{"reason": {"oops"}, "duration": {"1h"}}, http.StatusUnprocessableEntity, "You cannot ban your own account."},
			{"UnknownUser", "/users/00000000-0000-0000-0000-000000000000/ban", url.Values{"reason": {"spam"}, "duration": {"1h"}}, http.StatusNotFound, ""},
			{"MalformedID", "/users/nope/ban", url.Values{"reason": {"spam"}, "duration": {"1h"}}, http.StatusNotFound, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pg := b.post(c.path, c.form)
				wantStatus(t, c.path, pg, c.status)
				if c.msg == "" {
					return
				}
				if got := pg.text(`[data-testid="ban-error"]`); got != c.msg {
					t.Errorf("error %q, want %q", got, c.msg)
				}
				if got := pg.doc.Find(`form[data-testid="ban-form"] input[name="reason"]`).AttrOr("value", ""); got != c.form.Get("reason") {
					t.Errorf("reason not refilled: %q", got)
				}
			})
		}
		if loadUser().Banned || p.auditCount(id, db.ActionBan) != 0 {
			t.Fatal("a refused ban changed the user")
		}
	})

	t.Run("BanUnbanRevoke", func(t *testing.T) {
		before := time.Now()
		pg := b.post(userURL+"/ban", url.Values{"reason": {"  chargeback fraud "}, "duration": {"24h"}})
		wantStatus(t, "ban", pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != userURL {
			t.Errorf("ban redirects to %q", loc)
		}
		u := loadUser()
		if !u.Banned || u.BanReason != "chargeback fraud" || u.BannedUntil == nil ||
			u.BannedUntil.Before(before.Add(23*time.Hour)) || u.BannedUntil.After(time.Now().Add(25*time.Hour)) {
			t.Errorf("after ban: %+v", u)
		}
		if u.BannedBy == nil || *u.BannedBy != s.support {
			t.Errorf("banned by %v, want the signed-in support", u.BannedBy)
		}
		pg = b.get(userURL)
		if got := pg.text(`[data-testid="flash"]`); got != "Banned "+targetEmail+" for 24 hours and signed them out everywhere." {
			t.Errorf("flash %q", got)
		}
		if pg = b.get(userURL); pg.has(`[data-testid="flash"]`) {
			t.Error("the flash showed twice")
		}

		pg = b.post(userURL+"/unban", nil)
		wantStatus(t, "unban", pg, http.StatusSeeOther)
		if loadUser().Banned {
			t.Error("still banned")
		}
		if got := b.get(userURL).text(`[data-testid="flash"]`); got != "Unbanned "+targetEmail+"." {
			t.Errorf("flash %q", got)
		}

		p.exec(`INSERT INTO refresh_tokens (user_id, token_hash, expires_at) VALUES ($1, 'x', now() + interval '1 day'), ($1, 'y', now() + interval '1 day')`, id)
		pg = b.post(userURL+"/revoke-sessions", nil)
		wantStatus(t, "revoke", pg, http.StatusSeeOther)
		if got := b.get(userURL).text(`[data-testid="flash"]`); got != "Signed "+targetEmail+" out everywhere; 2 sessions ended." {
			t.Errorf("flash %q", got)
		}

		pg = b.post(userURL+"/ban", url.Values{"reason": {"again"}, "duration": {"permanent"}})
		wantStatus(t, "permanent ban", pg, http.StatusSeeOther)
		if u := loadUser(); !u.Banned || u.BannedUntil != nil {
			t.Errorf("permanent ban: %+v", u)
		}
	})
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	p.seedTable(40)
	p.exec(`UPDATE users SET created_at = now() - interval '2 days' WHERE email LIKE 'member1%'`)
	st, err := p.store.Stats(asActor())
	if err != nil {
		t.Fatal(err)
	}

	b := p.signedIn(managerEmail)
	pg := b.get("/dashboard")
	wantStatus(t, "dashboard", pg, http.StatusOK)
	nums := map[string]int64{"stat-total": st.Total, "stat-banned": st.Banned, "stat-verified": st.Verified}
	for id, want := range nums {
		got := pg.doc.Find(`[data-testid="` + id + `"] .stat-value`).Text()
		if strings.ReplaceAll(got, ",", "") != strconv.FormatInt(want, 10) {
			t.Errorf("%s: %q, want %d", id, got, want)
		}
	}
	bars := pg.doc.Find(`[data-testid="signups-chart"] rect.bar`)
	if bars.Length() != db.SignupDays {
		t.Errorf("%d bars, want %d", bars.Length(), db.SignupDays)
	}
	var sum int64
	for _, d := range st.Signups {
		sum += d.Users
	}
	if sum == 0 {
		t.Fatal("fixture has no signups in the last 30 days")
	}
	// Managers see aggregates only: no user's email anywhere but their own.
	body := strings.ReplaceAll(pg.body, managerEmail, "")
	if strings.Contains(body, "@") {
		i := strings.Index(body, "@")
		t.Errorf("the dashboard shows an email: …%s…", body[max(0, i-30):min(len(body), i+30)])
	}
	// A manager's navigation offers only what they may open.
	var nav []string
	pg.doc.Find(`nav[data-testid="nav"] a`).Each(func(_ int, a *goquery.Selection) { nav = append(nav, a.AttrOr("href", "")) })
	if strings.Join(nav, " ") != "/ /dashboard /account" {
		t.Errorf("manager nav %v", nav)
	}
	if pg.has(`[data-testid="stat-roles"] a`) {
		t.Error("a manager's role counts link to the user table")
	}

	sup := p.signedIn(supportEmail).get("/dashboard")
	nav = nil
	sup.doc.Find(`nav[data-testid="nav"] a`).Each(func(_ int, a *goquery.Selection) { nav = append(nav, a.AttrOr("href", "")) })
	if strings.Join(nav, " ") != "/ /users /dashboard /account" {
		t.Errorf("support nav %v", nav)
	}
}
