package db_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"userpanel/db"
)

// Deep pages are found by other plans than a plain OFFSET (a hop through
// the per-day counts, covering indexes); they must hold exactly the rows a
// plain OFFSET query returns, in its order, page after page.
func TestListUsersDeepPages(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	now := dbNow(t, s)
	var fs []fixture
	for i := range 2600 {
		// Several users per day over about 100 days, some at the very same
		// instant (the id breaks the tie), some at a day's first instant,
		// and a few in the future.
		day := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 3-i%103)
		at := day.Add(time.Duration(i%7) * 3 * time.Hour)
		if i%13 == 0 {
			at = day
		}
		name := fmt.Sprintf("%s Jo%03dson", []string{"Ann", "bob", "Émile", "zoë"}[i%4], i%250)
		fs = append(fs, fixture{Email: fmt.Sprintf("user%04d@example.com", i), Name: name, CreatedAt: at})
	}
	insertUsers(t, s, fs)
	ctx := sysCtx()

	plain := func(where, order string, args []any, limit, offset int) []string {
		t.Helper()
		var ids []string
		q := `SELECT u.id FROM users u ` + where + ` ORDER BY ` + order + fmt.Sprintf(` LIMIT %d OFFSET %d`, limit, offset)
		if err := s.DB().Select(&ids, q, args...); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	ids := func(us []db.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	cases := []struct {
		name  string
		p     db.ListParams
		where string
		args  []any
		order string
	}{
		{"NewestFirst", db.ListParams{}, "", nil, "u.created_at DESC, u.id DESC"},
		{"OldestFirst", db.ListParams{SortOrder: db.OrderAsc}, "", nil, "u.created_at ASC, u.id ASC"},
		{"SearchByName", db.ListParams{Filter: db.Filter{Query: "son"}, SortBy: db.SortName, SortOrder: db.OrderAsc},
			"WHERE u.email ILIKE $1 OR u.name ILIKE $1", []any{"%son%"}, `lower(u.name) COLLATE "C" ASC, u.id ASC`},
		{"SearchByEmailDesc", db.ListParams{Filter: db.Filter{Query: "ER0"}, SortBy: db.SortEmail, SortOrder: db.OrderDesc},
			"WHERE u.email ILIKE $1 OR u.name ILIKE $1", []any{"%ER0%"}, `lower(u.email) COLLATE "C" DESC, u.id DESC`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			whole := plain(c.where, c.order, c.args, 10_000, 0)
			var walked []string
			for offset := 0; offset <= len(whole)+20; offset += 20 {
				p := c.p
				p.Limit, p.Offset = 20, offset
				res, err := s.ListUsers(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				got := ids(res.Users)
				if want := plain(c.where, c.order, c.args, 20, offset); !slices.Equal(got, want) {
					t.Fatalf("offset %d: ListUsers gives %d rows %v, plain OFFSET %d rows %v", offset, len(got), got, len(want), want)
				}
				walked = append(walked, got...)
			}
			if !slices.Equal(walked, whole) {
				t.Fatalf("the pages together hold %d users, the list %d, or in another order", len(walked), len(whole))
			}
			// Odd offsets and sizes, past the end too.
			for _, o := range []int{999, 1000, 1001, 1337, len(whole) - 1, len(whole), len(whole) + 500} {
				p := c.p
				p.Limit, p.Offset = 37, o
				res, err := s.ListUsers(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := ids(res.Users), plain(c.where, c.order, c.args, 37, max(o, 0)); !slices.Equal(got, want) {
					t.Fatalf("offset %d limit 37: ListUsers %v, plain OFFSET %v", o, got, want)
				}
			}
		})
	}

	t.Run("AfterDeletesAndInserts", func(t *testing.T) {
		if _, err := s.DB().Exec(`DELETE FROM users WHERE email LIKE 'user1%'`); err != nil {
			t.Fatal(err)
		}
		insertUser(t, s, fixture{Email: "late@example.com", CreatedAt: now.Add(-50 * 24 * time.Hour)})
		for _, o := range []int{1000, 1200, 1500} {
			res, err := s.ListUsers(ctx, db.ListParams{Limit: 20, Offset: o})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(res.Users), plain("", "u.created_at DESC, u.id DESC", nil, 20, o); !slices.Equal(got, want) {
				t.Fatalf("offset %d: ListUsers %v, plain OFFSET %v", o, got, want)
			}
		}
	})
}
