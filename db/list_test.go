package db_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"userpanel/db"
)

// listFixtures builds a user table with everything the list has to get
// right: ties in every sort column, NULL sign-in times, mixed case, unicode,
// LIKE metacharacters, bans in force and expired, and overlapping roles.
func listFixtures(now time.Time) []fixture {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	names := []string{"alice", "Bob", "carol", "Dave", "Émile Zola", "émile Dupont", "Straße", "日本語ユーザー", "zoë", "Zed", "", "ann-marie"}
	var fs []fixture
	for i := range 150 {
		f := fixture{
			// Mixed-case emails: the email sort ignores case.
			Email:    fmt.Sprintf("%s%03d@example.com", []string{"user", "User", "USER", "member"}[i%4], (i*37)%150),
			Name:     names[i%len(names)],
			Verified: i%2 == 0,
			// Ten distinct creation times: fifteen users share each.
			CreatedAt: base.Add(time.Duration(i%10) * time.Minute),
		}
		if i%3 != 0 {
			f.LastLoginAt = ptr(base.Add(time.Duration(i%7) * time.Hour))
		}
		switch i % 11 {
		case 0:
			f.Banned = true
		case 1:
			f.Banned, f.BannedUntil = true, ptr(now.Add(48*time.Hour))
		case 2:
			f.Banned, f.BannedUntil = true, ptr(now.Add(-48*time.Hour))
		}
		if i%5 == 0 {
			f.Roles = append(f.Roles, "admin")
		}
		if i%4 == 0 {
			f.Roles = append(f.Roles, "support")
		}
		if i%6 == 0 {
			f.Roles = append(f.Roles, "manager")
		}
		fs = append(fs, f)
	}
	// The search's literal characters and their decoys.
	for i, name := range []string{"100% real", "100 real", "a_b", "axb", `back\slash`, "backslash", "50%_off", "ÉCOLE", "école"} {
		fs = append(fs, fixture{Email: fmt.Sprintf("special%d@example.org", i), Name: name, CreatedAt: base.Add(time.Hour), Verified: i%2 == 1})
	}
	fs = append(fs, fixture{Email: "under_score@example.org", Name: "Under Score", CreatedAt: base.Add(time.Hour)})
	// The application may store a line break in a name; the panel never does.
	fs = append(fs, fixture{Email: "multi@example.org", Name: "two\nlines", CreatedAt: base.Add(time.Hour)})
	return fs
}

// matches is the Go statement of the filter, written from the
// documentation rather than from the SQL.
func matches(f fixture, flt db.Filter, now time.Time) bool {
	if q := strings.ToLower(strings.TrimSpace(flt.Query)); q != "" {
		if !strings.Contains(strings.ToLower(f.Email), q) && !strings.Contains(strings.ToLower(f.Name), q) {
			return false
		}
	}
	if flt.Banned != nil && f.bannedAt(now) != *flt.Banned {
		return false
	}
	if flt.Verified != nil && f.Verified != *flt.Verified {
		return false
	}
	if flt.Role != "" && !slices.Contains(f.Roles, flt.Role) {
		return false
	}
	return true
}

// expectedOrder sorts fs as ListUsers documents: by the key, ties broken by
// id, NULL sign-ins first when ascending; descending is the exact reverse.
func expectedOrder(fs []fixture, sortBy, order string) []fixture {
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b fixture) int {
		var c int
		switch sortBy {
		case db.SortCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		case db.SortEmail:
			c = strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email))
		case db.SortName:
			// Alphabetical whatever the case ("alice" before "Bob").
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case db.SortLastLoginAt:
			switch {
			case a.LastLoginAt == nil && b.LastLoginAt == nil:
				c = 0
			case a.LastLoginAt == nil:
				c = -1
			case b.LastLoginAt == nil:
				c = 1
			default:
				c = a.LastLoginAt.Compare(*b.LastLoginAt)
			}
		default:
			panic("unknown sort key " + sortBy)
		}
		return cmp.Or(c, strings.Compare(a.ID, b.ID))
	})
	if order == db.OrderDesc {
		slices.Reverse(out)
	}
	return out
}

