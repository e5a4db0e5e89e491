package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"userpanel/db"
)

func TestAuditEveryChange(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	// A second admin so that the target may lose admin and be deleted.
	staff(t, s, "admin2@example.com", "admin")
	actx := asUser(admin)
	// CreateUser's audit row is checked in TestCreateUser/OK, which keeps
	// the package's bcrypt calls few.
	target := insertUser(t, s, fixture{Email: "target@example.com", Name: "Target"})

	// stamp returns a time column of the target, to compare with the audit
	// row's time: now() is the transaction's start, so equal times mean the
	// change and its audit row were written by the same transaction.
	stamp := func(t *testing.T, column string) time.Time {
		t.Helper()
		var at time.Time
		if err := s.DB().Get(&at, `SELECT `+column+` FROM users WHERE id = $1`, target.ID); err != nil {
			t.Fatal(err)
		}
		return at
	}

	steps := []struct {
		action string
		change func(t *testing.T) error
		// sameTx is the users column the change sets to now(), if any.
		sameTx string
	}{
		{db.ActionUpdate, func(t *testing.T) error {
			_, err := s.UpdateUser(actx, target.ID, db.UserUpdate{Name: ptr("Renamed")})
			return err
		}, "updated_at"},
		{db.ActionRoles, func(t *testing.T) error { return s.SetRoles(actx, target.ID, []string{"support", "admin"}) }, "updated_at"},
		{db.ActionLogin, func(t *testing.T) error {
			_, err := s.Authenticate(context.Background(), target.Email, testPassword)
			return err
		}, "last_login_at"},
		{db.ActionBan, func(t *testing.T) error { return s.BanUser(actx, target.ID, "testing", nil) }, "banned_at"},
		{db.ActionUnban, func(t *testing.T) error { return s.UnbanUser(actx, target.ID) }, "updated_at"},
		{db.ActionRevokeSessions, func(t *testing.T) error {
			_, err := s.RevokeSessions(actx, target.ID)
			return err
		}, ""},
		{db.ActionDelete, func(t *testing.T) error { return s.DeleteUser(actx, target.ID) }, ""},
	}
	for _, step := range steps {
		t.Run(step.action, func(t *testing.T) {
			before := auditRows(t, s)
			if err := step.change(t); err != nil {
				t.Fatalf("%s: %v", step.action, err)
			}
			after := auditRows(t, s)
			if len(after) != len(before)+1 {
				t.Fatalf("%s wrote %d audit rows, want exactly 1", step.action, len(after)-len(before))
			}
			e := after[len(after)-1]
			wantActorID, wantActorEmail := admin.ID, admin.Email
			if step.action == db.ActionLogin {
				// Who signs in is the actor of their sign-in.
				wantActorID, wantActorEmail = target.ID, target.Email
			}
			if e.Action != step.action || e.ActorID == nil || *e.ActorID != wantActorID || e.ActorEmail != wantActorEmail ||
				e.TargetID == nil || *e.TargetID != target.ID || e.TargetEmail != target.Email {
				t.Fatalf("audit row = %+v, want %s by %s on %s/%s", e, step.action, wantActorEmail, target.ID, target.Email)
			}
			if step.sameTx != "" {
				if at := stamp(t, step.sameTx); !at.Equal(e.At) {
					t.Fatalf("users.%s = %v but the audit row is at %v: not the same transaction", step.sameTx, at, e.At)
				}
			}
		})
	}

	t.Run("SystemActor", func(t *testing.T) {
		u := insertUser(t, s, fixture{Email: "sys@example.com"})
		if _, err := s.UpdateUser(db.WithActor(context.Background(), db.SystemActor("cli")), u.ID, db.UserUpdate{Name: ptr("x")}); err != nil {
			t.Fatal(err)
		}
		e := mustAudit(t, s, u.ID, db.ActionUpdate)
		if e.ActorID != nil || e.ActorEmail != "system:cli" {
			t.Fatalf("system actor audit row = %+v", e)
		}
		d := e.DetailsMap()["name"].(map[string]any)
		if d["from"] != "" || d["to"] != "x" {
			t.Fatalf("update details = %v", e.DetailsMap())
		}
	})
}

func TestAuditFailedChangeWritesNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	u := insertUser(t, s, fixture{Email: "user@example.com", Roles: []string{"support"}})
	insertUser(t, s, fixture{Email: "taken@example.com"})
	actx := asUser(admin)

	for name, change := range map[string]func() error{
		"UpdateDuplicateEmail": func() error {
			_, err := s.UpdateUser(actx, u.ID, db.UserUpdate{Email: ptr("Taken@Example.com"), Name: ptr("new")})
			return err
		},
		"RemoveLastAdmin": func() error { return s.SetRoles(actx, admin.ID, []string{"support"}) },
		"BanLastAdmin":    func() error { return s.BanUser(sysCtx(), admin.ID, "x", nil) },
		"DeleteLastAdmin": func() error { return s.DeleteUser(sysCtx(), admin.ID) },
		"BanSelf":         func() error { return s.BanUser(actx, admin.ID, "x", nil) },
		"DeleteSelf":      func() error { return s.DeleteUser(actx, admin.ID) },
		"UnknownRole":     func() error { return s.SetRoles(actx, u.ID, []string{"support", "owner"}) },
		"NoActor":         func() error { return s.SetRoles(context.Background(), u.ID, nil) },
		"DeleteUnknown":   func() error { return s.DeleteUser(actx, "00000000-0000-4000-8000-000000000000") },
	} {
		t.Run(name, func(t *testing.T) {
			before := usersSnapshot(t, s)
			audits := len(auditRows(t, s))
			if err := change(); err == nil {
				t.Fatalf("the change succeeded")
			}
			if usersSnapshot(t, s) != before {
				t.Fatalf("a failed change changed the users table")
			}
			if n := len(auditRows(t, s)); n != audits {
				t.Fatalf("a failed change wrote %d audit rows", n-audits)
			}
		})
	}
}

