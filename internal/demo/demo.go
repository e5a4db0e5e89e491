// Package demo makes realistic demo users for `userpanel seed`: varied
// names from many cultures, unique emails derived from them, sign-ups that
// grow over two years, a few bans, staff, sessions and OAuth links.
//
// A Generator is reproducible: the same seed, clock and reserved emails give
// the same users, ids included.
package demo

import (
	"encoding/hex"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"userpanel/db"
)

// Password is the password of every demo user. They share one bcrypt hash
// of it (PasswordHash), computed once, at cost 11: hashing a million
// passwords would take the better part of a day. It lets a developer sign in
// as a seeded support or manager user.
const Password = "demo-password"

// PasswordHash is the bcrypt hash of Password.
const PasswordHash = "$2a$11$Qb7XsyyDhejshzT44BepdOOI4Ej/6RzCYHXjohn97JAMJZosrkuAi"

// History is how far back the demo sign-ups go.
const History = 2 * 365 * 24 * time.Hour

const day = 24 * time.Hour

// Generator makes demo users.
type Generator struct {
	seed uint64
	now  time.Time
	// taken holds a 64-bit hash of every email in use. A hash collision
	// (about one in 10^7 at a million users) only makes the generator skip
	// a free address.
	taken map[uint64]struct{}
	// next is the number to try first for an email base already taken, so
	// that the thirtieth john.smith does not try 2 to 29 again.
	next map[uint64]int
}

// New returns a generator for the given seed whose dates are relative to now.
func New(seed uint64, now time.Time) *Generator {
	return &Generator{
		seed:  seed,
		now:   now.UTC().Truncate(time.Microsecond),
		taken: map[uint64]struct{}{},
		next:  map[uint64]int{},
	}
}

// Reserve marks an email (lower case) as in use, so that no demo user gets it.
func (g *Generator) Reserve(email string) { g.taken[hash(email)] = struct{}{} }

// Users yields n demo users, oldest first. The random stream is seeded
// with the generator's seed and the number of emails reserved so far: the
// same seed into the same database gives the same users, and seeding a
// database twice with one seed does not repeat an id.
func (g *Generator) Users(n int) iter.Seq[db.SeedUser] {
	rng := rand.New(rand.NewPCG(g.seed, uint64(len(g.taken))))
	return func(yield func(db.SeedUser) bool) {
		for i := range n {
			if !yield(g.user(rng, i, n)) {
				return
			}
		}
	}
}

