package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// throttled fails the test unless err is a *db.ThrottledError, and returns it.
func throttled(t testing.TB, err error) *db.ThrottledError {
	t.Helper()
	var te *db.ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a *db.ThrottledError", err)
	}
	if te.RetryAfter <= 0 || te.Minutes() < 1 {
		t.Fatalf("throttled for %v (%d minutes)", te.RetryAfter, te.Minutes())
	}
	return te
}

func signIn(s *db.Store, email, password, addr string) error {
	_, err := s.SignIn(context.Background(), db.Credentials{Email: email, Password: password, Address: addr})
	return err
}

func TestSignInThrottlePerAccount(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	staff(t, s, "ann@example.com", "admin")

	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			// The same count for an account that exists and one that does
			// not: the lock tells nobody which emails have accounts.
			for i := range db.MaxAccountFailures {
				// Each try from its own address, so that only the account counts.
				wantErr(t, signIn(s, email, "wrong-password-"+fmt.Sprint(i), fmt.Sprintf("192.0.2.%d", i+1)), db.ErrInvalidCredentials)
			}
			hashes := s.HashesComputed()
			// The right password no longer helps, and costs no hash.
			te := throttled(t, signIn(s, " "+email, testPassword, "198.51.100.7"))
			if te.RetryAfter > db.FirstLockout || te.RetryAfter < db.FirstLockout-time.Minute {
				t.Errorf("first lock %v, want about %v", te.RetryAfter, db.FirstLockout)
			}
			throttled(t, signIn(s, "ANN@EXAMPLE.COM", testPassword, "198.51.100.8"))
			if n := s.HashesComputed(); n != hashes {
				t.Errorf("%d hashes while locked, want none", n-hashes)
			}
		})
	}

	t.Run("Audited", func(t *testing.T) {
		page, err := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionLoginLocked, Limit: 10})
		if err != nil || len(page.Entries) != 2 {
			t.Fatalf("%d user.login_locked rows, %v: want one per locked account", len(page.Entries), err)
		}
		fails, err := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionLoginFailed, Limit: 100})
		if err != nil || len(fails.Entries) != 2*db.MaxAccountFailures {
			t.Fatalf("%d user.login_failed rows, %v", len(fails.Entries), err)
		}
		d := fails.Entries[0].DetailsMap()
		if d["address"] == nil || d["reason"] == nil || d["email"] == nil {
			t.Errorf("login_failed details %v: want email, address and reason", d)
		}
	})
}

func TestSignInSuccessResetsAccount(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	staff(t, s, "ann@example.com", "support")
	for range 2 {
		for range db.MaxAccountFailures - 1 {
			wantErr(t, signIn(s, "ann@example.com", "wrong-password", ""), db.ErrInvalidCredentials)
		}
		if err := signIn(s, "ann@example.com", testPassword, ""); err != nil {
			t.Fatalf("sign in after %d failures: %v", db.MaxAccountFailures-1, err)
		}
	}
}

