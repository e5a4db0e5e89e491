package db_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"userpanel/db"
)

// listAll walks ListUsers page by page: what ExportUsers must equal.
func listAll(t *testing.T, s *db.Store, p db.ListParams) []string {
	t.Helper()
	var ids []string
	p.Limit = 7
	for p.Offset = 0; ; p.Offset += p.Limit {
		res, err := s.ListUsers(context.Background(), p)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", p, err)
		}
		for _, u := range res.Users {
			ids = append(ids, u.ID)
		}
		if len(res.Users) < p.Limit {
			return ids
		}
	}
}

func exportAll(t *testing.T, s *db.Store, p db.ListParams) []db.ExportedUser {
	t.Helper()
	var users []db.ExportedUser
	if err := s.ExportUsers(context.Background(), p, func(u db.ExportedUser) error {
		users = append(users, u)
		return nil
	}); err != nil {
		t.Fatalf("ExportUsers(%+v): %v", p, err)
	}
	return users
}

func TestExportUsers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	insertUsers(t, s, listFixtures(time.Now()))
	yes, no := true, false

	cases := map[string]db.ListParams{
		"Default":           {},
		"EmailAsc":          {SortBy: db.SortEmail},
		"NameDesc":          {SortBy: db.SortName, SortOrder: db.OrderDesc},
		"LastLoginAsc":      {SortBy: db.SortLastLoginAt, SortOrder: db.OrderAsc},
		"LastLoginDesc":     {SortBy: db.SortLastLoginAt, SortOrder: db.OrderDesc},
		"Search":            {Filter: db.Filter{Query: "émile"}},
		"SearchLiteral":     {Filter: db.Filter{Query: "100%"}},
		"Banned":            {Filter: db.Filter{Banned: &yes}},
		"NotBannedVerified": {Filter: db.Filter{Banned: &no, Verified: &yes}, SortBy: db.SortEmail},
		"Role":              {Filter: db.Filter{Role: "support"}, SortBy: db.SortName},
		"NoMatch":           {Filter: db.Filter{Query: "nobody-at-all"}},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := listAll(t, s, p)
			got := exportAll(t, s, p)
			ids := make([]string, len(got))
			for i, u := range got {
				ids[i] = u.ID
			}
			if !slices.Equal(ids, want) {
				t.Fatalf("export order differs from ListUsers:\n got %v\nwant %v", ids, want)
			}
		})
	}

	t.Run("FullRows", func(t *testing.T) {
		t.Parallel()
		p := db.ListParams{SortBy: db.SortEmail}
		got := exportAll(t, s, p)
		res, err := s.ListUsers(context.Background(), db.ListParams{SortBy: db.SortEmail, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for i, u := range res.Users {
			g := got[i]
			// Every field, each time to the microsecond.
			sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
			if g.ID != u.ID || g.Email != u.Email || g.Name != u.Name || g.Banned != u.Banned || g.EmailVerified != u.EmailVerified ||
				g.BanReason != u.BanReason || !sameTime(g.BannedUntil, u.BannedUntil) || !sameTime(g.LastLoginAt, u.LastLoginAt) ||
				!slices.Equal(g.Roles, u.Roles) || g.Roles == nil || !g.CreatedAt.Equal(u.CreatedAt) {
				t.Fatalf("row %d: export %+v, list %+v", i, g, u)
			}
		}
	})

	t.Run("FnErrorStops", func(t *testing.T) {
		t.Parallel()
		stop := errors.New("stop")
		calls := 0
		err := s.ExportUsers(context.Background(), db.ListParams{}, func(db.ExportedUser) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("err = %v, want fn's error", err)
		}
		if calls != 3 {
			t.Fatalf("fn called %d times after its error, want 3", calls)
		}
	})

	t.Run("ValidationError", func(t *testing.T) {
		t.Parallel()
		err := s.ExportUsers(context.Background(), db.ListParams{Filter: db.Filter{Query: "bad\x00text"}}, func(db.ExportedUser) error {
			t.Fatal("fn called for an invalid filter")
			return nil
		})
		wantValidation(t, err, "q")
		err = s.ExportUsers(context.Background(), db.ListParams{SortBy: "password_hash"}, func(db.ExportedUser) error { return nil })
		wantValidation(t, err, "sort")
	})
}

func TestRecordExport(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")

	t.Run("OK", func(t *testing.T) {
		if err := s.RecordExport(asUser(admin), map[string]any{"q": "bob"}, 42); err != nil {
			t.Fatal(err)
		}
		page, err := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionExport})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 1 {
			t.Fatalf("%d export rows, want 1", len(page.Entries))
		}
		e := page.Entries[0]
		if e.ActorEmail != admin.Email || e.ActorID == nil || *e.ActorID != admin.ID || e.TargetID != nil {
			t.Fatalf("audit row %+v", e)
		}
		d := e.DetailsMap()
		if d["rows"] != float64(42) {
			t.Fatalf("details %v: rows", d)
		}
		if f, _ := d["filters"].(map[string]any); f["q"] != "bob" {
			t.Fatalf("details %v: filters", d)
		}
	})

	t.Run("ErrNoActor", func(t *testing.T) {
		wantErr(t, s.RecordExport(context.Background(), nil, 1), db.ErrNoActor)
	})
}

func TestExistingUsers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	u := staff(t, s, "here@example.com")
	gone := "00000000-0000-4000-8000-000000000000"
	got, err := s.ExistingUsers(context.Background(), []string{u.ID, gone, "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	if !got[u.ID] || got[gone] || len(got) != 1 {
		t.Fatalf("ExistingUsers = %v, want only %s", got, u.ID)
	}
}
