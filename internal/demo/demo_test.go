package demo

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"userpanel/db"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func collect(g *Generator, n int) []db.SeedUser {
	var out []db.SeedUser
	for u := range g.Users(n) {
		out = append(out, u)
	}
	return out
}

func TestSameSeedSameUsers(t *testing.T) {
	t.Parallel()
	a := collect(New(7, now), 3000)
	b := collect(New(7, now), 3000)
	c := collect(New(8, now), 3000)
	if len(a) != 3000 {
		t.Fatalf("%d users, want 3000", len(a))
	}
	same := 0
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Email != b[i].Email || a[i].Name != b[i].Name || !a[i].CreatedAt.Equal(b[i].CreatedAt) {
			t.Fatalf("user %d differs between two runs of seed 7:\n%+v\n%+v", i, a[i], b[i])
		}
		if a[i].Email == c[i].Email {
			same++
		}
	}
	if same > 300 {
		t.Errorf("seeds 7 and 8 share %d of 3000 emails", same)
	}
}

func TestUsersAreValidAndVaried(t *testing.T) {
	t.Parallel()
	const n = 20_000
	users := collect(New(1, now), n)
	emails := map[string]bool{}
	ids := map[string]bool{}
	var verified, banned, staff, oauthOnly, withSessions, nonASCIIName, lastLogin int
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prev := time.Time{}
	for i, u := range users {
		if email, err := db.NormalizeEmail(u.Email); err != nil || email != u.Email || strings.ToLower(email) != email {
			t.Fatalf("user %d: email %q: %v", i, u.Email, err)
		}
		if emails[u.Email] {
			t.Fatalf("email %q twice", u.Email)
		}
		emails[u.Email] = true
		if !uuidRE.MatchString(u.ID) || ids[u.ID] {
			t.Fatalf("id %q malformed or repeated", u.ID)
		}
		ids[u.ID] = true
		if u.Name == "" || strings.TrimSpace(u.Name) != u.Name {
			t.Fatalf("name %q", u.Name)
		}
		if strings.ContainsFunc(u.Name, func(r rune) bool { return r > 127 }) {
			nonASCIIName++
		}
		if u.CreatedAt.Before(prev) || u.CreatedAt.After(now) || u.CreatedAt.Before(now.Add(-History)) {
			t.Fatalf("user %d created at %v (previous %v)", i, u.CreatedAt, prev)
		}
		prev = u.CreatedAt
		if u.UpdatedAt.Before(u.CreatedAt) {
			t.Fatalf("updated before created: %+v", u)
		}
		if u.LastLoginAt != nil {
			lastLogin++
			if u.LastLoginAt.Before(u.CreatedAt) || u.LastLoginAt.After(now) {
				t.Fatalf("last sign-in %v outside [%v, %v]", u.LastLoginAt, u.CreatedAt, now)
			}
		}
		if u.EmailVerified {
			verified++
		}
		if u.PasswordHash == "" {
			oauthOnly++
			if len(u.OAuthAccounts) == 0 {
				t.Fatalf("user %q has neither a password nor an OAuth account", u.Email)
			}
		}
		if len(u.Roles) > 0 {
			staff++
			if u.Ban != nil || !strings.HasSuffix(u.Email, "@"+staffDomain) {
				t.Fatalf("staff member %+v", u)
			}
		}
		if u.Ban != nil {
			banned++
			if u.Ban.Reason == "" || u.Ban.At.Before(u.CreatedAt) || u.Ban.At.After(now) {
				t.Fatalf("ban %+v of a user created %v", u.Ban, u.CreatedAt)
			}
			if u.Ban.Until != nil && !u.Ban.Until.After(u.Ban.At) {
				t.Fatalf("ban ends before it starts: %+v", u.Ban)
			}
		}
		if len(u.Sessions) > 0 {
			withSessions++
		}
		for _, s := range u.Sessions {
			if len(s.TokenHash) != 32 || s.CreatedAt.Before(u.CreatedAt) || !s.ExpiresAt.After(s.CreatedAt) {
				t.Fatalf("session %+v", s)
			}
		}
	}
	between := func(what string, got int, lo, hi float64) {
		t.Helper()
		if share := float64(got) / n; share < lo || share > hi {
			t.Errorf("%s: %.3f of users, want %.3f to %.3f", what, share, lo, hi)
		}
	}
	between("verified", verified, 0.67, 0.73)
	between("banned", banned, 0.007, 0.013)
	between("staff", staff, 0.002, 0.008)
	between("OAuth only", oauthOnly, 0.02, 0.06)
	between("with sessions", withSessions, 0.03, 0.15)
	between("non-ASCII names", nonASCIIName, 0.2, 0.7)
	between("signed in once", lastLogin, 0.8, 0.9)

	// Growth: the last quarter of the time has more sign-ups than the first.
	quarter := History / 4
	var early, late int
	for _, u := range users {
		switch age := now.Sub(u.CreatedAt); {
		case age > 3*quarter:
			early++
		case age < quarter:
			late++
		}
	}
	if late < 3*early {
		t.Errorf("sign-ups do not grow: %d in the first quarter, %d in the last", early, late)
	}
}

func TestReservedEmailsAreAvoided(t *testing.T) {
	t.Parallel()
	first := collect(New(3, now), 500)
	g := New(3, now)
	for _, u := range first {
		g.Reserve(u.Email)
	}
	for _, u := range collect(g, 500) {
		if slices.ContainsFunc(first, func(f db.SeedUser) bool { return f.Email == u.Email || f.ID == u.ID }) {
			t.Fatalf("%s repeats a reserved email or id", u.Email)
		}
	}
}

func TestNamesFold(t *testing.T) {
	t.Parallel()
	for _, c := range cultures {
		for _, list := range [][]name{c.first, c.last} {
			for _, n := range list {
				if !regexp.MustCompile(`^[a-z]+$`).MatchString(n.ascii) {
					t.Errorf("%q folds to %q: spell it out in the list as %s:ascii", n.display, n.ascii, n.display)
				}
			}
		}
	}
	for in, want := range map[string]string{"José": "jose", "Zoë": "zoe", "Łukasz": "lukasz", "O'Brien": "obrien", "Groß": "gross", "Nguyễn": "nguyen"} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	if err := bcrypt.CompareHashAndPassword([]byte(PasswordHash), []byte(Password)); err != nil {
		t.Fatalf("PasswordHash is not the hash of Password: %v", err)
	}
}
