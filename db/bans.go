package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// MaxBanReasonLen bounds a ban reason.
const MaxBanReasonLen = 500

// BanUser bans the user with a reason, until the given time or, with a nil
// until, for good; it ends all their sessions. Banning the last active admin
// or oneself is refused.
func (s *Store) BanUser(ctx context.Context, id, reason string, until *time.Time) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	reason, err = checkBanReason(reason)
	if err != nil {
		return err
	}
	if until != nil && !until.After(s.now()) {
		return invalid("until", "must be in the future")
	}
	if !validID(id) {
		return ErrNotFound
	}
	if id == actor.ID {
		return ErrSelf
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		email, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		// banned_by points at the actor. Take the foreign key's lock on the
		// actor's row now, before the admin-role lock, so that a concurrent
		// DeleteUser of the actor (row first, then admin role) queues behind
		// us or ahead of us instead of deadlocking.
		if err := lockActor(ctx, tx, actor); err != nil {
			return err
		}
		if err := guardLastAdmin(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET banned = true, ban_reason = $2, banned_until = $3,
			banned_at = now(), banned_by = $4, session_version = session_version + 1, updated_at = now()
			WHERE id = $1`, id, reason, until, nullableID(actor.ID)); err != nil {
			return fmt.Errorf("db: ban user: %w", err)
		}
		n, err := revokeAll(ctx, tx, id)
		if err != nil {
			return err
		}
		details := map[string]any{"reason": reason, "sessions_revoked": n}
		if until != nil {
			details["until"] = until.UTC().Format(time.RFC3339)
		}
		if err := writeAudit(ctx, tx, actor, ActionBan, id, email, details); err != nil {
			return err
		}
		ev.add(EventUserBanned, id, email, actor)
		return nil
	})
}

// checkBanReason trims a ban reason and refuses an empty, malformed or
// over-long one.
func checkBanReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", invalid("reason", "is required")
	case !validText(reason):
		return "", invalid("reason", "is not valid text")
	case utf8.RuneCountInString(reason) > MaxBanReasonLen:
		return "", invalid("reason", fmt.Sprintf("is longer than %d characters", MaxBanReasonLen))
	}
	return reason, nil
}

// UnbanUser lifts the user's ban. Unbanning a user with no ban on record
// changes nothing and writes no audit row.
func (s *Store) UnbanUser(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		var row struct {
			Email  string `db:"email"`
			Banned bool   `db:"banned"`
		}
		if err := tx.GetContext(ctx, &row, `SELECT email, banned FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
			return notFound(err, "unban user")
		}
		if !row.Banned {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET banned = false, ban_reason = NULL, banned_until = NULL,
			banned_at = NULL, banned_by = NULL, updated_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("db: unban user: %w", err)
		}
		if err := writeAudit(ctx, tx, actor, ActionUnban, id, row.Email, nil); err != nil {
			return err
		}
		ev.add(EventUserUnbanned, id, row.Email, actor)
		return nil
	})
}

// RevokeSessions signs the user out everywhere: every live application
// session is revoked and their panel sign-in, if any, ends. It returns how
// many application sessions were revoked.
func (s *Store) RevokeSessions(ctx context.Context, id string) (int64, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return 0, err
	}
	if !validID(id) {
		return 0, ErrNotFound
	}
	var n int64
	err = s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		email, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET session_version = session_version + 1 WHERE id = $1`, id); err != nil {
			return fmt.Errorf("db: revoke sessions: %w", err)
		}
		if n, err = revokeAll(ctx, tx, id); err != nil {
			return err
		}
		return writeAudit(ctx, tx, actor, ActionRevokeSessions, id, email, map[string]any{"sessions_revoked": n})
	})
	return n, err
}

func revokeAll(ctx context.Context, tx *sqlx.Tx, id string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = now()
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()`, id)
	if err != nil {
		return 0, fmt.Errorf("db: revoke sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: revoke sessions: %w", err)
	}
	return n, nil
}

// lockActor takes a KEY SHARE lock on a person actor's row, so that it cannot
// be deleted before the transaction commits; ErrActorGone if it already was.
func lockActor(ctx context.Context, tx *sqlx.Tx, actor Actor) error {
	if actor.ID == "" {
		return nil
	}
	var one int
	err := tx.GetContext(ctx, &one, `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`, actor.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrActorGone
	}
	if err != nil {
		return fmt.Errorf("db: lock actor: %w", err)
	}
	return nil
}