func filterFixtures(fs []fixture, flt db.Filter, now time.Time) []fixture {
	var out []fixture
	for _, f := range fs {
		if matches(f, flt, now) {
			out = append(out, f)
		}
	}
	return out
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func fixtureIDs(fs []fixture) []string { return ids(fs, func(f fixture) string { return f.ID }) }
func userIDs(us []db.User) []string    { return ids(us, func(u db.User) string { return u.ID }) }

// walk reads every page of p with p.Limit per page and returns the users in
// the order the pages gave them, checking each page's bookkeeping.
func walk(t *testing.T, s *db.Store, p db.ListParams, wantTotal int) []db.User {
	t.Helper()
	var all []db.User
	for page := 0; ; page++ {
		p.Offset = page * p.Limit
		res, err := s.ListUsers(sysCtx(), p)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", p, err)
		}
		if res.Total != int64(wantTotal) || res.Limit != p.Limit || res.Offset != p.Offset {
			t.Fatalf("page %d: Total=%d Limit=%d Offset=%d, want %d %d %d", page, res.Total, res.Limit, res.Offset, wantTotal, p.Limit, p.Offset)
		}
		all = append(all, res.Users...)
		if len(res.Users) < p.Limit {
			return all
		}
		if page > wantTotal {
			t.Fatalf("more pages than users")
		}
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := sysCtx()
	now := time.Now()
	fs := insertUsers(t, s, listFixtures(now))
	byID := map[string]fixture{}
	for _, f := range fs {
		byID[f.ID] = f
	}

	t.Run("Defaults", func(t *testing.T) {
		res, err := s.ListUsers(ctx, db.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		want := expectedOrder(fs, db.SortCreatedAt, db.OrderDesc)[:20]
		if res.Limit != 20 || res.Offset != 0 || res.Total != int64(len(fs)) {
			t.Fatalf("Limit=%d Offset=%d Total=%d, want 20 0 %d", res.Limit, res.Offset, res.Total, len(fs))
		}
		if !slices.Equal(userIDs(res.Users), fixtureIDs(want)) {
			t.Fatalf("default order is not newest first")
		}
		// Every row carries its own roles, ban state and fields.
		for _, u := range res.Users {
			f := byID[u.ID]
			roles := slices.Clone(f.Roles)
			slices.Sort(roles)
			if u.Email != f.Email || u.Name != f.Name || u.EmailVerified != f.Verified ||
				u.Banned != f.bannedAt(now) || !slices.Equal([]string(u.Roles), roles) || !u.CreatedAt.Equal(f.CreatedAt) {
				t.Fatalf("row %+v does not match its fixture %+v", u, f)
			}
		}
	})

	t.Run("Search", func(t *testing.T) {
		cases := []struct {
			q    string
			want []string // names, when the test names them
		}{
			{q: "100%", want: []string{"100% real"}},
			{q: "0% r", want: []string{"100% real"}},
			{q: "%", want: []string{"100% real", "50%_off"}},
			{q: "a_b", want: []string{"a_b"}},
			{q: "%_", want: []string{"50%_off"}},
			{q: `k\s`, want: []string{`back\slash`}},
			{q: `\`, want: []string{`back\slash`}},
			{q: "ÉMILE", want: []string{"Émile Zola", "émile Dupont"}},
			{q: "école", want: []string{"ÉCOLE", "école"}},
			{q: "straße", want: []string{"Straße"}},
			{q: "日本", want: []string{"日本語ユーザー"}},
			{q: "  ZOË "},
			{q: "_score"},
			{q: "USER01"},
			{q: "@EXAMPLE.ORG"},
			{q: "nothing matches this"},
			// users.search joins email and name with a line break: a search
			// never matches across the two, but finds one inside a name.
			{q: "example.org\nunder"},
			{q: "o\nL", want: []string{"two\nlines"}},
		}
		for _, c := range cases {
			t.Run(c.q, func(t *testing.T) {
				flt := db.Filter{Query: c.q}
				want := expectedOrder(filterFixtures(fs, flt, now), db.SortEmail, db.OrderAsc)
				if c.want != nil {
					var names []string
					for _, f := range want {
						if !slices.Contains(names, f.Name) {
							names = append(names, f.Name)
						}
					}
					slices.Sort(names)
					if !slices.Equal(names, c.want) {
						t.Fatalf("test bug: Go filter finds names %q, the case says %q", names, c.want)
					}
				}
				if c.want == nil && len(want) == 0 && c.q != "nothing matches this" && !strings.Contains(c.q, "\n") {
					t.Fatalf("test bug: %q matches no fixture", c.q)
				}
				res, err := s.ListUsers(ctx, db.ListParams{Filter: flt, SortBy: db.SortEmail, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(userIDs(res.Users), fixtureIDs(want)) || res.Total != int64(len(want)) {
					t.Fatalf("search %q found %d users (total %d), want %d", c.q, len(res.Users), res.Total, len(want))
				}
			})
		}
	})

	t.Run("Sort", func(t *testing.T) {
		for _, key := range []string{db.SortCreatedAt, db.SortEmail, db.SortName, db.SortLastLoginAt} {
			for _, order := range []string{db.OrderAsc, db.OrderDesc, ""} {
				t.Run(key+"/"+cmp.Or(order, "default"), func(t *testing.T) {
					wantOrder := cmp.Or(order, db.DefaultOrder(key))
					want := expectedOrder(fs, key, wantOrder)
					// A page size that divides nothing evenly, so that
					// page boundaries fall inside runs of ties.
					got := walk(t, s, db.ListParams{SortBy: key, SortOrder: order, Limit: 7}, len(fs))
					if !slices.Equal(userIDs(got), fixtureIDs(want)) {
						for i := range min(len(got), len(want)) {
							if got[i].ID != want[i].ID {
								t.Fatalf("order differs at %d: got %q/%q, want %q/%q", i, got[i].Email, got[i].Name, want[i].Email, want[i].Name)
							}
						}
						t.Fatalf("got %d users, want %d", len(got), len(want))
					}
				})
			}
		}
		if db.DefaultOrder(db.SortName) != db.OrderAsc || db.DefaultOrder(db.SortCreatedAt) != db.OrderDesc {
			t.Fatalf("default orders changed")
		}
	})

	t.Run("PagesOfTiesWithFilter", func(t *testing.T) {
		// A filtered walk, three to a page, over runs of equal and NULL sign-in times.
		flt := db.Filter{Banned: ptr(false), Verified: ptr(true)}
		want := expectedOrder(filterFixtures(fs, flt, now), db.SortLastLoginAt, db.OrderDesc)
		got := walk(t, s, db.ListParams{Filter: flt, SortBy: db.SortLastLoginAt, SortOrder: db.OrderDesc, Limit: 3}, len(want))
		if !slices.Equal(userIDs(got), fixtureIDs(want)) {
			t.Fatalf("walk over ties is not the expected order")
		}
	})

	t.Run("InvalidSort", func(t *testing.T) {
		for _, p := range []db.ListParams{
			{SortBy: "password_hash"},
			{SortBy: "email; DROP TABLE users"},
			{SortBy: "EMAIL"},
			{SortBy: "name", SortOrder: "sideways"},
			{SortBy: "name", SortOrder: "asc, id"},
		} {
			_, err := s.ListUsers(ctx, p)
			field := "sort"
			if db.ValidSort(p.SortBy) {
				field = "order"
			}
			wantValidation(t, err, field)
		}
		if n := countRows(t, s, `SELECT count(*) FROM users`); n != len(fs) {
			t.Fatalf("users table has %d rows after invalid sorts, want %d", n, len(fs))
		}
	})

	t.Run("InvalidQuery", func(t *testing.T) {
		_, err := s.ListUsers(ctx, db.ListParams{Filter: db.Filter{Query: strings.Repeat("é", 201)}})
		wantValidation(t, err, "q")
		_, err = s.CountUsers(ctx, db.Filter{Query: "bad \xff utf-8"})
		wantValidation(t, err, "q")
		_, err = s.ListUsers(ctx, db.ListParams{Filter: db.Filter{Query: "nul\x00byte"}})
		wantValidation(t, err, "q")
		_, err = s.ListUsers(ctx, db.ListParams{Filter: db.Filter{Role: "admin\x00"}})
		wantValidation(t, err, "role")
		_, err = s.CountUsers(ctx, db.Filter{Role: "\xff"})
		wantValidation(t, err, "role")
	})

	t.Run("Limit", func(t *testing.T) {
		for _, c := range []struct{ in, want int }{{0, 20}, {500, 100}, {-5, 1}, {1, 1}, {100, 100}, {37, 37}} {
			res, err := s.ListUsers(ctx, db.ListParams{Limit: c.in})
			if err != nil {
				t.Fatal(err)
			}
			if res.Limit != c.want || len(res.Users) != c.want {
				t.Fatalf("Limit %d: result Limit=%d with %d users, want %d", c.in, res.Limit, len(res.Users), c.want)
			}
		}
		res, err := s.ListUsers(ctx, db.ListParams{Offset: -10, Limit: 5})
		if err != nil || res.Offset != 0 || len(res.Users) != 5 {
			t.Fatalf("negative offset: %+v, %v", res, err)
		}
		res, err = s.ListUsers(ctx, db.ListParams{Offset: len(fs) + 10})
		if err != nil || res.Users == nil || len(res.Users) != 0 || res.Total != int64(len(fs)) {
			t.Fatalf("offset past the end: %+v, %v", res, err)
		}
	})

	t.Run("SkipTotal", func(t *testing.T) {
		res, err := s.ListUsers(ctx, db.ListParams{SkipTotal: true, Limit: 10, Filter: db.Filter{Role: "admin"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != -1 || len(res.Users) != 10 {
			t.Fatalf("SkipTotal: Total=%d with %d users, want -1 and 10", res.Total, len(res.Users))
		}
	})

	t.Run("CombinedFilters", func(t *testing.T) {
		bools := []*bool{nil, ptr(true), ptr(false)}
		for _, q := range []string{"", "user", "ALICE", "_", "é", "@example.org"} {
			for _, banned := range bools {
				for _, verified := range bools {
					for _, role := range []string{"", "admin", "support", "manager", "nosuchrole"} {
						flt := db.Filter{Query: q, Banned: banned, Verified: verified, Role: role}
						name := fmt.Sprintf("q=%q banned=%s verified=%s role=%q", q, fmtBool(banned), fmtBool(verified), role)
						want := expectedOrder(filterFixtures(fs, flt, now), db.SortEmail, db.OrderAsc)
						res, err := s.ListUsers(ctx, db.ListParams{Filter: flt, SortBy: db.SortEmail, Limit: 100})
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if res.Total != int64(len(want)) {
							t.Fatalf("%s: Total %d, want %d", name, res.Total, len(want))
						}
						if !slices.Equal(userIDs(res.Users), fixtureIDs(want[:min(100, len(want))])) {
							t.Fatalf("%s: the page does not hold the expected users", name)
						}
						n, err := s.CountUsers(ctx, flt)
						if err != nil || n != int64(len(want)) {
							t.Fatalf("%s: CountUsers = %d, %v, want %d", name, n, err, len(want))
						}
					}
				}
			}
		}
	})

	t.Run("TotalIsWhatTheWalkFinds", func(t *testing.T) {
		for _, flt := range []db.Filter{{}, {Banned: ptr(true)}, {Banned: ptr(false), Verified: ptr(false)}, {Role: "support", Query: "user"}} {
			n, err := s.CountUsers(ctx, flt)
			if err != nil {
				t.Fatal(err)
			}
			got := walk(t, s, db.ListParams{Filter: flt, Limit: 9}, int(n))
			seen := map[string]bool{}
			for _, u := range got {
				if seen[u.ID] {
					t.Fatalf("%+v: %s twice", flt, u.Email)
				}
				seen[u.ID] = true
				if !matches(byID[u.ID], flt, now) {
					t.Fatalf("%+v: %s does not match", flt, u.Email)
				}
			}
			if int64(len(got)) != n {
				t.Fatalf("%+v: CountUsers says %d, the walk finds %d", flt, n, len(got))
			}
		}
	})
}

func fmtBool(b *bool) string {
	if b == nil {
		return "any"
	}
	return fmt.Sprint(*b)
}