func TestListAudit(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	actors := []string{"alice@example.com", "bob@example.com", "system:cli", "a_b@example.com"}
	actions := []string{db.ActionUpdate, db.ActionBan, db.ActionUnban}
	targets := []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}
	type row struct {
		ID                    int64
		At                    time.Time
		Actor, Action, Target string
		TargetEmail           string
	}
	var rows []row
	for i := range 120 {
		r := row{
			// Runs of equal times, so that the id breaks ties.
			At:     base.Add(time.Duration(i/4) * time.Minute),
			Actor:  actors[i%len(actors)],
			Action: actions[i%len(actions)],
			Target: targets[i%len(targets)],
		}
		r.TargetEmail = "target" + r.Target[len(r.Target)-1:] + "@example.com"
		if err := s.DB().Get(&r.ID, `INSERT INTO audit_log (at, actor_email, action, target_id, target_email)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, r.At, r.Actor, r.Action, r.Target, r.TargetEmail); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	// Newest first, then the higher id.
	slices.SortFunc(rows, func(a, b row) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	expect := func(keep func(row) bool) []int64 {
		var out []int64
		for _, r := range rows {
			if keep(r) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	walkAudit := func(t *testing.T, f db.AuditFilter) []int64 {
		t.Helper()
		var got []int64
		for page := 0; ; page++ {
			f.Offset = page * f.Limit
			p, err := s.ListAudit(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if p.Limit != f.Limit || p.Offset != f.Offset || len(p.Entries) > f.Limit {
				t.Fatalf("page %+v for %+v", p, f)
			}
			for _, e := range p.Entries {
				got = append(got, e.ID)
			}
			if !p.HasMore {
				return got
			}
			if len(p.Entries) != f.Limit {
				t.Fatalf("HasMore on a short page")
			}
		}
	}

	cases := []struct {
		name string
		f    db.AuditFilter
		keep func(row) bool
	}{
		{"All", db.AuditFilter{}, func(row) bool { return true }},
		{"Actor", db.AuditFilter{Actor: "ALICE"}, func(r row) bool { return r.Actor == "alice@example.com" }},
		{"ActorLiteralUnderscore", db.AuditFilter{Actor: "a_b"}, func(r row) bool { return r.Actor == "a_b@example.com" }},
		{"ActorSystem", db.AuditFilter{Actor: "system:"}, func(r row) bool { return r.Actor == "system:cli" }},
		{"Action", db.AuditFilter{Action: db.ActionBan}, func(r row) bool { return r.Action == db.ActionBan }},
		{"ActionIsExact", db.AuditFilter{Action: "user.ba"}, func(row) bool { return false }},
		{"TargetID", db.AuditFilter{TargetID: targets[1]}, func(r row) bool { return r.Target == targets[1] }},
		{"TargetIDMalformed", db.AuditFilter{TargetID: "nope"}, func(row) bool { return false }},
		{"TargetEmail", db.AuditFilter{Target: "TARGET1@"}, func(r row) bool { return r.Target == targets[0] }},
		{"Combined", db.AuditFilter{Actor: "bob", Action: db.ActionUnban, Target: "target2"}, func(r row) bool {
			return r.Actor == "bob@example.com" && r.Action == db.ActionUnban && r.Target == targets[1]
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := expect(c.keep)
			for _, limit := range []int{7, 10, 200} {
				f := c.f
				f.Limit = limit
				if got := walkAudit(t, f); !slices.Equal(got, want) {
					t.Fatalf("limit %d: got %d rows %v, want %d %v", limit, len(got), got, len(want), want)
				}
			}
		})
	}

	t.Run("HasMore", func(t *testing.T) {
		p, err := s.ListAudit(ctx, db.AuditFilter{Limit: 120})
		if err != nil || p.HasMore || len(p.Entries) != 120 {
			t.Fatalf("exactly one full page: HasMore=%v with %d, %v", p.HasMore, len(p.Entries), err)
		}
		p, err = s.ListAudit(ctx, db.AuditFilter{Limit: 119})
		if err != nil || !p.HasMore || len(p.Entries) != 119 {
			t.Fatalf("one row short: HasMore=%v with %d, %v", p.HasMore, len(p.Entries), err)
		}
		p, err = s.ListAudit(ctx, db.AuditFilter{Limit: 10, Offset: 500})
		if err != nil || p.HasMore || len(p.Entries) != 0 {
			t.Fatalf("past the end: %+v, %v", p, err)
		}
	})

	t.Run("Limit", func(t *testing.T) {
		for _, c := range []struct{ in, want int }{{0, 50}, {-3, 50}, {500, 200}} {
			p, err := s.ListAudit(ctx, db.AuditFilter{Limit: c.in, Offset: -4})
			if err != nil || p.Limit != c.want || p.Offset != 0 || len(p.Entries) != min(c.want, len(rows)) {
				t.Fatalf("Limit %d: Limit=%d Offset=%d with %d rows, %v", c.in, p.Limit, p.Offset, len(p.Entries), err)
			}
		}
	})

	t.Run("InvalidText", func(t *testing.T) {
		for field, f := range map[string]db.AuditFilter{
			"actor":  {Actor: "alice\x00"},
			"action": {Action: "user.ban\xff"},
			"target": {Target: "\x00"},
		} {
			_, err := s.ListAudit(ctx, f)
			wantValidation(t, err, field)
		}
	})

	t.Run("Fields", func(t *testing.T) {
		p, err := s.ListAudit(ctx, db.AuditFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		e, r := p.Entries[0], rows[0]
		if e.ID != r.ID || !e.At.Equal(r.At) || e.ActorEmail != r.Actor || e.Action != r.Action ||
			e.TargetID == nil || *e.TargetID != r.Target || e.TargetEmail != r.TargetEmail || e.ActorID != nil {
			t.Fatalf("entry %+v, want %+v", e, r)
		}
		if d := e.DetailsMap(); d == nil || len(d) != 0 {
			t.Fatalf("details of a bare row = %v", d)
		}
		if fmt.Sprint(db.AuditEntry{Details: "not json"}.DetailsMap()) != "map[]" {
			t.Fatalf("malformed details do not decode to an empty map")
		}
	})
}
