package db_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/demo"
	"userpanel/internal/testdb"
)

// The bars these benchmarks hold the code to. Run them with `make bench`.
const (
	// seedBar: `userpanel seed --users 1000000` within the minute.
	seedBar = 60 * time.Second
	// searchBar: a support agent's three-letter search answers well under
	// a second at a million users.
	searchBar = time.Second
)

// BenchmarkMillion seeds 1,000,000 demo users (as `userpanel seed` does)
// into a database of its own, then measures what the panel asks of the
// database at that size. Each sub-benchmark reports its p95 in ms; a missed
// bar fails the benchmark.
func BenchmarkMillion(b *testing.B) {
	const n = 1_000_000
	store := testdb.New(b)
	ctx := db.WithActor(context.Background(), db.SystemActor("bench"))

	start := time.Now()
	gen := demo.New(1, start)
	if _, err := store.SeedUsers(ctx, gen.Users(n), db.SeedOptions{Expected: n}); err != nil {
		b.Fatalf("seed: %v", err)
	}
	seeded := time.Since(start)
	b.Logf("seeded %d users in %s (bar %s)", n, seeded.Round(time.Millisecond), seedBar)
	if seeded > seedBar {
		b.Errorf("seeding %d users took %s, over the %s bar", n, seeded, seedBar)
	}

	// Three letters of a real demo user's name, as a support agent types them.
	some, err := store.ListUsers(ctx, db.ListParams{Limit: 100, Offset: 500_000, SkipTotal: true})
	if err != nil || len(some.Users) == 0 {
		b.Fatalf("pick a user: %v", err)
	}
	var piece string
	for _, u := range some.Users {
		if r := []rune(u.Name); len(r) >= 5 {
			piece = string(r[1:4])
			break
		}
	}
	yes, no := true, false

	cases := []struct {
		name string
		bar  time.Duration
		run  func() error
	}{
		{"FirstPage", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{})
			return err
		}},
		{"Search3Letters", searchBar, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Query: piece}, SkipTotal: true})
			return err
		}},
		{"Search3LettersWithTotal", searchBar, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Query: piece}})
			return err
		}},
		{"SortEmailPage3", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{SortBy: db.SortEmail, Offset: 40})
			return err
		}},
		{"SortNameDesc", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{SortBy: db.SortName, SortOrder: db.OrderDesc})
			return err
		}},
		{"LastSignInUnverifiedNotBanned", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Banned: &no, Verified: &no},
				SortBy: db.SortLastLoginAt})
			return err
		}},
		{"BannedOnly", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Banned: &yes}})
			return err
		}},
		{"RoleSupport", 0, func() error {
			_, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Role: "support"}})
			return err
		}},
		{"GetUser", 0, func() error {
			_, err := store.GetUser(ctx, some.Users[0].ID)
			return err
		}},
		{"Stats", 0, func() error {
			_, err := store.Stats(ctx)
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
			}
			slices.Sort(times)
			p95 := times[(len(times)*95)/100]
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			if c.bar > 0 && p95 > c.bar {
				b.Errorf("p95 %s, over the %s bar", p95, c.bar)
			}
		})
	}
}