// pickCulture is a weighted pick of a culture.
var pickCulture = func() []int {
	idx := make([]int, len(cultures))
	weights := make([]int, len(cultures))
	for i, c := range cultures {
		idx[i], weights[i] = i, c.weight
	}
	return weighted(idx, weights)
}()

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (g *Generator) user(rng *rand.Rand, i, n int) db.SeedUser {
	c := cultures[pick(rng, pickCulture)]
	first, last := pick(rng, c.first), pick(rng, c.last)

	u := db.SeedUser{Name: displayName(rng, c, first, last)}

	// Sign-ups grow linearly over the two years: user i of n is placed at
	// the square root of its share, with a little jitter inside its slot,
	// so that users come out oldest first.
	share := (float64(i) + rng.Float64()) / float64(n)
	u.CreatedAt = g.now.Add(-History + time.Duration(math.Sqrt(share)*float64(History))).Truncate(time.Microsecond)
	age := g.now.Sub(u.CreatedAt)
	// Time-ordered ids, as many applications use now, come out in order
	// too: the primary key grows at its end instead of everywhere.
	u.ID = uuidV7(rng, u.CreatedAt)

	role := ""
	switch r := rng.Float64(); {
	case r < 0.003 || i == n/3:
		role = db.RoleSupport
	case r < 0.004 || i == 2*n/3:
		role = db.RoleManager
	}
	if role != "" {
		u.Roles = []string{role}
	}

	domain := pick(rng, domains)
	if role != "" {
		domain = staffDomain
	}
	u.Email = g.uniqueEmail(emailLocal(rng, first.ascii, last.ascii), domain)

	u.EmailVerified = role != "" || rng.Float64() < 0.7
	oauthOnly := role == "" && rng.Float64() < 0.04
	if !oauthOnly {
		u.PasswordHash = PasswordHash
	}

	// Most people come back: the last sign-in is an exponential wait (mean
	// 45 days) before now, never before the sign-up.
	if role != "" || rng.Float64() < 0.85 {
		since := min(time.Duration(rng.ExpFloat64()*45*float64(day)), age)
		t := g.now.Add(-since).Truncate(time.Microsecond)
		u.LastLoginAt = &t
	}
	u.UpdatedAt = u.CreatedAt.Add(time.Duration(rng.Float64() * float64(age) / 2)).Truncate(time.Microsecond)

	if role == "" && rng.Float64() < 0.01 {
		u.Ban = g.ban(rng, u.CreatedAt)
		if u.Ban.Until == nil || u.Ban.Until.After(g.now) {
			// A banned user has not signed in since the ban.
			if u.LastLoginAt != nil && u.LastLoginAt.After(u.Ban.At) {
				t := u.Ban.At.Add(-time.Duration(rng.Float64() * float64(u.Ban.At.Sub(u.CreatedAt)))).Truncate(time.Microsecond)
				u.LastLoginAt = &t
			}
		}
	}
	if u.Ban == nil || (u.Ban.Until != nil && !u.Ban.Until.After(g.now)) {
		u.Sessions = g.sessions(rng, u)
	}

	links := 0
	switch r := rng.Float64(); {
	case oauthOnly:
		links = 1
	case r < 0.01:
		links = 2
	case r < 0.07:
		links = 1
	}
	used := map[string]bool{}
	for range links {
		p := pick(rng, providers)
		if used[p] {
			continue
		}
		used[p] = true
		at := u.CreatedAt
		if !oauthOnly {
			at = at.Add(time.Duration(rng.Float64() * float64(age))).Truncate(time.Microsecond)
		}
		u.OAuthAccounts = append(u.OAuthAccounts, db.SeedOAuthAccount{
			Provider: p, ProviderUserID: providerUserID(rng, p), Email: u.Email, CreatedAt: at,
		})
	}
	return u
}

func displayName(rng *rand.Rand, c culture, first, last name) string {
	f, l := first.display, last.display
	if c.romanised > 0 && rng.Float64() < c.romanised {
		return capitalise(first.ascii) + " " + capitalise(last.ascii)
	}
	switch {
	case c.joined:
		return l + f
	case c.familyFirst:
		return l + " " + f
	}
	return f + " " + l
}

// emailLocal makes the part before the @ the way people do.
func emailLocal(rng *rand.Rand, f, l string) string {
	if f == "" {
		f = "user"
	}
	if l == "" {
		l = "x"
	}
	year := strconv.Itoa(60 + rng.IntN(46))
	if len(year) == 3 {
		year = "0" + year[2:]
	}
	switch r := rng.IntN(100); {
	case r < 30:
		return f + "." + l
	case r < 40:
		return f + l
	case r < 50:
		return f[:1] + "." + l
	case r < 58:
		return f + "_" + l
	case r < 66:
		return f + l[:1]
	case r < 74:
		return f + "." + l + year
	case r < 80:
		return l + "." + f
	case r < 86:
		return f + strconv.Itoa(10+rng.IntN(9990))
	case r < 91:
		return l + f[:1]
	case r < 95:
		return f + "-" + l
	default:
		return f[:1] + l
	}
}

// uniqueEmail returns local@domain, or local2@domain, local3@domain... if
// that is taken, and marks it taken.
func (g *Generator) uniqueEmail(local, domain string) string {
	email := local + "@" + domain
	if g.claim(email) {
		return email
	}
	base := hash(email)
	for k := max(g.next[base], 2); ; k++ {
		email = local + strconv.Itoa(k) + "@" + domain
		if g.claim(email) {
			g.next[base] = k + 1
			return email
		}
	}
}

func (g *Generator) claim(email string) bool {
	h := hash(email)
	if _, ok := g.taken[h]; ok {
		return false
	}
	g.taken[h] = struct{}{}
	return true
}

