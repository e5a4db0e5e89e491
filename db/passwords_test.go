package db_test

import (
	"context"
	"testing"

	"userpanel/db"
)

func TestBreachedPasswords(t *testing.T) {
	t.Parallel()
	if n := db.BreachedPasswords(); n < 10_000 {
		t.Fatalf("the breached list holds %d passwords, want at least 10,000: run make assets", n)
	}
	// Long enough for the length rule, but on the list, whatever the case.
	for _, p := range []string{"1qaz2wsx3edc", "Qwerty123456", "LEAVEMEALONE", "administrator"} {
		wantValidation(t, db.CheckPassword(p), "password")
	}
	if err := db.CheckPassword("violet-tram-orbit-1987"); err != nil {
		t.Errorf("a password off the list: %v", err)
	}
	// CreateUser follows the same list.
	s := newStore(t)
	_, err := s.CreateUser(sysCtx(), db.NewUser{Email: "x@example.com", Password: "qwerty123456"})
	wantValidation(t, err, "password")
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ann := staff(t, s, "ann@example.com", "support")
	ctx := asUser(ann)
	before, _ := s.LoadUser(context.Background(), ann.ID)

	t.Run("WrongCurrent", func(t *testing.T) {
		_, err := s.ChangeOwnPassword(ctx, "not-my-password", "a-brand-new-password")
		wantValidation(t, err, "current_password")
	})
	t.Run("Weak", func(t *testing.T) {
		_, err := s.ChangeOwnPassword(ctx, testPassword, "short")
		wantValidation(t, err, "password")
		_, err = s.ChangeOwnPassword(ctx, testPassword, "password1234")
		wantValidation(t, err, "password")
	})
	t.Run("Same", func(t *testing.T) {
		_, err := s.ChangeOwnPassword(ctx, testPassword, testPassword)
		wantValidation(t, err, "password")
	})
	t.Run("ErrNoActor", func(t *testing.T) {
		_, err := s.ChangeOwnPassword(context.Background(), testPassword, "a-brand-new-password")
		wantErr(t, err, db.ErrNoActor)
	})
	if got, _ := s.LoadUser(context.Background(), ann.ID); got.SessionVersion != before.SessionVersion {
		t.Fatal("a refused change ended the sessions")
	}
	t.Run("OK", func(t *testing.T) {
		mustExec(t, s, `UPDATE users SET password_change_required = true WHERE id = $1`, ann.ID)
		u, err := s.ChangeOwnPassword(ctx, testPassword, "a-brand-new-password")
		if err != nil {
			t.Fatal(err)
		}
		if u.SessionVersion == before.SessionVersion || u.MustChangePassword || u.PasswordChangedAt == nil {
			t.Errorf("after the change: %+v", u)
		}
		wantErr(t, signIn(s, ann.Email, testPassword, ""), db.ErrInvalidCredentials)
		if err := signIn(s, ann.Email, "a-brand-new-password", ""); err != nil {
			t.Fatalf("sign in with the new password: %v", err)
		}
		page, _ := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionPasswordChange, TargetID: ann.ID})
		if len(page.Entries) != 1 || page.Entries[0].ActorEmail != ann.Email {
			t.Errorf("audit %+v", page.Entries)
		}
	})
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	bob := staff(t, s, "bob@example.com", "support")
	before, _ := s.LoadUser(context.Background(), bob.ID)

	t.Run("ErrSelf", func(t *testing.T) {
		wantErr(t, s.SetPassword(asUser(admin), admin.ID, "a-brand-new-password", false), db.ErrSelf)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.SetPassword(asUser(admin), "00000000-0000-0000-0000-000000000000", "a-brand-new-password", false), db.ErrNotFound)
	})
	t.Run("Weak", func(t *testing.T) {
		wantValidation(t, s.SetPassword(asUser(admin), bob.ID, "iloveyou1234", false), "password")
	})
	t.Run("OK", func(t *testing.T) {
		if err := s.SetPassword(asUser(admin), bob.ID, "a-brand-new-password", true); err != nil {
			t.Fatal(err)
		}
		u, _ := s.LoadUser(context.Background(), bob.ID)
		if u.SessionVersion == before.SessionVersion || !u.MustChangePassword {
			t.Errorf("after set: version %d -> %d, must change %v", before.SessionVersion, u.SessionVersion, u.MustChangePassword)
		}
		if err := signIn(s, bob.Email, "a-brand-new-password", ""); err != nil {
			t.Fatal(err)
		}
		page, _ := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionPasswordSet, TargetID: bob.ID})
		if len(page.Entries) != 1 || page.Entries[0].DetailsMap()["must_change"] != true {
			t.Errorf("audit %+v", page.Entries)
		}
	})
	t.Run("RequirePasswordChange", func(t *testing.T) {
		mustExec(t, s, `UPDATE users SET password_change_required = false WHERE id = $1`, bob.ID)
		if err := s.RequirePasswordChange(asUser(admin), bob.ID); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.LoadUser(context.Background(), bob.ID); !u.MustChangePassword {
			t.Error("not required")
		}
		page, _ := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionPasswordForce, TargetID: bob.ID})
		if len(page.Entries) != 1 {
			t.Errorf("audit %+v", page.Entries)
		}
	})
}
