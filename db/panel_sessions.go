package db

// Panel sessions: one row per sign-in of a staff member, so that idle and
// absolute limits, sign-out and "end my other sessions" hold on every
// instance that shares the database.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// ErrSessionEnded is returned for a panel session that was signed out,
// expired (idle or absolute limit), or ended by a sign-out everywhere, a ban
// or a password change.
var ErrSessionEnded = errors.New("the session has ended: sign in again")

// ActionSessionEnd is the audit action of a staff member ending one of their
// own panel sessions.
const ActionSessionEnd = "session.end"

// Default panel session limits.
const (
	DefaultSessionIdleTimeout = 30 * time.Minute
	DefaultSessionMaxAge      = 12 * time.Hour
)

// Column limits of panel_sessions.
const (
	maxClientAddrLen = 64
	maxUserAgentLen  = 512
)

// SessionLimits bounds a panel session: Idle since the last request, MaxAge
// since the sign-in (never renewed). Zero values take the defaults.
type SessionLimits struct {
	Idle   time.Duration
	MaxAge time.Duration
}

func (l SessionLimits) withDefaults() SessionLimits {
	if l.Idle <= 0 {
		l.Idle = DefaultSessionIdleTimeout
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultSessionMaxAge
	}
	return l
}

// touchInterval is how stale last_seen_at may get before a request writes
// it: a write per minute per session rather than one per request. The idle
// timeout may so end a session up to this much early, never late.
func (l SessionLimits) touchInterval() time.Duration {
	return min(time.Minute, l.Idle/10)
}

// PanelSession is one sign-in to the panel.
type PanelSession struct {
	ID         string     `db:"id"`
	UserID     string     `db:"user_id"`
	CreatedAt  time.Time  `db:"created_at"`
	LastSeenAt time.Time  `db:"last_seen_at"`
	ExpiresAt  time.Time  `db:"expires_at"`
	EndedAt    *time.Time `db:"ended_at"`
	ClientAddr string     `db:"client_addr"`
	UserAgent  string     `db:"user_agent"`
}

const panelSessionColumns = `ps.id, ps.user_id, ps.created_at, ps.last_seen_at, ps.expires_at, ps.ended_at,
	ps.client_addr, ps.user_agent`

