package db

// Staff sign-in and sign-out.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
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

// Authenticate checks a staff sign-in. An unknown email, a wrong password, a
// banned account and an account without a staff role all get
// ErrInvalidCredentials. On success it records last_login_at and an audit row.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	if !validText(email) {
		// No account has such an address; the database would refuse the
		// query itself, and a sign-in form must not answer with a 500.
		return nil, ErrInvalidCredentials
	}
	var row struct {
		ID   string         `db:"id"`
		Hash sql.NullString `db:"password_hash"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT id, password_hash FROM users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("db: authenticate: %w", err)
	}
	hash := []byte(row.Hash.String)
	if !row.Hash.Valid {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !row.Hash.Valid {
		return nil, ErrInvalidCredentials
	}
	u, err := s.LoadUser(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	if u.Banned || !IsStaff(u.Roles) {
		return nil, ErrInvalidCredentials
	}
	actor := Actor{ID: u.ID, Email: u.Email}
	err = s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, u.ID); err != nil {
			return fmt.Errorf("db: record sign-in: %w", err)
		}
		return writeAudit(ctx, tx, actor, ActionLogin, u.ID, u.Email, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.LoadUser(ctx, u.ID)
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
