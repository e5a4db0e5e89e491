package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"userpanel/db"
)

// TestTwoAdminsAtOnce has two admins act on the same user at the same
// moment, over HTTP, many times over: whatever the order the database picks,
// neither gets a 500, the user ends in a state one of the two orders gives,
// and the audit log holds exactly one row per change that happened.
func TestTwoAdminsAtOnce(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addUser(adminEmail, "Ada Admin", "admin")
	p.addUser("bea.admin@panel.test", "Bea Admin", "admin")
	ada := p.signedIn(adminEmail)
	bea := p.signedIn("bea.admin@panel.test")
	ada.csrf()
	bea.csrf()
	const rounds = 8

	// race sends the two forms at once and returns their statuses.
	race := func(t *testing.T, pathA string, formA url.Values, pathB string, formB url.Values) (int, int) {
		t.Helper()
		var a, b int
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); a = postStatus(t, ada, pathA, formA) }()
		go func() { defer wg.Done(); b = postStatus(t, bea, pathB, formB) }()
		wg.Wait()
		for _, st := range []int{a, b} {
			if st >= 500 {
				t.Fatalf("a racing change answered %d", st)
			}
		}
		return a, b
	}
	ok := func(status int) bool { return status == http.StatusSeeOther }

	t.Run("BanAndDelete", func(t *testing.T) {
		for i := range rounds {
			email := "target-bd" + string(rune('a'+i)) + "@panel.test"
			id := p.addUser(email, "Target")
			ban, del := race(t, "/users/"+id+"/ban", url.Values{"reason": {"spam"}, "duration": {"permanent"}},
				"/users/"+id+"/delete", url.Values{"confirm": {email}})
			if !ok(del) {
				t.Fatalf("delete racing a ban: status %d, want 303", del)
			}
			if _, err := p.store.LoadUser(asActor(), id); err != db.ErrNotFound {
				t.Fatalf("user after the delete: %v, want ErrNotFound", err)
			}
			// A ban that lost the race found no user (404); one that won
			// was written before the delete.
			if !ok(ban) && ban != http.StatusNotFound {
				t.Fatalf("ban racing a delete: status %d, want 303 or 404", ban)
			}
			p.wantAuditRows(t, id, db.ActionBan, btoi(ok(ban)))
			p.wantAuditRows(t, id, db.ActionDelete, 1)
		}
	})

	t.Run("TwoRoleChanges", func(t *testing.T) {
		for i := range rounds {
			id := p.addUser("target-rr"+string(rune('a'+i))+"@panel.test", "Target")
			a, b := race(t, "/users/"+id+"/roles", url.Values{"roles": {"support"}},
				"/users/"+id+"/roles", url.Values{"roles": {"manager"}})
			if !ok(a) || !ok(b) {
				t.Fatalf("two role changes: statuses %d and %d, want 303 both", a, b)
			}
			u, err := p.store.LoadUser(asActor(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Roles, []string{"support"}) && !slices.Equal(u.Roles, []string{"manager"}) {
				t.Fatalf("roles after two changes = %v, want [support] or [manager]", u.Roles)
			}
			p.wantAuditRows(t, id, db.ActionRoles, 2)
			// The last row written says what the user holds now.
			var last string
			if err := p.store.DB().Get(&last, `SELECT details::text FROM audit_log
				WHERE target_id = $1 AND action = $2 ORDER BY id DESC LIMIT 1`, id, db.ActionRoles); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(last, u.Roles[0]) {
				t.Fatalf("last roles audit row %s does not match the roles held, %v", last, u.Roles)
			}
		}
	})

	t.Run("DeleteAndEdit", func(t *testing.T) {
		for i := range rounds {
			email := "target-de" + string(rune('a'+i)) + "@panel.test"
			id := p.addUser(email, "Target")
			del, edit := race(t, "/users/"+id+"/delete", url.Values{"confirm": {email}},
				"/users/"+id, url.Values{"email": {email}, "name": {"Renamed"}, "verified": {"on"}})
			if !ok(del) {
				t.Fatalf("delete racing an edit: status %d, want 303", del)
			}
			if !ok(edit) && edit != http.StatusNotFound {
				t.Fatalf("edit racing a delete: status %d, want 303 or 404", edit)
			}
			p.wantAuditRows(t, id, db.ActionUpdate, btoi(ok(edit)))
			p.wantAuditRows(t, id, db.ActionDelete, 1)
			var left int
			if err := p.store.DB().Get(&left, `SELECT count(*) FROM users WHERE id = $1`, id); err != nil || left != 0 {
				t.Fatalf("users left with the id: %d, %v", left, err)
			}
		}
	})

	t.Run("NothingLogged", func(t *testing.T) {
		if strings.Contains(p.logs.String(), `"status":500`) {
			t.Fatalf("a 500 was logged:\n%s", p.logs.String())
		}
	})
}

// postStatus submits a form with the browser's CSRF token and returns the
// status; safe to call from several goroutines.
func postStatus(t *testing.T, b *browser, path string, form url.Values) int {
	form.Set("_csrf", b.token) // read once by b.csrf() before the race
	req, err := http.NewRequest(http.MethodPost, b.p.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wantAuditRows checks how many audit rows of action name the target.
func (p *testPanel) wantAuditRows(t *testing.T, target, action string, want int) {
	t.Helper()
	var rows []string
	if err := p.store.DB().Select(&rows, `SELECT details::text FROM audit_log WHERE target_id = $1 AND action = $2`,
		target, action); err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	if len(rows) != want {
		t.Fatalf("%d %s audit rows for %s, want %d: %v", len(rows), action, target, want, rows)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