func TestSignInThrottlePerAddress(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	staff(t, s, "ann@example.com", "admin")
	const addr = "203.0.113.9"
	// Password spraying: one guess at each of many accounts.
	for i := range db.MaxAddressFailures {
		wantErr(t, signIn(s, fmt.Sprintf("user%d@example.com", i), "Summer2024!", addr), db.ErrInvalidCredentials)
	}
	throttled(t, signIn(s, "ann@example.com", testPassword, addr))
	// An IPv4 address written as IPv6 is the same address.
	throttled(t, signIn(s, "ann@example.com", testPassword, "::ffff:"+addr))
	// Another address, and ann herself, are not locked.
	if err := signIn(s, "ann@example.com", testPassword, "203.0.113.10"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func TestSignInIPv6CountsPerSlash64(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for i := range db.MaxAddressFailures {
		wantErr(t, signIn(s, fmt.Sprintf("u%d@example.com", i), "wrong-password", fmt.Sprintf("2001:db8:1:2::%x", i+1)), db.ErrInvalidCredentials)
	}
	throttled(t, signIn(s, "other@example.com", "wrong-password", "2001:db8:1:2:ffff::1"))
	wantErr(t, signIn(s, "other@example.com", "wrong-password", "2001:db8:1:3::1"), db.ErrInvalidCredentials)
}

func TestSignInLockGrows(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	want := []time.Duration{db.FirstLockout, 2 * db.FirstLockout, 4 * db.FirstLockout}
	for round, d := range want {
		for range db.MaxAccountFailures {
			wantErr(t, signIn(s, "eve@example.com", "wrong-password", ""), db.ErrInvalidCredentials)
		}
		te := throttled(t, signIn(s, "eve@example.com", "wrong-password", ""))
		if te.RetryAfter > d || te.RetryAfter < d-time.Minute {
			t.Fatalf("lock %d lasts %v, want about %v", round+1, te.RetryAfter, d)
		}
		// The lock runs out.
		mustExec(t, s, `UPDATE signin_throttle SET locked_until = now() - interval '1 second'`)
	}
}

// TestSignInThrottleAcrossInstances: two stores (two panel instances) on
// one database share the count.
func TestSignInThrottleAcrossInstances(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	open := func() *db.Store {
		s, err := db.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	staff(t, a, "ann@example.com", "admin")
	for i := range db.MaxAccountFailures {
		s := a
		if i%2 == 1 {
			s = b
		}
		wantErr(t, signIn(s, "ann@example.com", "wrong-password", ""), db.ErrInvalidCredentials)
	}
	throttled(t, signIn(a, "ann@example.com", testPassword, ""))
	throttled(t, signIn(b, "ann@example.com", testPassword, ""))
}

// TestSignInThrottleParallel: attempts made at once cannot all slip past
// the count; exactly MaxAccountFailures passwords are checked.
func TestSignInThrottleParallel(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	staff(t, s, "ann@example.com", "admin")
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- signIn(s, "ann@example.com", "wrong-password", fmt.Sprintf("192.0.2.%d", i+1))
		}()
	}
	wg.Wait()
	close(errs)
	invalid, refused := 0, 0
	for err := range errs {
		var te *db.ThrottledError
		switch {
		case errors.Is(err, db.ErrInvalidCredentials):
			invalid++
		case errors.As(err, &te):
			refused++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if invalid != db.MaxAccountFailures || refused != n-db.MaxAccountFailures {
		t.Errorf("%d checked, %d refused; want %d checked", invalid, refused, db.MaxAccountFailures)
	}
}

// TestSignInHashesBounded: many sign-ins at once from many addresses check
// at most the configured number of passwords at a time.
func TestSignInHashesBounded(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.SetMaxConcurrentHashes(2)
	var fs []fixture
	for i := range 24 {
		fs = append(fs, fixture{Email: fmt.Sprintf("staff%d@example.com", i), Roles: []string{"support"}})
	}
	insertUsers(t, s, fs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for i := range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := signIn(s, fmt.Sprintf("staff%d@example.com", i%24), "wrong-password", fmt.Sprintf("198.51.100.%d", i+1))
			switch {
			case errors.Is(err, db.ErrSignInBusy):
				// A loaded machine may make one wait past its limit:
				// refused, not hashed.
				mu.Lock()
				busy++
				mu.Unlock()
			case !errors.Is(err, db.ErrInvalidCredentials):
				t.Errorf("sign-in %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if p := s.PeakHashes(); p > 2 || p < 1 {
		t.Errorf("%d hashes at once, want at most 2", p)
	}
	if n := s.HashesComputed(); n+int64(busy) != 48 {
		t.Errorf("%d hashes and %d busy, want 48 in all", n, busy)
	}
}

func TestUnlockUser(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	ann := staff(t, s, "Ann@example.com", "support")
	ctx := context.Background()
	for range db.MaxAccountFailures + 1 {
		_ = signIn(s, "ann@example.com", "wrong-password", "")
	}
	lock, err := s.AccountLock(ctx, ann.Email)
	if err != nil || lock == nil || !lock.Until.After(time.Now()) {
		t.Fatalf("AccountLock = %+v, %v: want a lock", lock, err)
	}
	t.Run("ErrNoActor", func(t *testing.T) {
		wantErr(t, s.UnlockUser(ctx, ann.ID), db.ErrNoActor)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wantErr(t, s.UnlockUser(asUser(admin), "not-an-id"), db.ErrNotFound)
	})
	t.Run("OK", func(t *testing.T) {
		if err := s.UnlockUser(asUser(admin), ann.ID); err != nil {
			t.Fatal(err)
		}
		if lock, _ := s.AccountLock(ctx, ann.Email); lock != nil {
			t.Fatalf("still locked: %+v", lock)
		}
		if err := signIn(s, "ann@example.com", testPassword, ""); err != nil {
			t.Fatalf("sign in after unlock: %v", err)
		}
		page, err := s.ListAudit(ctx, db.AuditFilter{Action: db.ActionUnlock, TargetID: ann.ID})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].ActorEmail != admin.Email {
			t.Fatalf("unlock audit %+v, %v", page.Entries, err)
		}
	})
}

// TestSignInOneQueryBeforeRefusal: a right password on a banned or
// non-staff account is refused after the same work as a wrong one, which
// the audit row's reason tells apart for admins only.
func TestSignInRefusalReasons(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	insertUsers(t, s, []fixture{
		{Email: "plain@example.com"},
		{Email: "banned@example.com", Roles: []string{"admin"}, Banned: true},
	})
	staff(t, s, "ann@example.com", "admin")
	cases := map[string][2]string{
		"not staff":      {"plain@example.com", testPassword},
		"banned":         {"banned@example.com", testPassword},
		"wrong password": {"ann@example.com", "wrong-password"},
		"unknown email":  {"who@example.com", testPassword},
	}
	for reason, c := range cases {
		wantErr(t, signIn(s, c[0], c[1], "192.0.2.1"), db.ErrInvalidCredentials)
		page, err := s.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionLoginFailed, Limit: 1})
		if err != nil || len(page.Entries) != 1 {
			t.Fatal(err)
		}
		if got := page.Entries[0].DetailsMap()["reason"]; got != reason {
			t.Errorf("%s: reason %v, want %q", c[0], got, reason)
		}
	}
}
