package db

// Changing passwords: one's own, and another user's by an admin or the
// command line.

import (
	"context"
	"errors"

	"github.com/jmoiron/sqlx"
	"golang.org/x/crypto/bcrypt"
)

// ChangeOwnPassword sets a new password for the context's actor, who must
// give their current one. It ends every panel sign-in of theirs (raising
// session_version) and returns the user as they now are, so that the caller
// can carry on the sign-in it is serving with the new version: every other
// session ends, this one goes on. It clears an admin's "change at next
// sign-in", and is audited as user.password_change.
//
// Seam: today a panel sign-in is a cookie checked against session_version,
// so "every other" is "all, then this one again". When panel sessions are
// rows of their own, this is where the other rows are ended instead.
func (s *Store) ChangeOwnPassword(ctx context.Context, current, password string) (*User, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if !validID(actor.ID) {
		return nil, ErrActorGone
	}
	if current == "" {
		return nil, invalid("current_password", "is required")
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	if password == current {
		return nil, invalid("password", "must differ from the current one")
	}
	var hash []byte
	err = s.db.GetContext(ctx, &hash, `SELECT COALESCE(password_hash, '') FROM users WHERE id = $1`, actor.ID)
	if err != nil {
		return nil, notFoundAs(err, ErrActorGone, "change password")
	}
	if len(hash) == 0 {
		hash = noPasswordHash()
	}
	var match bool
	if err := s.hashes.do(ctx, func() { match = bcrypt.CompareHashAndPassword(hash, []byte(current)) == nil }); err != nil {
		return nil, err
	}
	if !match {
		return nil, invalid("current_password", "is not your current password")
	}
	newHash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	err = s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var email string
		err := tx.GetContext(ctx, &email, `UPDATE users SET password_hash = $2, password_change_required = false,
			password_changed_at = now(), session_version = session_version + 1, updated_at = now()
			WHERE id = $1 RETURNING email`, actor.ID, newHash)
		if err != nil {
			return notFoundAs(err, ErrActorGone, "change password")
		}
		return writeAudit(ctx, tx, actor, ActionPasswordChange, actor.ID, email, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.LoadUser(ctx, actor.ID)
}

// SetPassword gives another user a new password, as an admin or the command
// line does for a forgotten one. Every panel sign-in of theirs ends. With
// mustChange, they must choose a password of their own at the next sign-in.
// An actor setting their own password is refused with ErrSelf: that is
// ChangeOwnPassword, which asks for the current one. Audited as
// user.password_set.
func (s *Store) SetPassword(ctx context.Context, id, password string, mustChange bool) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	if actor.ID == id {
		return ErrSelf
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var email string
		err := tx.GetContext(ctx, &email, `UPDATE users SET password_hash = $2, password_change_required = $3,
			password_changed_at = now(), session_version = session_version + 1, updated_at = now()
			WHERE id = $1 RETURNING email`, id, hash, mustChange)
		if err != nil {
			return notFound(err, "set password")
		}
		return writeAudit(ctx, tx, actor, ActionPasswordSet, id, email, map[string]any{"must_change": mustChange})
	})
}

// RequirePasswordChange makes the user choose a new password at their next
// sign-in, and at once if they are signed in: the panel asks for it before
// any other page. Audited as user.password_force.
func (s *Store) RequirePasswordChange(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var email string
		err := tx.GetContext(ctx, &email, `UPDATE users SET password_change_required = true, updated_at = now()
			WHERE id = $1 RETURNING email`, id)
		if err != nil {
			return notFound(err, "require a password change")
		}
		return writeAudit(ctx, tx, actor, ActionPasswordForce, id, email, nil)
	})
}

// notFoundAs is notFound with another error for a missing row.
func notFoundAs(err, missing error, what string) error {
	if err = notFound(err, what); errors.Is(err, ErrNotFound) {
		return missing
	}
	return err
}