// hashToken is what panel_sessions keeps of a session token.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// cleanClientAddr keeps a well-formed IP address and drops anything else.
func cleanClientAddr(addr string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// cleanUserAgent makes a browser's User-Agent storable: valid text, cut to
// the column's length on a character boundary.
func cleanUserAgent(ua string) string {
	ua = strings.ToValidUTF8(strings.ReplaceAll(ua, "\x00", ""), "")
	for len(ua) > maxUserAgentLen {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

// StartPanelSession opens a new panel session for u, who has just proved
// their password, and returns the token for the cookie. Each sign-in gets a
// new random token, so that no identifier chosen before the sign-in
// survives it. The sign-in itself is audited by Authenticate.
func (s *Store) StartPanelSession(ctx context.Context, u *User, lim SessionLimits, clientAddr, userAgent string) (string, *PanelSession, error) {
	lim = lim.withDefaults()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("db: session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	var ps PanelSession
	err := s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		// Old rows of this user go at their next sign-in, so the table
		// stays small without a job.
		if _, err := tx.ExecContext(ctx, `DELETE FROM panel_sessions
			WHERE user_id = $1 AND (ended_at IS NOT NULL OR expires_at < now()) AND created_at < now() - interval '30 days'`,
			u.ID); err != nil {
			return fmt.Errorf("db: prune panel sessions: %w", err)
		}
		return tx.GetContext(ctx, &ps, `INSERT INTO panel_sessions AS ps
			(token_hash, user_id, session_version, expires_at, client_addr, user_agent)
			VALUES ($1, $2, $3, now() + $4 * interval '1 microsecond', $5, $6)
			RETURNING `+panelSessionColumns,
			hashToken(token), u.ID, u.SessionVersion, lim.MaxAge.Microseconds(),
			cleanClientAddr(clientAddr), cleanUserAgent(userAgent))
	})
	if err != nil {
		return "", nil, fmt.Errorf("db: start panel session: %w", err)
	}
	return token, &ps, nil
}

// sessionUserRow is a panel session joined with its user, read in one query.
type sessionUserRow struct {
	User
	Session PanelSession `db:"ps"`
	Version int          `db:"ps_version"`
	Now     time.Time    `db:"db_now"`
}

// LoadPanelSession returns the live session of token and its user, reloaded
// with their roles: what the panel does on every request, in one query.
// A session that was ended, outlived lim, or predates the user's
// session_version is ErrSessionEnded; an unknown token is ErrNotFound. It
// records the request in last_seen_at at most once per touch interval.
// Whether the user may still use the panel (banned, staff) is the caller's.
func (s *Store) LoadPanelSession(ctx context.Context, token string, lim SessionLimits) (*PanelSession, *User, error) {
	lim = lim.withDefaults()
	if token == "" || len(token) > 100 {
		return nil, nil, ErrNotFound
	}
	var row sessionUserRow
	if err := s.db.GetContext(ctx, &row, loadSessionQuery, hashToken(token)); err != nil {
		return nil, nil, notFound(err, "load panel session")
	}
	ps, now := row.Session, row.Now
	switch {
	case ps.EndedAt != nil, row.Version != row.User.SessionVersion,
		!now.Before(ps.ExpiresAt), !now.Before(ps.CreatedAt.Add(lim.MaxAge)),
		now.Sub(ps.LastSeenAt) >= lim.Idle:
		return &ps, &row.User, ErrSessionEnded
	}
	if now.Sub(ps.LastSeenAt) >= lim.touchInterval() {
		if _, err := s.db.ExecContext(ctx, `UPDATE panel_sessions SET last_seen_at = now()
			WHERE id = $1 AND ended_at IS NULL`, ps.ID); err != nil {
			return nil, nil, fmt.Errorf("db: touch panel session: %w", err)
		}
		ps.LastSeenAt = now
	}
	return &ps, &row.User, nil
}

// ListPanelSessions returns the user's live panel sessions, the most
// recently used first.
func (s *Store) ListPanelSessions(ctx context.Context, userID string, lim SessionLimits) ([]PanelSession, error) {
	lim = lim.withDefaults()
	if !validID(userID) {
		return nil, ErrNotFound
	}
	out := []PanelSession{}
	err := s.db.SelectContext(ctx, &out, `SELECT `+panelSessionColumns+`
		FROM panel_sessions ps JOIN users u ON u.id = ps.user_id
		WHERE ps.user_id = $1 AND ps.ended_at IS NULL AND ps.session_version = u.session_version
		  AND ps.expires_at > now()
		  AND ps.created_at > now() - $2 * interval '1 microsecond'
		  AND ps.last_seen_at > now() - $3 * interval '1 microsecond'
		ORDER BY ps.last_seen_at DESC, ps.id LIMIT 100`,
		userID, lim.MaxAge.Microseconds(), lim.Idle.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("db: list panel sessions: %w", err)
	}
	return out, nil
}

// EndOwnPanelSession ends one of the actor's own panel sessions, audited as
// session.end. Another user's session, an ended one or a malformed id is
// ErrNotFound: nobody learns which ids exist.
func (s *Store) EndOwnPanelSession(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) || !validID(actor.ID) {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var ps PanelSession
		err := tx.GetContext(ctx, &ps, `UPDATE panel_sessions ps SET ended_at = now()
			WHERE ps.id = $1 AND ps.user_id = $2 AND ps.ended_at IS NULL
			RETURNING `+panelSessionColumns, id, actor.ID)
		if err != nil {
			return notFound(err, "end panel session")
		}
		return writeAudit(ctx, tx, actor, ActionSessionEnd, actor.ID, actor.Email, map[string]any{
			"session_id": ps.ID, "client_addr": ps.ClientAddr, "user_agent": ps.UserAgent,
			"signed_in_at": ps.CreatedAt.UTC().Format(time.RFC3339),
		})
	})
}

// SignOutSession ends the panel session of token: the panel's sign-out. It
// is audited as user.logout, by the session's own user. A token that names
// no live session is ErrNotFound.
func (s *Store) SignOutSession(ctx context.Context, token string) error {
	if token == "" || len(token) > 100 {
		return ErrNotFound
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var row struct {
			ID     string `db:"id"`
			UserID string `db:"user_id"`
			Email  string `db:"email"`
		}
		err := tx.GetContext(ctx, &row, `UPDATE panel_sessions ps SET ended_at = now()
			FROM users u WHERE u.id = ps.user_id AND ps.token_hash = $1 AND ps.ended_at IS NULL
			RETURNING ps.id, ps.user_id, u.email`, hashToken(token))
		if err != nil {
			return notFound(err, "sign out")
		}
		actor := Actor{ID: row.UserID, Email: row.Email}
		return writeAudit(ctx, tx, actor, ActionLogout, row.UserID, row.Email, map[string]any{"session_id": row.ID})
	})
}

// DropPanelSession ends a session whose user may no longer use the panel
// (banned, or no staff role left), so that it does not come back if the ban
// is lifted or the role granted again. It is not audited: the ban or the
// role change that caused it is.
func (s *Store) DropPanelSession(ctx context.Context, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE panel_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL`, id); err != nil {
		return fmt.Errorf("db: drop panel session: %w", err)
	}
	return nil
}

// loadSessionQuery is LoadPanelSession's statement.
var loadSessionQuery = `SELECT ` + userColumns + `,
		ps.id AS "ps.id", ps.user_id AS "ps.user_id", ps.created_at AS "ps.created_at",
		ps.last_seen_at AS "ps.last_seen_at", ps.expires_at AS "ps.expires_at", ps.ended_at AS "ps.ended_at",
		ps.client_addr AS "ps.client_addr", ps.user_agent AS "ps.user_agent",
		ps.session_version AS ps_version, now() AS db_now
		FROM panel_sessions ps JOIN users u ON u.id = ps.user_id
		WHERE ps.token_hash = $1`
