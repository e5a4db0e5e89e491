package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"userpanel/db"
)

// TestPermissionMatrix is generated from the policy (db.CanActOn): every
// route that acts on one user, for every kind of visitor, against a plain
// user and a staff member. A change the policy allows answers as the route
// does (a redirect back); one it refuses is a 403 page for staff or the
// sign-in redirect for everyone else, and changes nothing.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	bs := visitorBrowsers(t, p)
	roles := map[string][]string{"admin": {db.RoleAdmin}, "support": {db.RoleSupport}, "manager": {db.RoleManager}}
	targets := map[string][]string{"plain": nil, "staff": {db.RoleSupport}}

	routes := []struct {
		action db.Action
		path   string // after /users/{id}
		form   func(email string) url.Values
		ok     int
	}{
		{db.ActBan, "/ban", func(string) url.Values { return url.Values{"reason": {"spam"}, "duration": {"1h"}} }, http.StatusSeeOther},
		{db.ActUnban, "/unban", nil, http.StatusSeeOther},
		{db.ActRevokeSessions, "/revoke-sessions", nil, http.StatusSeeOther},
		{db.ActEditUser, "", func(e string) url.Values { return url.Values{"email": {e}, "name": {"Renamed"}} }, http.StatusSeeOther},
		{db.ActSetRoles, "/roles", func(string) url.Values { return url.Values{"roles": {db.RoleManager}} }, http.StatusSeeOther},
		{db.ActDeleteUser, "/delete", func(e string) url.Values { return url.Values{"confirm": {e}} }, http.StatusSeeOther},
	}
	n := 0
	for _, r := range routes {
		for _, v := range visitors {
			for tkind, troles := range targets {
				n++
				email := fmt.Sprintf("target%d@panel.test", n)
				id := p.addUser(email, "Target", troles...)
				// Unban needs a ban to lift.
				if r.action == db.ActUnban {
					p.exec(`UPDATE users SET banned = true, ban_reason = 'x', banned_at = now() WHERE id = $1`, id)
				}
				var form url.Values
				if r.form != nil {
					form = r.form(email)
				}
				before, audits := p.userState(id), p.auditRowCount()
				path := "/users/" + id + r.path
				pg := bs[v].post(path, form)
				what := fmt.Sprintf("POST %s (%s) as %s on a %s user", r.path, r.action, v, tkind)
				vroles, signedIn := roles[v]
				switch {
				case !signedIn:
					wantStatus(t, what, pg, http.StatusSeeOther)
				case db.CanActOn(vroles, r.action, troles):
					wantStatus(t, what, pg, r.ok)
					continue
				default:
					wantStatus(t, what, pg, http.StatusForbidden)
				}
				if p.userState(id) != before || p.auditRowCount() != audits {
					t.Errorf("%s: refused, yet something changed", what)
				}
			}
		}
	}

	// The user page shows a user's audit history only to those the policy
	// lets read it, and the moderation forms only to those who may use them.
	for _, v := range []string{"admin", "support"} {
		for tkind, troles := range targets {
			n++
			id := p.addUser(fmt.Sprintf("target%d@panel.test", n), "Target", troles...)
			pg := bs[v].get("/users/" + id)
			wantStatus(t, "GET user page", pg, http.StatusOK)
			if got, want := pg.has(`[data-testid="user-audit"]`), db.CanActOn(roles[v], db.ActViewUserAudit, troles); got != want {
				t.Errorf("%s on a %s user: audit history shown %v, want %v", v, tkind, got, want)
			}
			if got, want := pg.has(`[data-testid="ban-form"]`), db.CanActOn(roles[v], db.ActBan, troles); got != want {
				t.Errorf("%s on a %s user: ban form shown %v, want %v", v, tkind, got, want)
			}
		}
	}
}

// userState is everything a change could alter about one user, as text.
func (p *testPanel) userState(id string) string {
	p.t.Helper()
	var s string
	err := p.store.DB().Get(&s, `SELECT COALESCE((SELECT row_to_json(u)::text FROM users u WHERE u.id = $1), 'gone')
		|| COALESCE((SELECT string_agg(role_id::text, ',' ORDER BY role_id) FROM user_roles WHERE user_id = $1), '')`, id)
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// auditRowCount is the number of audit rows.
func (p *testPanel) auditRowCount() int {
	p.t.Helper()
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log`); err != nil {
		p.t.Fatal(err)
	}
	return n
}
