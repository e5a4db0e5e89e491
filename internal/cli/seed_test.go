package cli

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/demo"
	"userpanel/internal/testdb"
)

// emails returns every email in the database, sorted.
func emails(t *testing.T, store *db.Store) []string {
	t.Helper()
	var out []string
	if err := store.EachEmail(context.Background(), func(e string) { out = append(out, e) }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 2000
	seedInto := func(url string, args ...string) result {
		t.Helper()
		r := run(t, "", map[string]string{"DATABASE_URL": url}, append([]string{"seed"}, args...)...)
		r.expect(t, exitOK)
		return r
	}
	urlA, urlB := testdb.URL(t), testdb.URL(t)
	a, b := openTestStore(t, urlA), openTestStore(t, urlB)
	r := seedInto(urlA, "--users", "2000", "--seed", "42")
	if !strings.Contains(r.stdout, "Seeded 2000 users") {
		t.Errorf("stdout: %s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet: %q", r.stderr)
	}
	seedInto(urlB, "--users", "2000", "--seed", "42")

	t.Run("SameSeedSameEmails", func(t *testing.T) {
		ea, eb := emails(t, a), emails(t, b)
		if len(ea) != n || !slices.Equal(ea, eb) {
			t.Errorf("two loads of seed 42 differ: %d and %d emails", len(ea), len(eb))
		}
		if len(slices.Compact(slices.Clone(ea))) != n {
			t.Error("emails repeat")
		}
	})

	t.Run("Counts", func(t *testing.T) {
		total, err := a.CountUsers(ctx, db.Filter{})
		if err != nil || total != n {
			t.Fatalf("CountUsers = %d, %v; want %d", total, err, n)
		}
		yes := true
		verified, _ := a.CountUsers(ctx, db.Filter{Verified: &yes})
		banned, _ := a.CountUsers(ctx, db.Filter{Banned: &yes})
		support, _ := a.CountUsers(ctx, db.Filter{Role: "support"})
		manager, _ := a.CountUsers(ctx, db.Filter{Role: "manager"})
		if verified < n*6/10 || verified > n*8/10 {
			t.Errorf("%d of %d verified, want about 70%%", verified, n)
		}
		if banned < 3 || banned > 40 {
			t.Errorf("%d of %d banned, want about 1%% (some bans have run out)", banned, n)
		}
		if support < 1 || manager < 1 || support+manager > 30 {
			t.Errorf("%d support and %d manager staff, want a few", support, manager)
		}
		// The list agrees with the trigger-kept count.
		list, err := a.ListUsers(ctx, db.ListParams{Limit: 1})
		if err != nil || list.Total != n {
			t.Errorf("ListUsers total = %d, %v", list.Total, err)
		}
	})

	t.Run("SeededStaffSignIn", func(t *testing.T) {
		staff, err := a.ListUsers(ctx, db.ListParams{Filter: db.Filter{Role: "support"}, Limit: 1})
		if err != nil || len(staff.Users) == 0 {
			t.Fatalf("no support staff: %v", err)
		}
		if _, err := a.Authenticate(ctx, staff.Users[0].Email, demo.Password); err != nil {
			t.Errorf("sign in as %s with the demo password: %v", staff.Users[0].Email, err)
		}
	})

	t.Run("OneAuditRow", func(t *testing.T) {
		page, err := a.ListAudit(ctx, db.AuditFilter{Action: db.ActionSeed})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 1 || page.Entries[0].ActorEmail != "system:seed" {
			t.Fatalf("audit rows %+v, want one by system:seed", page.Entries)
		}
		d := page.Entries[0].DetailsMap()
		if d["users"] != float64(n) || d["seed"] != float64(42) {
			t.Errorf("audit details %v", d)
		}
	})

	t.Run("IfEmpty", func(t *testing.T) {
		r := seedInto(urlA, "--users", "10", "--if-empty")
		if !strings.Contains(r.stdout, "not seeding") {
			t.Errorf("stdout: %s", r.stdout)
		}
		if total, _ := a.CountUsers(ctx, db.Filter{}); total != n {
			t.Errorf("%d users after --if-empty, want %d", total, n)
		}
	})

	t.Run("AgainIntoTheSameDatabase", func(t *testing.T) {
		// Run on b, which the subtests above only read.
		seedInto(urlB, "--users", "500", "--seed", "42")
		all := emails(t, b)
		if len(all) != n+500 || len(slices.Compact(all)) != n+500 {
			t.Errorf("%d emails after a second load of the same seed, want %d unique", len(all), n+500)
		}
	})
}

func TestSeedIfEmptyCountsOnlyAdmins(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	run(t, "", env, "ensure-admin").expect(t, exitOK)
	// make run's own call: its cluster holds the admin just ensured.
	r := run(t, "", env, "seed", "--users", "50", "--if-empty", "--force")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "Seeded 50 users") {
		t.Errorf("an admin alone should not stop --if-empty: %s", r.stdout)
	}
}

