package db

// Sign-in throttling, kept in PostgreSQL so that it holds across every
// instance of the panel, and the bound on concurrent password hashes. Over
// 300 lines because reserving an attempt, releasing it and unlocking share
// one row format and its locking, which read best in one file.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Sign-in limits, said once: the panel's message, the tests and
// docs/SECURITY.md all follow these.
const (
	// MaxAccountFailures is how many failed sign-ins one account (one
	// email, whether or not it exists) may have within ThrottleWindow.
	MaxAccountFailures = 5
	// MaxAddressFailures is how many failed sign-ins one client address may
	// have within ThrottleWindow.
	MaxAddressFailures = 20
	// ThrottleWindow is the time over which failures are counted.
	ThrottleWindow = 15 * time.Minute
	// FirstLockout is how long the first lock lasts; each lock in a row
	// lasts twice the one before, up to MaxLockout.
	FirstLockout = 15 * time.Minute
	// MaxLockout bounds one lock.
	MaxLockout = 24 * time.Hour
	// lockoutMemory is how long without a failure before the next lock is
	// a first one again, and an unused row may be swept.
	lockoutMemory = 24 * time.Hour
)

// ThrottledError is a sign-in refused, before any password was checked,
// because the account or the client address failed too often.
type ThrottledError struct {
	// RetryAfter is how long until the lock ends.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts, try again in %d minutes", e.Minutes())
}

// Minutes is RetryAfter in whole minutes, rounded up and at least 1.
func (e *ThrottledError) Minutes() int {
	m := int((e.RetryAfter + time.Minute - 1) / time.Minute)
	if m < 1 {
		m = 1
	}
	return m
}

// ErrSignInBusy is a sign-in refused because too many are being checked at
// once: the password hashes are bounded so that a flood of sign-ins cannot
// starve the rest of the panel.
var ErrSignInBusy = errors.New("the panel is busy checking other sign-ins: try again in a moment")

// lockoutFor is the length of the lock that follows lockouts earlier ones.
func lockoutFor(lockouts int) time.Duration {
	d := FirstLockout
	for i := 0; i < lockouts && d < MaxLockout; i++ {
		d *= 2
	}
	return min(d, MaxLockout)
}

// accountKey is the throttle key of an email as typed: trimmed and
// lower-cased, so that "Ann@x.example " and "ann@x.example" share one count.
// Text PostgreSQL cannot hold, or too long to be an address, is hashed.
func accountKey(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if !validText(e) || len(e) > MaxEmailLen {
		sum := sha256.Sum256([]byte(e))
		return "email#" + hex.EncodeToString(sum[:])
	}
	return "email:" + e
}

// addressKey is the throttle key of a client address; an IPv6 address counts
// as its /64, which one host usually holds whole. An empty or unreadable
// address has no key.
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + ip.String()
}

// throttleRow is one key's count.
type throttleRow struct {
	Key           string     `db:"key"`
	Failures      int        `db:"failures"`
	WindowExpired bool       `db:"window_expired"`
	Lockouts      int        `db:"lockouts"`
	Forgotten     bool       `db:"forgotten"`
	LockedFor     *float64   `db:"locked_for"`
	LockedUntil   *time.Time `db:"locked_until"`
}

