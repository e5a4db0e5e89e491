package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"userpanel/db"
)

// auditActor returns the actor's id and email of the latest audit row of
// action about the user, failing the test when there is none.
func (p *testPanel) auditActor(target, action string) (id, email string) {
	p.t.Helper()
	var row struct {
		ID    *string `db:"actor_id"`
		Email string  `db:"actor_email"`
	}
	if err := p.store.DB().Get(&row, `SELECT actor_id, actor_email FROM audit_log
		WHERE target_id = $1 AND action = $2 ORDER BY id DESC LIMIT 1`, target, action); err != nil {
		p.t.Fatalf("audit row %s about %s: %v", action, target, err)
	}
	if row.ID != nil {
		id = *row.ID
	}
	return id, row.Email
}

// userCount is the number of accounts.
func (p *testPanel) userCount() int {
	p.t.Helper()
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM users`); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// loadUser returns the user as stored, or nil when they are gone.
func (p *testPanel) loadUser(id string) *db.User {
	p.t.Helper()
	u, err := p.store.LoadUser(asActor(), id)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return u
}

func TestAdminRoutesByRole(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	target := p.addUser("tara.target@panel.test", "Tara Target", "support")
	user := "/users/" + target
	admin := p.signedIn(adminEmail)
	others := map[string]*browser{
		"support":   p.signedIn(supportEmail),
		"manager":   p.signedIn(managerEmail),
		"anonymous": p.browser(),
	}

	for v, b := range others {
		pg := b.get("/users/new")
		if v == "anonymous" {
			wantStatus(t, "GET /users/new as "+v, pg, http.StatusSeeOther)
			if loc := pg.header.Get("Location"); loc != toLogin("/users/new") {
				t.Errorf("GET /users/new as anonymous: Location %q", loc)
			}
			continue
		}
		wantStatus(t, "GET /users/new as "+v, pg, http.StatusForbidden)
		if !pg.has(`[data-testid="error-page"]`) {
			t.Errorf("GET /users/new as %s: not the designed 403 page", v)
		}
	}
	wantStatus(t, "GET /users/new as admin", admin.get("/users/new"), http.StatusOK)

	posts := []struct {
		path string
		form url.Values
	}{
		{"/users", url.Values{"email": {"new.person@panel.test"}, "name": {"New"}, "password": {"a-long-enough-pass"}}},
		{user, url.Values{"email": {"changed@panel.test"}, "name": {"Changed"}}},
		{user + "/roles", url.Values{"roles": {"admin"}}},
		{user + "/delete", url.Values{"confirm": {"tara.target@panel.test"}}},
	}
	before := p.userCount()
	for v, b := range others {
		for _, post := range posts {
			pg := b.post(post.path, post.form)
			if v == "anonymous" {
				wantStatus(t, "POST "+post.path+" as "+v, pg, http.StatusSeeOther)
				if loc := pg.header.Get("Location"); !strings.HasPrefix(loc, "/login") {
					t.Errorf("POST %s as anonymous: Location %q", post.path, loc)
				}
				continue
			}
			wantStatus(t, "POST "+post.path+" as "+v, pg, http.StatusForbidden)
		}
	}
	u := p.loadUser(target)
	if u == nil || u.Email != "tara.target@panel.test" || u.Name != "Tara Target" || !slices.Equal(u.Roles, []string{"support"}) {
		t.Errorf("a refused request changed the target: %+v", u)
	}
	if n := p.userCount(); n != before {
		t.Errorf("%d users, want %d", n, before)
	}

	// The admin forms and the New user link are for admins only.
	for v, b := range map[string]*browser{"support": others["support"], "admin": admin} {
		pg := b.get(user)
		wantStatus(t, "user page as "+v, pg, http.StatusOK)
		list := b.get("/users")
		wantStatus(t, "/users as "+v, list, http.StatusOK)
		want := v == "admin"
		for _, sel := range []string{`form[data-testid="edit-user"]`, `form[data-testid="roles-form"]`, `form[data-testid="delete-user"]`} {
			if pg.has(sel) != want {
				t.Errorf("user page as %s: %s shown %v", v, sel, !want)
			}
			if want && pg.doc.Find(sel+` input[name="_csrf"]`).AttrOr("value", "") == "" {
				t.Errorf("%s has no CSRF token", sel)
			}
		}
		if list.has(`a[data-testid="new-user"][href="/users/new"]`) != want {
			t.Errorf("/users as %s: New user link shown %v", v, !want)
		}
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	b := p.signedIn(adminEmail)

	pg := b.get("/users/new")
	wantStatus(t, "new user form", pg, http.StatusOK)
	form := pg.doc.Find(`form[data-testid="create-user"]`)
	if form.AttrOr("action", "") != "/users" || form.AttrOr("method", "") != "post" {
		t.Errorf("create form posts to %q", form.AttrOr("action", ""))
	}
	if form.Find(`input[name="_csrf"]`).AttrOr("value", "") == "" {
		t.Error("the create form has no CSRF token")
	}
	var roles []string
	form.Find(`input[name="roles"]`).Each(func(_ int, r *goquery.Selection) { roles = append(roles, r.AttrOr("value", "")) })
	for _, want := range db.StaffRoles {
		if !slices.Contains(roles, want) {
			t.Errorf("role checkboxes %v lack %q", roles, want)
		}
	}

	t.Run("Refused", func(t *testing.T) {
		cases := []struct {
			name  string
			form  url.Values
			field string
			msg   string
		}{
			{"MalformedEmail", url.Values{"email": {"not-an-email"}, "name": {"Nia"}, "password": {"a-long-enough-pass"}}, "email", "Email is not a valid email address."},
			{"ShortPassword", url.Values{"email": {"nia@panel.test"}, "name": {"Nia"}, "password": {"short"}}, "password", "Password must be at least 12 characters."},
			{"DuplicateEmailOtherCase", url.Values{"email": {strings.ToUpper(supportEmail)}, "name": {"Nia"}, "password": {"a-long-enough-pass"}}, "email", "A user with this email already exists."},
			{"UnknownRole", url.Values{"email": {"nia@panel.test"}, "name": {"Nia"}, "password": {"a-long-enough-pass"}, "roles": {"support", "superuser"}}, "roles", `Unknown role "superuser".`},
		}
		before := p.userCount()
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.form.Set("verified", "true")
				pg := b.post("/users", c.form)
				wantStatus(t, "POST /users", pg, http.StatusUnprocessableEntity)
				if got := pg.text(`[data-testid="` + c.field + `-error"]`); got != c.msg {
					t.Errorf("error %q, want %q", got, c.msg)
				}
				f := pg.doc.Find(`form[data-testid="create-user"]`)
				if got := f.Find(`input[name="email"]`).AttrOr("value", ""); got != c.form.Get("email") {
					t.Errorf("email not refilled: %q", got)
				}
				if got := f.Find(`input[name="name"]`).AttrOr("value", ""); got != "Nia" {
					t.Errorf("name not refilled: %q", got)
				}
				if _, ok := f.Find(`input[name="verified"]`).Attr("checked"); !ok {
					t.Error("verified not refilled")
				}
				if v, ok := f.Find(`input[name="password"]`).Attr("value"); ok || strings.Contains(pg.body, c.form.Get("password")) {
					t.Errorf("the password came back: %q", v)
				}
				if c.form.Has("roles") {
					if _, ok := f.Find(`input[name="roles"][value="support"]`).Attr("checked"); !ok {
						t.Error("roles not refilled")
					}
				}
			})
		}
		if n := p.userCount(); n != before {
			t.Errorf("a refused create made a user: %d users, want %d", n, before)
		}
	})

	t.Run("OK", func(t *testing.T) {
		pg := b.post("/users", url.Values{"email": {" Nora.New@panel.test "}, "name": {"Nora New"},
			"password": {"a-long-enough-pass"}, "verified": {"true"}, "roles": {"support", "manager"}})
		wantStatus(t, "POST /users", pg, http.StatusSeeOther)
		u, err := p.store.GetUserByEmail(asActor(), "nora.new@panel.test")
		if err != nil {
			t.Fatal(err)
		}
		if loc := pg.header.Get("Location"); loc != "/users/"+u.ID {
			t.Errorf("Location %q, want the new user's page", loc)
		}
		if u.Name != "Nora New" || !u.EmailVerified || !u.HasPassword || !slices.Equal(u.Roles, []string{"manager", "support"}) {
			t.Errorf("created %+v", u)
		}
		if id, email := p.auditActor(u.ID, db.ActionCreate); id != s.admin || email != adminEmail {
			t.Errorf("audit actor %s %s, want the admin", id, email)
		}
		pg = b.get("/users/" + u.ID)
		wantStatus(t, "new user's page", pg, http.StatusOK)
		if got := pg.text(`[data-testid="flash"]`); got != "Created Nora.New@panel.test." {
			t.Errorf("flash %q", got)
		}
		// The new account signs in with the password it was given.
		nb := p.browser()
		pg = nb.post("/login", url.Values{"email": {"nora.new@panel.test"}, "password": {"a-long-enough-pass"}})
		wantStatus(t, "sign in as the new user", pg, http.StatusSeeOther)
	})
}

func TestEditUser(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	id := p.addUser("edith.edit@panel.test", "Edith")
	userURL := "/users/" + id
	b := p.signedIn(adminEmail)

	pg := b.get(userURL)
	wantStatus(t, "user page", pg, http.StatusOK)
	f := pg.doc.Find(`form[data-testid="edit-user"]`)
	if f.AttrOr("action", "") != userURL || f.Find(`input[name="email"]`).AttrOr("value", "") != "edith.edit@panel.test" {
		t.Errorf("edit form not filled from the user")
	}

	t.Run("Refused", func(t *testing.T) {
		cases := []struct{ name, email, msg string }{
			{"MalformedEmail", "edith@", "Email is not a valid email address."},
			{"EmptyEmail", "", "Email is required."},
			{"DuplicateEmailOtherCase", strings.ToUpper(managerEmail), "A user with this email already exists."},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pg := b.post(userURL, url.Values{"email": {c.email}, "name": {"Edith Two"}})
				wantStatus(t, "edit", pg, http.StatusUnprocessableEntity)
				f := pg.doc.Find(`form[data-testid="edit-user"]`)
				if got := strings.TrimSpace(f.Find(`[data-testid="email-error"]`).Text()); got != c.msg {
					t.Errorf("error %q, want %q", got, c.msg)
				}
				if got := f.Find(`input[name="email"]`).AttrOr("value", ""); got != c.email {
					t.Errorf("email not refilled: %q", got)
				}
				if got := f.Find(`input[name="name"]`).AttrOr("value", ""); got != "Edith Two" {
					t.Errorf("name not refilled: %q", got)
				}
			})
		}
		if u := p.loadUser(id); u.Email != "edith.edit@panel.test" || u.Name != "Edith" || !u.EmailVerified {
			t.Errorf("a refused edit changed the user: %+v", u)
		}
		if n := p.auditCount(id, db.ActionUpdate); n != 0 {
			t.Errorf("%d update audit rows", n)
		}
	})

	t.Run("OK", func(t *testing.T) {
		// The verified box left unchecked unverifies.
		pg := b.post(userURL, url.Values{"email": {"Edith.Renamed@panel.test"}, "name": {" Edith Renamed "}})
		wantStatus(t, "edit", pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != userURL {
			t.Errorf("Location %q", loc)
		}
		u := p.loadUser(id)
		if u.Email != "Edith.Renamed@panel.test" || u.Name != "Edith Renamed" || u.EmailVerified {
			t.Errorf("after edit: %+v", u)
		}
		if aid, email := p.auditActor(id, db.ActionUpdate); aid != s.admin || email != adminEmail {
			t.Errorf("audit actor %s %s, want the admin", aid, email)
		}
		if got := b.get(userURL).text(`[data-testid="flash"]`); got != "Saved Edith.Renamed@panel.test." {
			t.Errorf("flash %q", got)
		}
	})

	t.Run("UnknownUser", func(t *testing.T) {
		pg := b.post("/users/00000000-0000-0000-0000-000000000000", url.Values{"email": {"x@panel.test"}})
		wantStatus(t, "edit unknown user", pg, http.StatusNotFound)
	})
}

func TestSetRoles(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	id := p.addUser("rolf.roles@panel.test", "Rolf", "support")
	userURL := "/users/" + id
	b := p.signedIn(adminEmail)

	pg := b.get(userURL)
	wantStatus(t, "user page", pg, http.StatusOK)
	if _, ok := pg.doc.Find(`form[data-testid="roles-form"] input[name="roles"][value="support"]`).Attr("checked"); !ok {
		t.Error("the user's role is not checked")
	}

	t.Run("UnknownRole", func(t *testing.T) {
		pg := b.post(userURL+"/roles", url.Values{"roles": {"manager", "root"}})
		wantStatus(t, "set roles", pg, http.StatusUnprocessableEntity)
		if got := pg.text(`form[data-testid="roles-form"] [data-testid="roles-error"]`); got != `Unknown role "root".` {
			t.Errorf("error %q", got)
		}
		if _, ok := pg.doc.Find(`form[data-testid="roles-form"] input[value="manager"]`).Attr("checked"); !ok {
			t.Error("roles not refilled")
		}
		if u := p.loadUser(id); !slices.Equal(u.Roles, []string{"support"}) {
			t.Errorf("roles %v after a refused change", u.Roles)
		}
	})

	t.Run("LastAdmin", func(t *testing.T) {
		// The signed-in admin is the only one: removing their admin role
		// would lock everyone out.
		pg := b.post("/users/"+s.admin+"/roles", url.Values{"roles": {"support"}})
		wantStatus(t, "remove the last admin", pg, http.StatusUnprocessableEntity)
		if got := pg.text(`[data-testid="roles-error"]`); !strings.Contains(got, "last active admin") {
			t.Errorf("error %q", got)
		}
		if u := p.loadUser(s.admin); !slices.Equal(u.Roles, []string{"admin"}) {
			t.Errorf("admin's roles %v", u.Roles)
		}
		if n := p.auditCount(s.admin, db.ActionRoles); n != 0 {
			t.Errorf("%d roles audit rows", n)
		}
	})

	t.Run("OK", func(t *testing.T) {
		pg := b.post(userURL+"/roles", url.Values{"roles": {"manager", "admin"}})
		wantStatus(t, "set roles", pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != userURL {
			t.Errorf("Location %q", loc)
		}
		if u := p.loadUser(id); !slices.Equal(u.Roles, []string{"admin", "manager"}) {
			t.Errorf("roles %v", u.Roles)
		}
		if aid, email := p.auditActor(id, db.ActionRoles); aid != s.admin || email != adminEmail {
			t.Errorf("audit actor %s %s, want the admin", aid, email)
		}
		if got := b.get(userURL).text(`[data-testid="flash"]`); got != "rolf.roles@panel.test now holds admin, manager." {
			t.Errorf("flash %q", got)
		}
		// No box checked removes every role.
		pg = b.post(userURL+"/roles", nil)
		wantStatus(t, "clear roles", pg, http.StatusSeeOther)
		if u := p.loadUser(id); len(u.Roles) != 0 {
			t.Errorf("roles %v after clearing", u.Roles)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	id := p.addUser("dora.delete@panel.test", "Dora", "support")
	p.exec(`INSERT INTO refresh_tokens (user_id, token_hash, expires_at) VALUES ($1, 'd', now() + interval '1 day')`, id)
	userURL := "/users/" + id
	b := p.signedIn(adminEmail)

	refused := []struct {
		name, path, confirm, msg string
	}{
		{"NoConfirmation", userURL + "/delete", "", "Type the user's email exactly to confirm the deletion."},
		{"WrongConfirmation", userURL + "/delete", "someone.else@panel.test", "Type the user's email exactly to confirm the deletion."},
		{"Self", "/users/" + s.admin + "/delete", adminEmail, "You cannot delete your own account."},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			pg := b.post(c.path, url.Values{"confirm": {c.confirm}})
			wantStatus(t, "delete", pg, http.StatusUnprocessableEntity)
			if got := pg.text(`form[data-testid="delete-user"] [data-testid="delete-error"]`); got != c.msg {
				t.Errorf("error %q, want %q", got, c.msg)
			}
		})
	}
	if p.loadUser(id) == nil || p.loadUser(s.admin) == nil || p.auditCount(id, db.ActionDelete) != 0 {
		t.Fatal("a refused delete deleted someone")
	}

	t.Run("UnknownUser", func(t *testing.T) {
		pg := b.post("/users/00000000-0000-0000-0000-000000000000/delete", url.Values{"confirm": {"x@panel.test"}})
		wantStatus(t, "delete unknown user", pg, http.StatusNotFound)
	})

	t.Run("OK", func(t *testing.T) {
		// The email is matched whatever its case.
		pg := b.post(userURL+"/delete", url.Values{"confirm": {" DORA.delete@panel.test "}})
		wantStatus(t, "delete", pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != "/users" {
			t.Errorf("Location %q", loc)
		}
		if p.loadUser(id) != nil {
			t.Fatal("the user is still there")
		}
		var sessions int
		if err := p.store.DB().Get(&sessions, `SELECT count(*) FROM refresh_tokens WHERE user_id = $1`, id); err != nil || sessions != 0 {
			t.Errorf("%d sessions left (%v)", sessions, err)
		}
		if aid, email := p.auditActor(id, db.ActionDelete); aid != s.admin || email != adminEmail {
			t.Errorf("audit actor %s %s, want the admin", aid, email)
		}
		pg = b.get("/users")
		wantStatus(t, "users", pg, http.StatusOK)
		if got := pg.text(`[data-testid="flash"]`); got != "Deleted dora.delete@panel.test." {
			t.Errorf("flash %q", got)
		}
		wantStatus(t, "deleted user's page", b.get(userURL), http.StatusNotFound)
	})
}

func TestAdminCSRF(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	id := p.addUser("cora.csrf@panel.test", "Cora", "support")
	userURL := "/users/" + id
	b := p.signedIn(adminEmail)
	before := p.userCount()

	posts := []struct {
		path string
		form url.Values
	}{
		{"/users", url.Values{"email": {"forged@panel.test"}, "name": {"Forged"}, "password": {"a-long-enough-pass"}}},
		{userURL, url.Values{"email": {"forged@panel.test"}, "name": {"Forged"}}},
		{userURL + "/roles", url.Values{"roles": {"admin"}}},
		{userURL + "/delete", url.Values{"confirm": {"cora.csrf@panel.test"}}},
	}
	for _, token := range []string{"", "wrong-token"} {
		for _, post := range posts {
			form := url.Values{}
			for k, v := range post.form {
				form[k] = v
			}
			form.Set("_csrf", token)
			pg := b.post(post.path, form)
			wantStatus(t, "POST "+post.path+" with _csrf="+token, pg, http.StatusForbidden)
		}
	}
	u := p.loadUser(id)
	if u == nil || u.Email != "cora.csrf@panel.test" || u.Name != "Cora" || !slices.Equal(u.Roles, []string{"support"}) {
		t.Errorf("a forged request changed the user: %+v", u)
	}
	if n := p.userCount(); n != before {
		t.Errorf("%d users, want %d", n, before)
	}
}

// TestRefusedFormAddresses: after a refused form, the page names its own
// address (app.js puts it in the address bar), and the POST addresses
// themselves, typed or reloaded as a GET, lead back to the form's page.
func TestRefusedFormAddresses(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	id := p.addUser("kept@panel.test", "Kept")
	b := p.signedIn(adminEmail)

	pg := b.post("/users", url.Values{"email": {"not an email"}, "password": {"x"}})
	wantStatus(t, "refused create", pg, http.StatusUnprocessableEntity)
	if href, _ := pg.doc.Find(`link[rel="canonical"]`).Attr("href"); href != "/users/new" {
		t.Errorf("refused create names %q, want /users/new", href)
	}
	pg = b.post("/users/"+id+"/delete", url.Values{"confirm": {"someone.else@panel.test"}})
	wantStatus(t, "refused delete", pg, http.StatusUnprocessableEntity)
	if href, _ := pg.doc.Find(`link[rel="canonical"]`).Attr("href"); href != "/users/"+id {
		t.Errorf("refused delete names %q", href)
	}
	if b.get("/users/" + id).has(`link[rel="canonical"]`) {
		t.Error("a plain page has a canonical link (it is for refused forms)")
	}
	for _, action := range []string{"delete", "ban", "roles", "unban", "revoke-sessions"} {
		pg := b.get("/users/" + id + "/" + action)
		wantStatus(t, "GET "+action, pg, http.StatusSeeOther)
		if loc := pg.header.Get("Location"); loc != "/users/"+id {
			t.Errorf("GET /users/{id}/%s goes to %q", action, loc)
		}
	}
	if loc := b.get("/users/bulk").header.Get("Location"); loc != "/users" {
		t.Errorf("GET /users/bulk goes to %q", loc)
	}
	// Not for everyone: the manager is refused, a visitor signs in first.
	wantStatus(t, "manager", p.signedIn(managerEmail).get("/users/"+id+"/delete"), http.StatusForbidden)
}
