package db_test

import (
	"errors"
	"testing"

	"userpanel/db"
)

// TestWhoActsOnWhom: support bans, unbans and signs out users who hold no
// staff role, and nobody else; admins act on anyone; a manager on nobody.
// Every refusal is db.ErrForbidden (code EForbidden) and changes nothing.
func TestWhoActsOnWhom(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", db.RoleAdmin)
	staff(t, s, "admin2@example.com", db.RoleAdmin)
	support := staff(t, s, "support@example.com", db.RoleSupport)
	manager := staff(t, s, "manager@example.com", db.RoleManager)

	type change struct {
		name string
		do   func(actor fixture, target string) error
	}
	changes := []change{
		{"Ban", func(a fixture, id string) error { return s.BanUser(asUser(a), id, "spam", nil) }},
		{"Unban", func(a fixture, id string) error { return s.UnbanUser(asUser(a), id) }},
		{"RevokeSessions", func(a fixture, id string) error { _, err := s.RevokeSessions(asUser(a), id); return err }},
		{"Edit", func(a fixture, id string) error {
			_, err := s.UpdateUser(asUser(a), id, db.UserUpdate{Name: ptr("Renamed")})
			return err
		}},
		{"SetRoles", func(a fixture, id string) error { return s.SetRoles(asUser(a), id, []string{db.RoleManager}) }},
		{"Delete", func(a fixture, id string) error { return s.DeleteUser(asUser(a), id) }},
	}
	moderation := map[string]bool{"Ban": true, "Unban": true, "RevokeSessions": true}
	for _, ch := range changes {
		for _, actor := range []struct {
			name string
			f    fixture
		}{{"Admin", admin}, {"Support", support}, {"Manager", manager}} {
			for _, targetRoles := range [][]string{nil, {db.RoleSupport}, {db.RoleAdmin}} {
				tname := "Plain"
				if targetRoles != nil {
					tname = "Staff_" + targetRoles[0]
				}
				t.Run(ch.name+"/"+actor.name+"/"+tname, func(t *testing.T) {
					target := insertUser(t, s, fixture{Email: ch.name + actor.name + tname + "@example.com",
						Roles: targetRoles, Banned: ch.name == "Unban"})
					allowed := actor.name == "Admin" ||
						actor.name == "Support" && moderation[ch.name] && targetRoles == nil
					before, audits := usersSnapshot(t, s), len(auditRows(t, s))
					err := ch.do(actor.f, target.ID)
					if allowed {
						if err != nil {
							t.Fatalf("%s as %s on %s: %v, want it allowed", ch.name, actor.name, tname, err)
						}
						return
					}
					wantErr(t, err, db.ErrForbidden)
					if db.ErrorOf(err).Code != db.EForbidden {
						t.Fatalf("code = %q, want %q", db.ErrorOf(err).Code, db.EForbidden)
					}
					if usersSnapshot(t, s) != before || len(auditRows(t, s)) != audits {
						t.Fatalf("a refused %s changed something", ch.name)
					}
				})
			}
		}
	}

	t.Run("StaffTargetMessage", func(t *testing.T) {
		other := staff(t, s, "support2@example.com", db.RoleSupport)
		err := s.BanUser(asUser(support), other.ID, "spam", nil)
		if got, want := db.ErrorOf(err).Sentence(), "Only an admin may ban a staff member."; got != want {
			t.Fatalf("sentence = %q, want %q", got, want)
		}
	})

	t.Run("BannedActor", func(t *testing.T) {
		banned := insertUser(t, s, fixture{Email: "banned-support@example.com", Roles: []string{db.RoleSupport}, Banned: true})
		target := insertUser(t, s, fixture{Email: "victim@example.com"})
		wantErr(t, s.BanUser(asUser(banned), target.ID, "spam", nil), db.ErrForbidden)
	})

	t.Run("SystemActor", func(t *testing.T) {
		target := staff(t, s, "by-cli@example.com", db.RoleSupport)
		if err := s.BanUser(sysCtx(), target.ID, "cli", nil); err != nil {
			t.Fatalf("a system actor banning staff: %v", err)
		}
	})
}

// TestLastAdminCanSignIn: the last-admin guard counts only admins who can
// sign in, so an admin with no password does not let the last real one go.
func TestLastAdminCanSignIn(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", db.RoleAdmin)
	nopass := staff(t, s, "nopass@example.com", db.RoleAdmin)
	mustExec(t, s, `UPDATE users SET password_hash = NULL WHERE id = $1`, nopass.ID)
	insertUser(t, s, fixture{Email: "banned-admin@example.com", Roles: []string{db.RoleAdmin}, Banned: true})

	before := usersSnapshot(t, s)
	wantErr(t, s.SetRoles(sysCtx(), admin.ID, []string{db.RoleSupport}), db.ErrLastAdmin)
	wantErr(t, s.BanUser(sysCtx(), admin.ID, "x", nil), db.ErrLastAdmin)
	wantErr(t, s.DeleteUser(sysCtx(), admin.ID), db.ErrLastAdmin)
	if usersSnapshot(t, s) != before {
		t.Fatalf("a refused change to the last admin changed something")
	}
	// The admin without a password is not protected: removing them leaves
	// the one who can sign in.
	if err := s.SetRoles(sysCtx(), nopass.ID, nil); err != nil {
		t.Fatalf("removing admin from an admin who cannot sign in: %v", err)
	}
}

// TestErrorSentences: each refusal says what was refused, once.
func TestErrorSentences(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", db.RoleAdmin)
	for _, c := range []struct {
		name string
		err  error
		want string
		is   error
	}{
		{"BanSelf", s.BanUser(asUser(admin), admin.ID, "x", nil), "You cannot ban your own account.", db.ErrSelf},
		{"DeleteSelf", s.DeleteUser(asUser(admin), admin.ID), "You cannot delete your own account.", db.ErrSelf},
		{"LastAdmin", s.SetRoles(asUser(admin), admin.ID, nil), "This is the last active admin: grant admin to someone else first.", db.ErrLastAdmin},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, c.is) {
				t.Fatalf("err = %v, want errors.Is %v", c.err, c.is)
			}
			if got := db.ErrorOf(c.err).Sentence(); got != c.want {
				t.Fatalf("sentence = %q, want %q", got, c.want)
			}
		})
	}
}