// TestSeedRefusesForeignUsers: demo staff share a public password, so seed
// adds none to a database that holds anyone else, unless --force.
func TestSeedRefusesForeignUsers(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	// A fresh database, then one of demo users only: both take more.
	run(t, "", env, "seed", "--users", "20").expect(t, exitOK)
	run(t, "", env, "seed", "--users", "20", "--seed", "2").expect(t, exitOK)
	run(t, "strong-enough-pass-42\n", env, "create-user", "--email", "real@customer.example.org").expect(t, exitOK)
	store := openTestStore(t, url)
	before, err := store.CountUsers(context.Background(), db.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "", env, "seed", "--users", "20", "--seed", "3")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "1 users that are not demo users") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("refusal should say why and how: %s", r.stderr)
	}
	if after, _ := store.CountUsers(context.Background(), db.Filter{}); after != before {
		t.Errorf("a refused seed changed the users: %d -> %d", before, after)
	}
	run(t, "", env, "seed", "--users", "20", "--seed", "3", "--force").expect(t, exitOK)
}

// TestSeedLargeRebuildsIndexes loads enough users to take the fast path,
// which drops the secondary indexes and builds them again: afterwards every
// index must be back, exactly as it was.
func TestSeedLargeRebuildsIndexes(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	indexes := func() []string {
		var defs []string
		if err := store.DB().SelectContext(context.Background(), &defs,
			`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()
	run(t, "", map[string]string{"DATABASE_URL": url}, "seed", "--users", "50000").expect(t, exitOK)
	if after := indexes(); !slices.Equal(before, after) {
		t.Errorf("indexes changed:\nbefore %q\nafter  %q", before, after)
	}
	if n, err := store.CountUsers(context.Background(), db.Filter{}); err != nil || n != 50000 {
		t.Errorf("CountUsers = %d, %v", n, err)
	}
	// The rebuilt trigram index serves a search.
	res, err := store.ListUsers(context.Background(), db.ListParams{Filter: db.Filter{Query: "corp.example"}, Limit: 5})
	if err != nil || len(res.Users) == 0 {
		t.Errorf("search staff: %d users, %v", len(res.Users), err)
	}
}

// TestSeedInterrupted stops a load midway, as Ctrl-C does: nothing of it
// stays, not even its audit row, and the indexes are all there.
func TestSeedInterrupted(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	countIndexes := func() (n int) {
		if err := store.DB().Get(&n, `SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := countIndexes()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	r := runApp(t, ctx, nil, "", map[string]string{"DATABASE_URL": url}, "seed", "--users", "300000")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("stderr: %s", r.stderr)
	}
	if n, err := store.CountUsers(context.Background(), db.Filter{}); err != nil || n != 0 {
		t.Errorf("CountUsers = %d, %v after an interrupted load", n, err)
	}
	page, err := store.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionSeed})
	if err != nil || len(page.Entries) != 0 {
		t.Errorf("audit rows %v, %v", page.Entries, err)
	}
	if after := countIndexes(); after != before {
		t.Errorf("%d indexes after an interrupted load, %d before", after, before)
	}
}
