package db

// Staff sign-in and sign-out.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"
)

// ErrInvalidCredentials is the one answer to every failed sign-in.
var ErrInvalidCredentials = errors.New("invalid email or password")

// dummyHash is compared against when the email is unknown or the account has
// no password, so that those take as long to refuse as a wrong password. It
// is a bcrypt hash at bcryptCost of random bytes nobody kept: fixed in the
// source so that no program pays for making it (seconds under the race
// detector) and nobody knows a password that matches it. Regenerate it if
// bcryptCost changes, or unknown emails become faster to refuse.
var dummyHash = []byte("$2a$11$.1jMoPiaWkhnRA4wNh2vduXz6Pk45sbTWpfnliBHZ3hwH4Gno5RZ6")

// dummyHashMinCost is dummyHash at bcrypt's minimum cost, for tests that
// lowered the cost (UseMinPasswordCostForTests): there, an unknown email
// takes as long to refuse as a wrong password at the cost they hash with.
var dummyHashMinCost = []byte("$2a$04$W5H4FbVKiV1SDo6JhYB2P.0CSUgSqnXWXPAXVvSD1ZZUVdjgGrI7.")

// noPasswordHash is the hash a sign-in compares against when there is none:
// dummyHash at the cost passwords are hashed with.
func noPasswordHash() []byte {
	if hashCost.Load() == int32(bcrypt.MinCost) {
		return dummyHashMinCost
	}
	return dummyHash
}

// Credentials are what a sign-in presents: the email and password typed,
// and the client address it came from (for the per-address throttle and the
// audit log; empty when unknown).
type Credentials struct {
	Email    string
	Password string
	Address  string
}

// anonymousActor is the actor of the audit rows a failed sign-in writes:
// nobody is signed in.
var anonymousActor = Actor{Email: "anonymous"}

// Reasons a sign-in failed, as the audit log records them. The person
// signing in is told none of them.
const (
	reasonUnknownEmail = "unknown email"
	reasonNoPassword   = "no password"
	reasonWrongPass    = "wrong password"
	reasonBanned       = "banned"
	reasonNotStaff     = "not staff"
)

// Authenticate checks a staff sign-in with no client address: SignIn with
// Credentials{Email: email, Password: password}.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	return s.SignIn(ctx, Credentials{Email: email, Password: password})
}

// SignIn checks a staff sign-in. An unknown email, a wrong password, a
// banned account and an account without a staff role all get
// ErrInvalidCredentials, after the same work: one query, one hash, one audit
// row. An account or address that failed too often gets a *ThrottledError
// before any hash; too many hashes at once, ErrSignInBusy. On success it
// records last_login_at and an audit row, and clears the account's count.
func (s *Store) SignIn(ctx context.Context, cr Credentials) (*User, error) {
	email := strings.TrimSpace(cr.Email)
	keys := []string{accountKey(email)}
	if k := addressKey(cr.Address); k != "" {
		keys = append(keys, k)
	}
	refused, err := s.reserveAttempt(ctx, keys)
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	// One query says everything the refusal depends on, so that a correct
	// password on a banned or non-staff account costs no more than a wrong
	// one: no timing tells which passwords are right.
	var row struct {
		ID     string         `db:"id"`
		Email  string         `db:"email"`
		Hash   sql.NullString `db:"password_hash"`
		Banned bool           `db:"banned"`
		Staff  bool           `db:"staff"`
	}
	found := false
	if validText(email) {
		err := s.db.GetContext(ctx, &row, `SELECT u.id, u.email, u.password_hash, `+bannedNow+` AS banned,
			EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
			        WHERE ur.user_id = u.id AND r.name = ANY($2)) AS staff
			FROM users u WHERE lower(u.email) = lower($1)`, email, pq.Array(StaffRoles))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("db: sign in: %w", err)
		}
		found = err == nil
	}
	hash := []byte(row.Hash.String)
	if !row.Hash.Valid {
		hash = noPasswordHash()
	}
	var match bool
	if err := s.hashes.do(ctx, func() { match = bcrypt.CompareHashAndPassword(hash, []byte(cr.Password)) == nil }); err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case !found:
		reason = reasonUnknownEmail
	case !row.Hash.Valid:
		reason = reasonNoPassword
	case !match:
		reason = reasonWrongPass
	case row.Banned:
		reason = reasonBanned
	case !row.Staff:
		reason = reasonNotStaff
	}
	if reason != "" {
		if err := s.recordFailedSignIn(ctx, row.ID, email, cr.Address, reason); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	actor := Actor{ID: row.ID, Email: row.Email}
	err = s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, row.ID); err != nil {
			return fmt.Errorf("db: record sign-in: %w", err)
		}
		if err := s.releaseAttempt(ctx, tx, email, cr.Address); err != nil {
			return err
		}
		var details map[string]any
		if cr.Address != "" {
			details = map[string]any{"address": cr.Address}
		}
		return writeAudit(ctx, tx, actor, ActionLogin, row.ID, row.Email, details)
	})
	if err != nil {
		return nil, err
	}
	return s.LoadUser(ctx, row.ID)
}

// recordFailedSignIn writes the audit row of a failed sign-in: the email
// tried, the address and the reason, never the password. The target is the
// account when there is one, so that its page shows the failures.
func (s *Store) recordFailedSignIn(ctx context.Context, id, email, addr, reason string) error {
	tried := email
	if !validText(tried) {
		tried = "(not valid text)"
	}
	if r := []rune(tried); len(r) > MaxEmailLen {
		tried = string(r[:MaxEmailLen]) + "…"
	}
	details := map[string]any{"email": tried, "reason": reason}
	if addr != "" {
		details["address"] = addr
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		return writeAudit(ctx, tx, anonymousActor, ActionLoginFailed, id, tried, details)
	})
}

// SignOut ends the user's panel sign-ins. The panel's session cookie carries
// session_version, so raising it makes every copy of the cookie worthless —
// this browser's, another device's, or one copied off the wire — rather than
// only the one the browser forgets. It is audited as user.logout.
func (s *Store) SignOut(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var email string
		err := tx.GetContext(ctx, &email, `UPDATE users SET session_version = session_version + 1
			WHERE id = $1 RETURNING email`, id)
		if err != nil {
			return notFound(err, "sign out")
		}
		return writeAudit(ctx, tx, actor, ActionLogout, id, email, nil)
	})
}
