package db_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"userpanel/db"
)

func TestListRoles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	roles, err := s.ListRoles(sysCtx())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
		if r.Description == "" {
			t.Errorf("role %q has no description", r.Name)
		}
	}
	if strings.Join(names, ",") != "admin,manager,support" {
		t.Fatalf("roles = %v", names)
	}
}

func TestSetRoles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	admin := staff(t, s, "admin@example.com", "admin")

	rolesOf := func(t *testing.T, id string) string {
		t.Helper()
		u, err := s.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(u.Roles, ",")
	}

	t.Run("GrantAndRemove", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "roles@example.com", Roles: []string{"manager"}})
		if err := s.SetRoles(asUser(admin), u.ID, []string{"support", "admin", " support "}); err != nil {
			t.Fatal(err)
		}
		if got := rolesOf(t, u.ID); got != "admin,support" {
			t.Fatalf("roles = %q, want admin,support", got)
		}
		page, err := s.ListAudit(ctx, db.AuditFilter{TargetID: u.ID, Action: db.ActionRoles})
		if err != nil || len(page.Entries) != 1 {
			t.Fatalf("roles audit rows = %+v, %v", page.Entries, err)
		}
		e := page.Entries[0]
		if e.ActorID == nil || *e.ActorID != admin.ID || e.ActorEmail != admin.Email || e.TargetEmail != u.Email {
			t.Fatalf("audit row = %+v", e)
		}
		d := e.DetailsMap()
		if !sameStrings(d["added"], "admin", "support") || !sameStrings(d["removed"], "manager") {
			t.Fatalf("audit details = %v, want added [admin support], removed [manager]", d)
		}

		// Remove everything.
		if err := s.SetRoles(ctx, u.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got := rolesOf(t, u.ID); got != "" {
			t.Fatalf("roles = %q, want none", got)
		}
		page, _ = s.ListAudit(ctx, db.AuditFilter{TargetID: u.ID, Action: db.ActionRoles})
		if len(page.Entries) != 2 || !sameStrings(page.Entries[0].DetailsMap()["removed"], "admin", "support") {
			t.Fatalf("second roles audit row = %+v", page.Entries)
		}
	})

	t.Run("NoChangeNoAudit", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "same-roles@example.com", Roles: []string{"support"}})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		if err := s.SetRoles(ctx, u.ID, []string{"support", "support"}); err != nil {
			t.Fatal(err)
		}
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("setting the same roles changed something")
		}
	})

	t.Run("UnknownRole", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "unknown-role@example.com", Roles: []string{"support"}})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		wantValidation(t, s.SetRoles(ctx, u.ID, []string{"manager", "root"}), "roles")
		wantValidation(t, s.SetRoles(ctx, u.ID, []string{"manager", "admin\x00"}), "roles")
		wantValidation(t, s.SetRoles(ctx, u.ID, []string{"\xff"}), "roles")
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("a refused role change changed something")
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.SetRoles(ctx, "00000000-0000-4000-8000-000000000000", []string{"support"}), db.ErrNotFound)
		wantErr(t, s.SetRoles(ctx, "bad-id", []string{"support"}), db.ErrNotFound)
	})

	t.Run("ErrLastAdmin", func(t *testing.T) {
		// The only other admin is banned, and a banned admin is not an
		// active admin.
		insertUser(t, s, fixture{Email: "banned-admin@example.com", Roles: []string{"admin"}, Banned: true})
		before := usersSnapshot(t, s)
		audits := len(auditRows(t, s))
		wantErr(t, s.SetRoles(ctx, admin.ID, []string{"support"}), db.ErrLastAdmin)
		if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
			t.Fatalf("a refused role change changed something")
		}
		// Removing their own admin role is refused the same way.
		wantErr(t, s.SetRoles(asUser(admin), admin.ID, nil), db.ErrLastAdmin)
		// Other roles of the last admin may change.
		if err := s.SetRoles(ctx, admin.ID, []string{"admin", "manager"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoles(ctx, admin.ID, []string{"admin"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ExpiredBanCountsAsActiveAdmin", func(t *testing.T) {
		s := newStore(t)
		a := staff(t, s, "a@example.com", "admin")
		b := insertUser(t, s, fixture{Email: "b@example.com", Roles: []string{"admin"}, Banned: true, BannedUntil: ptr(time.Now().Add(-time.Hour))})
		if err := s.SetRoles(ctx, a.ID, nil); err != nil {
			t.Fatalf("b's ban has expired, so b is an active admin: %v", err)
		}
		wantErr(t, s.SetRoles(ctx, b.ID, nil), db.ErrLastAdmin)
	})

	t.Run("ConcurrentRemoval", func(t *testing.T) {
		s := newStore(t)
		a := staff(t, s, "a@example.com", "admin")
		b := staff(t, s, "b@example.com", "admin", "support")
		for round := range 5 {
			mustExec(t, s, `INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r
				WHERE r.name = 'admin' ON CONFLICT DO NOTHING`)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 2)
			for i, pair := range [][2]fixture{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					// Each admin removes admin from the other.
					errs[i] = s.SetRoles(asUser(pair[0]), pair[1].ID, []string{"support"})
				}()
			}
			close(start)
			wg.Wait()
			ok, last := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, db.ErrLastAdmin), errors.Is(err, db.ErrForbidden):
					// The loser is refused either as the last admin or, when
					// the winner committed first, as no longer an admin.
					last++
				default:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if ok != 1 || last != 1 {
				t.Fatalf("round %d: %d succeeded, %d refused, want 1 and 1", round, ok, last)
			}
			n, err := s.CountUsers(ctx, db.Filter{Role: "admin"})
			if err != nil || n != 1 {
				t.Fatalf("round %d: %d admins left, want 1 (%v)", round, n, err)
			}
		}
	})
}

// sameStrings reports whether v (a decoded JSON array) holds exactly want.
func sameStrings(v any, want ...string) bool {
	arr, _ := v.([]any)
	var got []string
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return false
		}
		got = append(got, s)
	}
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}