// reserveAttempt counts a sign-in attempt against its keys before the
// password is checked, and refuses it if a key is locked or has used up its
// failures. Counting first, under the rows' locks, means that parallel
// attempts cannot all slip past a check made before any of them failed: the
// sixth of six at once is refused. A success gives the attempt back
// (releaseAttempt). Returns the keys counted and, when refused, the lock.
func (s *Store) reserveAttempt(ctx context.Context, keys []string) (*ThrottledError, error) {
	sort.Strings(keys) // one order for every caller: no deadlock between two
	var refused *ThrottledError
	var locked []lockEvent
	err := s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO signin_throttle (key) SELECT unnest($1::text[])
			ON CONFLICT (key) DO NOTHING`, pq.Array(keys)); err != nil {
			return fmt.Errorf("db: throttle: %w", err)
		}
		var rows []throttleRow
		if err := tx.SelectContext(ctx, &rows, `SELECT key, failures,
				window_start < now() - make_interval(secs => $2) AS window_expired,
				lockouts, last_failure_at < now() - make_interval(secs => $3) AS forgotten,
				CASE WHEN locked_until > now() THEN extract(epoch FROM locked_until - now())::float8 END AS locked_for,
				locked_until
			FROM signin_throttle WHERE key = ANY($1) ORDER BY key FOR UPDATE`,
			pq.Array(keys), ThrottleWindow.Seconds(), lockoutMemory.Seconds()); err != nil {
			return fmt.Errorf("db: throttle: %w", err)
		}
		for _, r := range rows {
			if r.LockedFor != nil {
				refused = longer(refused, time.Duration(*r.LockedFor*float64(time.Second)))
				continue
			}
			failures, lockouts := r.Failures, r.Lockouts
			if r.WindowExpired {
				failures = 0
			}
			if r.Forgotten {
				lockouts = 0
			}
			if failures >= limitOf(r.Key) {
				// The limit is reached: lock the key now, before any hash.
				d := lockoutFor(lockouts)
				if _, err := tx.ExecContext(ctx, `UPDATE signin_throttle SET failures = 0, window_start = now(),
					lockouts = $2, locked_until = now() + make_interval(secs => $3), last_failure_at = now()
					WHERE key = $1`, r.Key, lockouts+1, d.Seconds()); err != nil {
					return fmt.Errorf("db: throttle: lock: %w", err)
				}
				refused = longer(refused, d)
				locked = append(locked, lockEvent{key: r.Key, d: d})
				continue
			}
		}
		if refused != nil && len(locked) == 0 {
			// Refused by a lock already in force: nothing to count or record.
			return nil
		}
		if refused == nil {
			// The attempt is counted as a failure until it succeeds.
			if _, err := tx.ExecContext(ctx, `UPDATE signin_throttle SET
					failures = CASE WHEN window_start < now() - make_interval(secs => $2) THEN 1 ELSE failures + 1 END,
					window_start = CASE WHEN window_start < now() - make_interval(secs => $2) THEN now() ELSE window_start END,
					lockouts = CASE WHEN last_failure_at < now() - make_interval(secs => $3) THEN 0 ELSE lockouts END,
					last_failure_at = now()
				WHERE key = ANY($1)`, pq.Array(keys), ThrottleWindow.Seconds(), lockoutMemory.Seconds()); err != nil {
				return fmt.Errorf("db: throttle: count: %w", err)
			}
		}
		for _, l := range locked {
			if err := writeAudit(ctx, tx, anonymousActor, ActionLoginLocked, "", keyTarget(l.key),
				map[string]any{"key": l.key, "minutes": int(l.d / time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n := s.throttleSweeps.Add(1); n%200 == 0 {
		s.sweepThrottle(ctx)
	}
	return refused, nil
}

type lockEvent struct {
	key string
	d   time.Duration
}

// keyTarget is the email an account key names, for the audit row's target;
// an address key has none.
func keyTarget(key string) string {
	if e, ok := strings.CutPrefix(key, "email:"); ok {
		return e
	}
	return ""
}

func limitOf(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return MaxAddressFailures
	}
	return MaxAccountFailures
}

func longer(t *ThrottledError, d time.Duration) *ThrottledError {
	if t == nil || d > t.RetryAfter {
		return &ThrottledError{RetryAfter: d}
	}
	return t
}

// releaseAttempt is a successful sign-in: the account's count and lock start
// again from nothing, and the address gets back the attempt it was charged.
func (s *Store) releaseAttempt(ctx context.Context, tx *sqlx.Tx, email, addr string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM signin_throttle WHERE key = $1`, accountKey(email)); err != nil {
		return fmt.Errorf("db: throttle: reset: %w", err)
	}
	if k := addressKey(addr); k != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE signin_throttle SET failures = greatest(failures - 1, 0)
			WHERE key = $1`, k); err != nil {
			return fmt.Errorf("db: throttle: reset: %w", err)
		}
	}
	return nil
}

// sweepThrottle deletes rows that have been quiet for a day and hold no lock,
// so that a flood from many addresses does not grow the table for ever. It
// runs now and then, after a counted attempt; a failure only waits for the
// next sweep.
func (s *Store) sweepThrottle(ctx context.Context) {
	_, _ = s.db.ExecContext(ctx, `DELETE FROM signin_throttle WHERE last_failure_at < now() - make_interval(secs => $1)
		AND (locked_until IS NULL OR locked_until < now())`, lockoutMemory.Seconds())
}

// SignInLock is a lock on one account's sign-ins.
type SignInLock struct {
	// Until is when the lock ends.
	Until time.Time
	// Failures is how many failed sign-ins are counted in the current window.
	Failures int
}

// AccountLock returns the lock in force on the account with this email, or
// nil when it may sign in.
func (s *Store) AccountLock(ctx context.Context, email string) (*SignInLock, error) {
	var rows []struct {
		Until    time.Time `db:"locked_until"`
		Failures int       `db:"failures"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT locked_until, failures FROM signin_throttle
		WHERE key = $1 AND locked_until > now()`, accountKey(email)); err != nil {
		return nil, fmt.Errorf("db: account lock: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &SignInLock{Until: rows[0].Until, Failures: rows[0].Failures}, nil
}

// UnlockUser lifts the sign-in lock on a user's account and clears its count
// of failures. It is audited as user.unlock; unlocking an account that is not
// locked is not an error, and writes no audit row.
func (s *Store) UnlockUser(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var email string
		if err := tx.GetContext(ctx, &email, `SELECT email FROM users WHERE id = $1`, id); err != nil {
			return notFound(err, "unlock")
		}
		var until []time.Time
		if err := tx.SelectContext(ctx, &until, `DELETE FROM signin_throttle WHERE key = $1
			RETURNING COALESCE(locked_until, '-infinity')`, accountKey(email)); err != nil {
			return fmt.Errorf("db: unlock: %w", err)
		}
		if len(until) == 0 {
			return nil
		}
		return writeAudit(ctx, tx, actor, ActionUnlock, id, email, map[string]any{"was_locked_until": until[0]})
	})
}

// hashGate bounds the password hashes computed at once. A bcrypt check at
// cost 11 takes a core for tens of milliseconds: unbounded, a few hundred
// sign-ins a second would leave no CPU for anything else.
type hashGate struct {
	slots   chan struct{}
	waiting atomic.Int64
	// running, peak and total count the hashes, for the tests.
	running atomic.Int64
	peak    atomic.Int64
	total   atomic.Int64
}

// maxHashWaiters is how many sign-ins may queue for a hash; past that they
// are refused at once, rather than holding connections open.
const maxHashWaiters = 64

// maxHashWait is how long a sign-in waits for a hash before it is refused.
const maxHashWait = 10 * time.Second

func newHashGate(n int) *hashGate {
	return &hashGate{slots: make(chan struct{}, max(n, 1))}
}

// do runs fn, a password hash, when a slot is free.
func (g *hashGate) do(ctx context.Context, fn func()) error {
	if g.waiting.Add(1) > maxHashWaiters {
		g.waiting.Add(-1)
		return ErrSignInBusy
	}
	t := time.NewTimer(maxHashWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		g.waiting.Add(-1)
	case <-t.C:
		g.waiting.Add(-1)
		return ErrSignInBusy
	case <-ctx.Done():
		g.waiting.Add(-1)
		return ctx.Err()
	}
	defer func() { <-g.slots }()
	n := g.running.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	defer g.running.Add(-1)
	g.total.Add(1)
	fn()
	return nil
}

// SetMaxConcurrentHashes bounds how many password hashes the store computes
// at once (default: half the CPUs, at least one). Call it before serving.
func (s *Store) SetMaxConcurrentHashes(n int) { s.hashes = newHashGate(n) }
