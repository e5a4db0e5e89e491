package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"userpanel/db"
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	admin := staff(t, s, "admin@example.com", "admin")
	// CreateUser's audit row and its user_created event are checked here
	// rather than in audit_test.go and events_test.go: each call costs a
	// bcrypt hash, seconds under the race detector, so the package makes few.
	events := &recorder{}
	s.On(db.EventUserCreated, func(d db.EventData) { events.add(d, describe(s, d.UserID)) })

	t.Run("OK", func(t *testing.T) {
		u, err := s.CreateUser(asUser(admin), db.NewUser{
			Email: "  Ann.Lee@Example.com ", Name: " Ann Lee ", Password: "a perfectly fine pass",
			EmailVerified: true, Roles: []string{"support", "manager", "support"},
		})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.ID == "" || u.Email != "Ann.Lee@Example.com" || u.Name != "Ann Lee" || !u.EmailVerified || u.Banned {
			t.Fatalf("created user = %+v", u)
		}
		if got := strings.Join(u.Roles, ","); got != "manager,support" {
			t.Fatalf("roles = %q, want manager,support", got)
		}
		var row struct {
			Hash      string    `db:"password_hash"`
			CreatedAt time.Time `db:"created_at"`
		}
		if err := s.DB().Get(&row, `SELECT password_hash, created_at FROM users WHERE id = $1`, u.ID); err != nil {
			t.Fatal(err)
		}
		if bcrypt.CompareHashAndPassword([]byte(row.Hash), []byte("a perfectly fine pass")) != nil {
			t.Fatalf("stored password is not a bcrypt hash of the password: %q", row.Hash)
		}
		// Tests hash at the minimum cost (testdb); TestPasswordCost checks the
		// cost a program uses.
		if cost, err := bcrypt.Cost([]byte(row.Hash)); err != nil || cost != bcrypt.MinCost {
			t.Fatalf("bcrypt cost %d (%v), want the tests' minimum %d", cost, err, bcrypt.MinCost)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || got.Email != u.Email || !got.HasPassword {
			t.Fatalf("GetUser after create = %+v, %v", got, err)
		}

		audits := auditRows(t, s)
		if len(audits) != 1 {
			t.Fatalf("%d audit rows, want 1", len(audits))
		}
		e := audits[0]
		if e.Action != db.ActionCreate || e.ActorID == nil || *e.ActorID != admin.ID || e.ActorEmail != admin.Email ||
			e.TargetID == nil || *e.TargetID != u.ID || e.TargetEmail != u.Email {
			t.Fatalf("create audit row = %+v", e)
		}
		// now() is the transaction's start: equal times mean the user and
		// its audit row were written by the same transaction.
		if !e.At.Equal(row.CreatedAt) {
			t.Fatalf("audit row at %v, user created at %v: not one transaction", e.At, row.CreatedAt)
		}
		if d := e.DetailsMap(); d["name"] != "Ann Lee" || !sameStrings(d["roles"], "manager", "support") || d["email_verified"] != true {
			t.Fatalf("create audit details = %v", d)
		}

		evs, seen := events.take()
		if len(evs) != 1 || evs[0].Event != db.EventUserCreated || evs[0].UserID != u.ID || evs[0].Email != u.Email ||
			evs[0].Actor.Email != admin.Email {
			t.Fatalf("events = %+v, want one user_created for %s", evs, u.Email)
		}
		if seen[0] != "name=Ann Lee banned=false roles=manager,support" {
			t.Fatalf("the user_created handler saw %q: it ran before the commit", seen[0])
		}
	})

	t.Run("ErrUserAlreadyExists", func(t *testing.T) {
		insertUser(t, s, fixture{Email: "dup@example.com"})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		_, err := s.CreateUser(ctx, db.NewUser{Email: "DUP@Example.COM", Password: "second password ok", Roles: []string{"admin"}})
		wantErr(t, err, db.ErrUserAlreadyExists)
		if after := usersSnapshot(t, s); after != before {
			t.Fatalf("a refused duplicate changed the users table")
		}
		if n := len(auditRows(t, s)); n != audits {
			t.Fatalf("a refused duplicate wrote %d audit rows", n-audits)
		}
		if evs, _ := events.take(); len(evs) != 0 {
			t.Fatalf("a rolled-back CreateUser fired %+v", evs)
		}
	})

	cases := []struct {
		name  string
		nu    db.NewUser
		field string
	}{
		{"EmptyPassword", db.NewUser{Email: "p1@example.com", Password: ""}, "password"},
		{"ShortPassword", db.NewUser{Email: "p2@example.com", Password: "short pass"}, "password"},
		{"CommonPassword", db.NewUser{Email: "p3@example.com", Password: "Password1234"}, "password"},
		{"RepeatedPassword", db.NewUser{Email: "p4@example.com", Password: strings.Repeat("z", 20)}, "password"},
		{"TooLongPassword", db.NewUser{Email: "p5@example.com", Password: strings.Repeat("ab", 40)}, "password"},
		{"EmptyEmail", db.NewUser{Email: "  ", Password: "a fine password"}, "email"},
		{"NotAnEmail", db.NewUser{Email: "not-an-email", Password: "a fine password"}, "email"},
		{"NoDotInDomain", db.NewUser{Email: "a@b", Password: "a fine password"}, "email"},
		{"DisplayName", db.NewUser{Email: "Ann <a@b.com>", Password: "a fine password"}, "email"},
		{"TwoAddresses", db.NewUser{Email: "a@b.com, c@d.com", Password: "a fine password"}, "email"},
		{"NameTooLong", db.NewUser{Email: "n1@example.com", Name: strings.Repeat("é", 201), Password: "a fine password"}, "name"},
		{"NameControlChar", db.NewUser{Email: "n2@example.com", Name: "bad\x00name", Password: "a fine password"}, "name"},
		{"UnknownRole", db.NewUser{Email: "r1@example.com", Password: "a fine password", Roles: []string{"support", "superuser"}}, "roles"},
		{"RoleNotText", db.NewUser{Email: "r2@example.com", Password: "a fine password", Roles: []string{"admin\x00"}}, "roles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := usersSnapshot(t, s)
			audits := len(auditRows(t, s))
			_, err := s.CreateUser(ctx, c.nu)
			wantValidation(t, err, c.field)
			if after := usersSnapshot(t, s); after != before {
				t.Fatalf("a refused user changed the users table")
			}
			if n := len(auditRows(t, s)); n != audits {
				t.Fatalf("a refused user wrote %d audit rows", n-audits)
			}
		})
	}

	t.Run("ErrNoActor", func(t *testing.T) {
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		_, err := s.CreateUser(context.Background(), db.NewUser{Email: "noactor@example.com", Password: "a fine password"})
		wantErr(t, err, db.ErrNoActor)
		// An actor with an empty email names nobody either.
		_, err = s.CreateUser(db.WithActor(context.Background(), db.Actor{ID: "x"}), db.NewUser{Email: "noactor@example.com", Password: "a fine password"})
		wantErr(t, err, db.ErrNoActor)
		if after := usersSnapshot(t, s); after != before {
			t.Fatalf("a change without an actor changed the users table")
		}
		if n := len(auditRows(t, s)); n != audits {
			t.Fatalf("a change without an actor wrote %d audit rows", n-audits)
		}
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	u := insertUser(t, s, fixture{Email: "get@example.com", Name: "Get Me", Verified: true, Roles: []string{"support", "admin"}})
	other := insertUser(t, s, fixture{Email: "other@example.com"})
	if _, err := s.DB().Exec(`INSERT INTO refresh_tokens (user_id, token_hash, user_agent, ip, created_at, expires_at, revoked_at) VALUES
		($1, 'a', 'Firefox', '192.0.2.1', now() - interval '2 hours', now() + interval '1 day', NULL),
		($1, 'b', 'Curl', NULL, now() - interval '1 hour', now() + interval '1 day', now()),
		($2, 'c', 'Other', NULL, now(), now() + interval '1 day', NULL)`, u.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO oauth_accounts (user_id, provider, provider_user_id, email) VALUES
		($1, 'google', 'g-1', 'get@gmail.com'), ($1, 'github', 'gh-1', ''), ($2, 'github', 'gh-2', '')`, u.ID, other.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || got.Email != u.Email || got.Name != "Get Me" || !got.EmailVerified {
			t.Fatalf("GetUser = %+v", got.User)
		}
		if strings.Join(got.Roles, ",") != "admin,support" || !got.HasRole("admin") || got.HasRole("manager") {
			t.Fatalf("roles = %v", got.Roles)
		}
		if len(got.Sessions) != 2 {
			t.Fatalf("sessions = %+v, want the user's 2", got.Sessions)
		}
		// Newest first.
		s0, s1 := got.Sessions[0], got.Sessions[1]
		if s0.UserAgent != "Curl" || s0.Active(time.Now()) || s0.IP != "" {
			t.Fatalf("first session = %+v, want the revoked Curl one", s0)
		}
		if s1.UserAgent != "Firefox" || !s1.Active(time.Now()) || s1.IP != "192.0.2.1" {
			t.Fatalf("second session = %+v, want the live Firefox one", s1)
		}
		if len(got.OAuthAccounts) != 2 || got.OAuthAccounts[0].Provider != "github" ||
			got.OAuthAccounts[1].Provider != "google" || got.OAuthAccounts[1].Email != "get@gmail.com" {
			t.Fatalf("oauth accounts = %+v", got.OAuthAccounts)
		}
	})

	t.Run("NoSessions", func(t *testing.T) {
		plain := insertUser(t, s, fixture{Email: "plain@example.com"})
		got, err := s.GetUser(ctx, plain.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Sessions == nil || len(got.Sessions) != 0 || got.OAuthAccounts == nil || len(got.OAuthAccounts) != 0 || len(got.Roles) != 0 {
			t.Fatalf("a user with nothing = %+v", got)
		}
	})

	t.Run("UppercaseID", func(t *testing.T) {
		got, err := s.GetUser(ctx, strings.ToUpper(u.ID))
		if err != nil || got.ID != u.ID {
			t.Fatalf("GetUser(upper-case id) = %v, %v", got, err)
		}
	})

	for name, id := range map[string]string{
		"ErrNotFound":    "00000000-0000-4000-8000-000000000000",
		"MalformedID":    "not-a-uuid",
		"EmptyID":        "",
		"InjectionishID": "' OR 1=1 --",
		"AlmostUUID":     u.ID[:35] + "g",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := s.GetUser(ctx, id)
			wantErr(t, err, db.ErrNotFound)
			if got != nil {
				t.Fatalf("GetUser(%q) returned a user", id)
			}
			_, err = s.LoadUser(ctx, id)
			wantErr(t, err, db.ErrNotFound)
		})
	}

	t.Run("GetUserByEmail", func(t *testing.T) {
		got, err := s.GetUserByEmail(ctx, " GET@example.COM ")
		if err != nil || got.ID != u.ID {
			t.Fatalf("GetUserByEmail = %v, %v", got, err)
		}
		_, err = s.GetUserByEmail(ctx, "nobody@example.com")
		wantErr(t, err, db.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, "get@example.com\x00")
		wantErr(t, err, db.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, "\xffget@example.com")
		wantErr(t, err, db.ErrNotFound)
	})
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()

	t.Run("OK", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "old@example.com", Name: "Old Name"})
		var before time.Time
		if err := s.DB().Get(&before, `SELECT updated_at FROM users WHERE id = $1`, u.ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Name: ptr(" New Name "), Email: ptr("New@Example.com"), EmailVerified: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "New Name" || got.Email != "New@Example.com" || !got.EmailVerified {
			t.Fatalf("updated = %+v", got)
		}
		fresh, err := s.GetUser(ctx, u.ID)
		if err != nil || fresh.Name != "New Name" || fresh.Email != "New@Example.com" || !fresh.EmailVerified {
			t.Fatalf("reloaded = %+v, %v", fresh, err)
		}
		if !fresh.UpdatedAt.After(before) {
			t.Fatalf("updated_at did not move: %v -> %v", before, fresh.UpdatedAt)
		}
		// Only the fields given change.
		got, err = s.UpdateUser(ctx, u.ID, db.UserUpdate{EmailVerified: ptr(false)})
		if err != nil || got.Name != "New Name" || got.Email != "New@Example.com" || got.EmailVerified {
			t.Fatalf("partial update = %+v, %v", got, err)
		}
	})

	t.Run("ErrUserAlreadyExists", func(t *testing.T) {
		insertUser(t, s, fixture{Email: "taken@example.com"})
		u := insertUser(t, s, fixture{Email: "mine@example.com", Name: "Mine"})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		_, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Email: ptr("TAKEN@example.com"), Name: ptr("Changed")})
		wantErr(t, err, db.ErrUserAlreadyExists)
		if usersSnapshot(t, s) != before {
			t.Fatalf("a refused update changed the users table")
		}
		if n := len(auditRows(t, s)); n != audits {
			t.Fatalf("a refused update wrote %d audit rows", n-audits)
		}
	})

	t.Run("SameEmailOtherCase", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "case@example.com"})
		got, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Email: ptr("Case@Example.com")})
		if err != nil || got.Email != "Case@Example.com" {
			t.Fatalf("recasing one's own email = %v, %v", got, err)
		}
	})

	t.Run("NoOpWritesNoAudit", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "same@example.com", Name: "Same", Verified: true})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		for _, up := range []db.UserUpdate{
			{},
			{Name: ptr("Same"), Email: ptr("same@example.com"), EmailVerified: ptr(true)},
			{Name: ptr("  Same  ")},
		} {
			got, err := s.UpdateUser(ctx, u.ID, up)
			if err != nil || got.Name != "Same" {
				t.Fatalf("no-op update = %v, %v", got, err)
			}
		}
		if usersSnapshot(t, s) != before {
			t.Fatalf("a no-op update changed the users table")
		}
		if n := len(auditRows(t, s)); n != audits {
			t.Fatalf("a no-op update wrote %d audit rows", n-audits)
		}
	})

	t.Run("Validation", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "valid@example.com"})
		_, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Email: ptr("not-an-email")})
		wantValidation(t, err, "email")
		_, err = s.UpdateUser(ctx, u.ID, db.UserUpdate{Name: ptr(strings.Repeat("é", 201))})
		wantValidation(t, err, "name")
		// 200 characters is the limit, counted in characters, not bytes.
		long := strings.Repeat("é", 200)
		if got, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Name: &long}); err != nil || got.Name != long {
			t.Fatalf("a 200-character name = %v, %v", got, err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.UpdateUser(ctx, "00000000-0000-4000-8000-000000000000", db.UserUpdate{Name: ptr("x")})
		wantErr(t, err, db.ErrNotFound)
		_, err = s.UpdateUser(ctx, "nope", db.UserUpdate{Name: ptr("x")})
		wantErr(t, err, db.ErrNotFound)
	})

	t.Run("ErrNoActor", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "noactor-up@example.com"})
		_, err := s.UpdateUser(context.Background(), u.ID, db.UserUpdate{Name: ptr("x")})
		wantErr(t, err, db.ErrNoActor)
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	admin := staff(t, s, "admin@example.com", "admin")

	t.Run("OK", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "gone@example.com", Roles: []string{"support", "manager"}})
		keep := insertUser(t, s, fixture{Email: "keep@example.com", Roles: []string{"support"}})
		for _, id := range []string{u.ID, keep.ID} {
			mustExec(t, s, `INSERT INTO refresh_tokens (user_id, token_hash, expires_at)
				SELECT $1, convert_to(gen_random_uuid()::text, 'UTF8'), now() + interval '1 day' FROM generate_series(1, 2)`, id)
			mustExec(t, s, `INSERT INTO oauth_accounts (user_id, provider, provider_user_id) VALUES ($1, 'github', $2)`, id, "gh-"+id)
			mustExec(t, s, `INSERT INTO verification_tokens (user_id, token_hash, expires_at)
				VALUES ($1, convert_to(gen_random_uuid()::text, 'UTF8'), now() + interval '1 day')`, id)
		}
		// Something in the audit log about the user before the delete.
		if _, err := s.UpdateUser(ctx, u.ID, db.UserUpdate{Name: ptr("About to go")}); err != nil {
			t.Fatal(err)
		}
		children := []string{"user_roles", "refresh_tokens", "oauth_accounts", "verification_tokens"}
		for _, table := range children {
			if n := countRows(t, s, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, u.ID); n == 0 {
				t.Fatalf("fixture: no %s rows", table)
			}
		}
		keepCounts := map[string]int{}
		for _, table := range children {
			keepCounts[table] = countRows(t, s, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, keep.ID)
		}

		if err := s.DeleteUser(asUser(admin), u.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		_, err := s.GetUser(ctx, u.ID)
		wantErr(t, err, db.ErrNotFound)
		for _, table := range children {
			if n := countRows(t, s, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, u.ID); n != 0 {
				t.Fatalf("%d %s rows of the deleted user remain", n, table)
			}
			if n := countRows(t, s, `SELECT count(*) FROM `+table+` WHERE user_id = $1`, keep.ID); n != keepCounts[table] {
				t.Fatalf("deleting another user changed keep's %s rows: %d -> %d", table, keepCounts[table], n)
			}
		}
		page, err := s.ListAudit(ctx, db.AuditFilter{TargetID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 2 || page.Entries[0].Action != db.ActionDelete || page.Entries[1].Action != db.ActionUpdate {
			t.Fatalf("audit rows about the deleted user = %+v", page.Entries)
		}
		for _, e := range page.Entries {
			if e.TargetID == nil || *e.TargetID != u.ID || e.TargetEmail != u.Email {
				t.Fatalf("audit row lost its target: %+v", e)
			}
		}
		del := page.Entries[0]
		if del.ActorID == nil || *del.ActorID != admin.ID || del.ActorEmail != admin.Email {
			t.Fatalf("delete audit row names actor %v %q, want %s", del.ActorID, del.ActorEmail, admin.Email)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "race@example.com", Roles: []string{"support"}})
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.DeleteUser(ctx, u.ID)
			}()
		}
		close(start)
		wg.Wait()
		ok, notFound := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, db.ErrNotFound):
				notFound++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || notFound != n-1 {
			t.Fatalf("%d deletes succeeded and %d were ErrNotFound, want 1 and %d", ok, notFound, n-1)
		}
		if c := countRows(t, s, `SELECT count(*) FROM audit_log WHERE action = $1 AND target_id = $2`, db.ActionDelete, u.ID); c != 1 {
			t.Fatalf("%d delete audit rows, want 1", c)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.DeleteUser(ctx, "00000000-0000-4000-8000-000000000000"), db.ErrNotFound)
		wantErr(t, s.DeleteUser(ctx, "malformed"), db.ErrNotFound)
		wantErr(t, s.DeleteUser(ctx, ""), db.ErrNotFound)
	})

	t.Run("ErrSelf", func(t *testing.T) {
		other := staff(t, s, "admin2@example.com", "admin")
		wantErr(t, s.DeleteUser(asUser(other), other.ID), db.ErrSelf)
		if _, err := s.GetUser(ctx, other.ID); err != nil {
			t.Fatalf("self-delete removed the user: %v", err)
		}
		mustExec(t, s, `DELETE FROM users WHERE id = $1`, other.ID)
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		// A banned admin is not an active admin, so does not count.
		banned := insertUser(t, s, fixture{Email: "banned-admin@example.com", Roles: []string{"admin"}, Banned: true})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		wantErr(t, s.DeleteUser(ctx, admin.ID), db.ErrLastAdmin)
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("a refused delete changed something")
		}
		// The banned admin can go: that leaves the active one.
		if err := s.DeleteUser(ctx, banned.ID); err != nil {
			t.Fatalf("deleting a banned admin: %v", err)
		}
	})

	t.Run("ErrNoActor", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "noactor-del@example.com"})
		wantErr(t, s.DeleteUser(context.Background(), u.ID), db.ErrNoActor)
		if _, err := s.GetUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	fs := insertUsers(t, s, []fixture{
		{Email: "Admin@Example.com", Roles: []string{"admin"}},
		{Email: "support@example.com", Roles: []string{"support"}},
		{Email: "manager@example.com", Roles: []string{"manager"}},
		{Email: "plain@example.com"},
		{Email: "banned@example.com", Roles: []string{"support"}, Banned: true},
		{Email: "banned-until@example.com", Roles: []string{"admin"}, Banned: true, BannedUntil: &future},
		{Email: "expired@example.com", Roles: []string{"support"}, Banned: true, BannedUntil: &past},
	})
	byEmail := map[string]fixture{}
	for _, f := range fs {
		byEmail[f.Email] = f
	}
	oauthOnly := insertUser(t, s, fixture{Email: "oauth@example.com", Roles: []string{"admin"}})
	mustExec(t, s, `UPDATE users SET password_hash = NULL WHERE id = $1`, oauthOnly.ID)

	for _, email := range []string{"Admin@Example.com", "support@example.com", "manager@example.com", "expired@example.com"} {
		t.Run("OK/"+email, func(t *testing.T) {
			f := byEmail[email]
			start := time.Now()
			// The email matches whatever its case.
			u, err := s.Authenticate(ctx, "  "+strings.ToUpper(email)+" ", testPassword)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if u.ID != f.ID || u.LastLoginAt == nil || u.LastLoginAt.Before(start.Add(-time.Second)) {
				t.Fatalf("signed-in user = %+v", u)
			}
			if u.Banned {
				t.Fatalf("a user who may sign in reads as banned")
			}
			page, err := s.ListAudit(ctx, db.AuditFilter{TargetID: f.ID, Action: db.ActionLogin})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Entries) != 1 {
				t.Fatalf("%d login audit rows, want 1", len(page.Entries))
			}
			e := page.Entries[0]
			if e.ActorID == nil || *e.ActorID != f.ID || e.ActorEmail != f.Email || e.TargetEmail != f.Email {
				t.Fatalf("login audit row = %+v", e)
			}
		})
	}

	refused := map[string][2]string{
		"WrongPassword":     {"support@example.com", testPassword + "x"},
		"EmptyPassword":     {"support@example.com", ""},
		"UnknownEmail":      {"nobody@example.com", testPassword},
		"PlainUser":         {"plain@example.com", testPassword},
		"Banned":            {"banned@example.com", testPassword},
		"BannedUntilFuture": {"banned-until@example.com", testPassword},
		"NoPassword":        {"oauth@example.com", testPassword},
		// Text PostgreSQL cannot hold is refused like any unknown email,
		// not with a database error.
		"NulInEmail":  {"support@example.com\x00", testPassword},
		"InvalidUTF8": {"support\xff@example.com", testPassword},
	}
	for name, c := range refused {
		t.Run("ErrInvalidCredentials/"+name, func(t *testing.T) {
			before := usersSnapshot(t, s)
			audits := len(auditRows(t, s))
			_, err := s.Authenticate(ctx, c[0], c[1])
			wantErr(t, err, db.ErrInvalidCredentials)
			if usersSnapshot(t, s) != before {
				t.Fatalf("a refused sign-in changed the users table")
			}
			// One row, user.login_failed, naming the email tried and the
			// reason, and never the password.
			rows := auditRows(t, s)
			if len(rows) != audits+1 {
				t.Fatalf("a refused sign-in wrote %d audit rows, want 1", len(rows)-audits)
			}
			page, err := s.ListAudit(ctx, db.AuditFilter{Action: db.ActionLoginFailed, Limit: 100})
			if err != nil || len(page.Entries) == 0 {
				t.Fatalf("no user.login_failed row: %v", err)
			}
			d := page.Entries[0].DetailsMap()
			if d["reason"] == "" || d["email"] == nil {
				t.Errorf("login_failed details %v: want email and reason", d)
			}
			if c[1] != "" && strings.Contains(fmt.Sprint(d), c[1]) {
				t.Errorf("login_failed details %v hold the password tried", d)
			}
		})
	}
}

func mustExec(t testing.TB, s *db.Store, q string, args ...any) {
	t.Helper()
	if _, err := s.DB().Exec(q, args...); err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
}