// hash is 64-bit FNV-1a: fixed, so that the generator is reproducible.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// ban makes a ban: for good, for a while from recently, or one that ran out.
func (g *Generator) ban(rng *rand.Rand, created time.Time) *db.SeedBan {
	b := &db.SeedBan{Reason: pick(rng, banReasons)}
	age := g.now.Sub(created)
	switch r := rng.Float64(); {
	case r < 0.4: // for good
		b.At = created.Add(time.Duration(rng.Float64() * float64(age)))
	case r < 0.75: // in force for a while yet
		b.At = g.now.Add(-time.Duration(rng.Float64() * float64(min(age, 20*day))))
		until := g.now.Add(time.Duration(1+rng.IntN(60)) * day)
		b.Until = &until
	default: // ran out
		b.At = created.Add(time.Duration(rng.Float64() * float64(age) * 0.8))
		until := b.At.Add(time.Duration(1+rng.IntN(30)) * day)
		if !until.Before(g.now) {
			until = g.now.Add(-time.Hour)
		}
		b.Until = &until
	}
	b.At = b.At.Truncate(time.Microsecond)
	if b.Until != nil {
		t := b.Until.Truncate(time.Microsecond)
		b.Until = &t
	}
	return b
}

// sessions gives one in six of the users active in the last 30 days one to
// three sessions (refresh tokens valid for 30 days).
func (g *Generator) sessions(rng *rand.Rand, u db.SeedUser) []db.SeedSession {
	if u.LastLoginAt == nil || g.now.Sub(*u.LastLoginAt) > 30*day || rng.Float64() >= 0.16 {
		return nil
	}
	out := make([]db.SeedSession, 1+rng.IntN(3))
	for k := range out {
		created := *u.LastLoginAt
		if k > 0 {
			earliest := g.now.Add(-30 * day)
			if u.CreatedAt.After(earliest) {
				earliest = u.CreatedAt
			}
			created = earliest.Add(time.Duration(rng.Float64() * float64(u.LastLoginAt.Sub(earliest))))
		}
		created = created.Truncate(time.Microsecond)
		token := make([]byte, 32)
		for j := range token {
			token[j] = byte(rng.Uint32())
		}
		s := db.SeedSession{
			TokenHash: token,
			UserAgent: pick(rng, userAgents),
			IP:        ip(rng),
			CreatedAt: created,
			ExpiresAt: created.Add(30 * day),
		}
		if rng.Float64() < 0.1 {
			t := created.Add(time.Duration(rng.Float64() * float64(g.now.Sub(created)))).Truncate(time.Microsecond)
			s.RevokedAt = &t
		}
		out[k] = s
	}
	return out
}

// ip returns an address from the ranges reserved for documentation.
func ip(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0:
		return "192.0.2." + strconv.Itoa(1+rng.IntN(254))
	case 1:
		return "198.51.100." + strconv.Itoa(1+rng.IntN(254))
	case 2:
		return "203.0.113." + strconv.Itoa(1+rng.IntN(254))
	}
	return "2001:db8::" + strconv.FormatUint(uint64(rng.IntN(0x10000)), 16) + ":" + strconv.FormatUint(uint64(rng.IntN(0x10000)), 16)
}

// providerUserID makes an id in the provider's own shape, from a space wide
// enough that two never meet.
func providerUserID(rng *rand.Rand, provider string) string {
	switch provider {
	case "google":
		return fmt.Sprintf("1%010d%010d", rng.Uint64N(1e10), rng.Uint64N(1e10))
	case "github":
		return strconv.FormatUint(1e14+rng.Uint64N(9e14), 10)
	case "microsoft":
		return "00000000-0000-0000-" + hex16(rng)[:4] + "-" + hex16(rng)[:12]
	default: // apple
		return "001" + strconv.Itoa(100+rng.IntN(900)) + "." + hex16(rng) + hex16(rng) + "." + strconv.Itoa(1000+rng.IntN(9000))
	}
}

func hex16(rng *rand.Rand) string {
	var b [8]byte
	v := rng.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// uuidV7 makes a version-7 UUID (RFC 9562): the time in milliseconds, then
// random bits from the stream.
func uuidV7(rng *rand.Rand, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 2 {
		b[6+i] = byte(hi >> (8 * i))
	}
	for i := range 8 {
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
