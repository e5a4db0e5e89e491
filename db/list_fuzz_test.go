package db_test

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"userpanel/db"
)

// fuzzUsers is the fixed data FuzzListUsers searches: ASCII only, so that
// Go's case folding and PostgreSQL's agree on every row, with names that
// repeat (the id tiebreak), % _ and \ in emails, bans in force, expired and
// permanent, and equal times.
func fuzzUsers() []fixture {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"Alice North", "bob south", "Carol_East", "dave 100%", `Eve\West`, "alice north"}
	var fs []fixture
	for i := range 36 {
		f := fixture{
			Email:     fmt.Sprintf("user%02d@%s.test", i, []string{"alpha", "beta", "ga%mma", "de_lta"}[i%4]),
			Name:      names[i%len(names)],
			Verified:  i%3 != 0,
			CreatedAt: base.Add(time.Duration(i%9) * time.Hour),
		}
		if i%4 != 0 {
			at := base.Add(time.Duration(i%5) * 24 * time.Hour)
			f.LastLoginAt = &at
		}
		switch i % 7 {
		case 1:
			f.Banned = true
		case 2:
			f.Banned = true
			past := time.Now().Add(-24 * time.Hour)
			f.BannedUntil = &past
		case 3:
			f.Banned = true
			future := time.Now().Add(48 * time.Hour)
			f.BannedUntil = &future
		}
		switch i % 5 {
		case 1:
			f.Roles = []string{"support"}
		case 2:
			f.Roles = []string{"admin", "manager"}
		}
		fs = append(fs, f)
	}
	return fs
}

// FuzzListUsers runs ListUsers with random filters, sort and paging over
// fuzzUsers and checks the page against a reference computed in Go: the same
// rows in the same order, and the same total. Parameters ListUsers refuses
// must be refused as input (a ValidationError), never as a database error.
func FuzzListUsers(f *testing.F) {
	s := newStore(f)
	users := insertUsers(f, s, fuzzUsers())
	byID := map[string]fixture{}
	for _, u := range users {
		byID[u.ID] = u
	}

	f.Add("", int8(0), int8(0), "", "", "", 0, 0)
	f.Add("alice", int8(1), int8(-1), "support", "email", "asc", 5, 2)
	f.Add("%", int8(-1), int8(1), "", "name", "desc", 100, 0)
	f.Add("_", int8(0), int8(0), "admin", "last_login_at", "asc", 3, 7)
	f.Add(`\`, int8(0), int8(0), "", "created_at", "desc", -4, -1)
	f.Add("  NORTH ", int8(1), int8(0), "manager", "last_login_at", "desc", 1000, 30)
	f.Add("a\x00b", int8(0), int8(0), "", "bogus", "", 0, 0)
	f.Add("user1", int8(0), int8(0), "nosuchrole", "email", "sideways", 0, 0)
	f.Add("ga%m", int8(0), int8(0), "\xff", "", "", 0, 0)

	f.Fuzz(func(t *testing.T, q string, banned, verified int8, role, sortBy, order string, limit, offset int) {
		p := db.ListParams{Filter: db.Filter{Query: q, Role: role}, SortBy: sortBy, SortOrder: order,
			Limit: limit, Offset: offset}
		if banned != 0 {
			p.Banned = ptr(banned > 0)
		}
		if verified != 0 {
			p.Verified = ptr(verified > 0)
		}
		res, err := s.ListUsers(sysCtx(), p)
		var ve *db.ValidationError
		if errors.As(err, &ve) {
			return
		}
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", p, err)
		}
		want := referenceList(users, p, time.Now())
		if !isASCII(q) || !isASCII(role) {
			// Case folding beyond ASCII is PostgreSQL's (and its locale's)
			// to decide; the reference only vouches for ASCII searches.
			return
		}
		if res.Total != int64(len(want.all)) {
			t.Fatalf("ListUsers(%+v): total %d, reference %d", p, res.Total, len(want.all))
		}
		got := make([]string, len(res.Users))
		for i, u := range res.Users {
			got[i] = u.ID
			if !slices.Equal([]string(u.Roles), sortedRoles(byID[u.ID].Roles)) {
				t.Fatalf("roles of %s = %v, want %v", u.Email, u.Roles, byID[u.ID].Roles)
			}
		}
		if !slices.Equal(got, want.page) {
			t.Fatalf("ListUsers(%+v):\n got %v\nwant %v", p, emailsByID(byID, got), emailsByID(byID, want.page))
		}
	})
}

// reference is what ListUsers should return, computed in Go.
type reference struct{ all, page []string }

func referenceList(users []fixture, p db.ListParams, now time.Time) reference {
	q := strings.ToLower(strings.TrimSpace(p.Query))
	role := strings.TrimSpace(p.Role)
	var rows []fixture
	for _, u := range users {
		if q != "" && !strings.Contains(strings.ToLower(u.Email), q) && !strings.Contains(strings.ToLower(u.Name), q) {
			continue
		}
		if p.Banned != nil && u.bannedAt(now) != *p.Banned {
			continue
		}
		if p.Verified != nil && u.Verified != *p.Verified {
			continue
		}
		if role != "" && !slices.Contains(u.Roles, role) {
			continue
		}
		rows = append(rows, u)
	}
	sortBy := p.SortBy
	if sortBy == "" {
		sortBy = db.SortCreatedAt
	}
	order := p.SortOrder
	if order == "" {
		order = db.DefaultOrder(sortBy)
	}
	desc := order == db.OrderDesc
	// less is the ascending order, id last; descending reverses all of it,
	// except that rows never logged in come first ascending and last
	// descending (NULLS FIRST / NULLS LAST), which reversal gives too.
	less := func(a, b fixture) int {
		var c int
		switch sortBy {
		case db.SortEmail:
			c = strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email))
		case db.SortName:
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case db.SortLastLoginAt:
			switch {
			case a.LastLoginAt == nil && b.LastLoginAt == nil:
			case a.LastLoginAt == nil:
				c = -1
			case b.LastLoginAt == nil:
				c = 1
			default:
				c = a.LastLoginAt.Compare(*b.LastLoginAt)
			}
		default:
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		return c
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if desc {
			return less(rows[j], rows[i]) < 0
		}
		return less(rows[i], rows[j]) < 0
	})
	limit := p.Limit
	switch {
	case limit == 0:
		limit = 20
	case limit < 1:
		limit = 1
	case limit > 100:
		limit = 100
	}
	offset := max(p.Offset, 0)
	var ref reference
	for i, u := range rows {
		ref.all = append(ref.all, u.ID)
		if i >= offset && i < offset+limit {
			ref.page = append(ref.page, u.ID)
		}
	}
	if ref.page == nil {
		ref.page = []string{}
	}
	return ref
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func sortedRoles(roles []string) []string {
	out := slices.Clone(roles)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func emailsByID(byID map[string]fixture, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = byID[id].Email
	}
	return out
}
