package db

// The User type and the calls on one user: get, create, update, delete.
// Over 300 lines because each change keeps its transaction, its audit row
// and its event together in one function, as every change in db does.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// User is one account, with its roles. Banned is the ban in force now: a ban
// whose end has passed reads as not banned, with no job to lift it.
type User struct {
	ID             string     `db:"id"`
	Email          string     `db:"email"`
	Name           string     `db:"name"`
	EmailVerified  bool       `db:"email_verified"`
	Banned         bool       `db:"banned"`
	BanReason      string     `db:"ban_reason"`
	BannedUntil    *time.Time `db:"banned_until"`
	BannedAt       *time.Time `db:"banned_at"`
	BannedBy       *string    `db:"banned_by"`
	BannedByEmail  string     `db:"banned_by_email"`
	HasPassword    bool       `db:"has_password"`
	SessionVersion int        `db:"session_version"`
	// MustChangePassword is set when an admin asked for a new password at
	// the next sign-in: the panel asks for it before anything else.
	MustChangePassword bool `db:"password_change_required"`
	// PasswordChangedAt is when the password was last changed or set; nil
	// if never since the account was made.
	PasswordChangedAt *time.Time     `db:"password_changed_at"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
	LastLoginAt       *time.Time     `db:"last_login_at"`
	Roles             pq.StringArray `db:"roles"`
}

// HasRole reports whether the user holds the named role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// bannedNow is the SQL for "a ban is in force now".
const bannedNow = `(u.banned AND (u.banned_until IS NULL OR u.banned_until > now()))`

// userColumns is the one column list every user query selects from "users u".
const userColumns = `u.id, u.email, u.name, u.email_verified, ` + bannedNow + ` AS banned,
	COALESCE(u.ban_reason, '') AS ban_reason, u.banned_until, u.banned_at, u.banned_by,
	COALESCE((SELECT b.email FROM users b WHERE b.id = u.banned_by), '') AS banned_by_email,
	u.password_hash IS NOT NULL AS has_password, u.session_version, u.password_change_required, u.password_changed_at,
	u.created_at, u.updated_at, u.last_login_at,
	ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
	      WHERE ur.user_id = u.id ORDER BY r.name) AS roles`

// Session is one of the application's sessions (a refresh token).
type Session struct {
	ID        string     `db:"id"`
	UserAgent string     `db:"user_agent"`
	IP        string     `db:"ip"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt time.Time  `db:"expires_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

// Active reports whether the session is neither revoked nor expired at now.
func (s Session) Active(now time.Time) bool { return s.RevokedAt == nil && s.ExpiresAt.After(now) }

// OAuthAccount links a user to an identity at an OAuth provider.
type OAuthAccount struct {
	ID             string    `db:"id"`
	Provider       string    `db:"provider"`
	ProviderUserID string    `db:"provider_user_id"`
	Email          string    `db:"email"`
	CreatedAt      time.Time `db:"created_at"`
}

// UserDetail is everything about one user.
type UserDetail struct {
	User
	Sessions      []Session
	OAuthAccounts []OAuthAccount
}

// GetUser returns the user with their roles, sessions and OAuth accounts,
// or ErrNotFound (a malformed id is not found too).
func (s *Store) GetUser(ctx context.Context, id string) (*UserDetail, error) {
	u, err := s.LoadUser(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &UserDetail{User: *u, Sessions: []Session{}, OAuthAccounts: []OAuthAccount{}}
	if err := s.db.SelectContext(ctx, &d.Sessions, `SELECT id, user_agent, COALESCE(host(ip), '') AS ip,
		created_at, expires_at, revoked_at FROM refresh_tokens WHERE user_id = $1
		ORDER BY created_at DESC, id LIMIT 200`, id); err != nil {
		return nil, fmt.Errorf("db: get user sessions: %w", err)
	}
	if err := s.db.SelectContext(ctx, &d.OAuthAccounts, `SELECT id, provider, provider_user_id, email, created_at
		FROM oauth_accounts WHERE user_id = $1 ORDER BY provider, provider_user_id`, id); err != nil {
		return nil, fmt.Errorf("db: get user oauth accounts: %w", err)
	}
	return d, nil
}

// LoadUser returns the user and their roles only: what the panel reloads on
// every request.
func (s *Store) LoadUser(ctx context.Context, id string) (*User, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	var u User
	if err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id); err != nil {
		return nil, notFound(err, "get user")
	}
	return &u, nil
}

// GetUserByEmail finds a user by email, whatever its case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	if !validText(email) {
		return nil, ErrNotFound
	}
	var u User
	err := s.db.GetContext(ctx, &u, `SELECT `+userColumns+` FROM users u WHERE lower(u.email) = lower($1)`,
		strings.TrimSpace(email))
	if err != nil {
		return nil, notFound(err, "get user by email")
	}
	return &u, nil
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Email         string
	Name          string
	Password      string
	EmailVerified bool
	Roles         []string
}

// CreateUser creates an account with a hashed password and the given roles.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	name, err := normalizeName(nu.Name)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(nu.Password); err != nil {
		return nil, err
	}
	roles := dedupe(nu.Roles)
	// Refuse an unknown role before paying for bcrypt; the transaction looks
	// the roles up again, so one deleted in between is still caught.
	if _, err := roleIDsOf(ctx, s.db, roles); err != nil {
		return nil, err
	}
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	var id string
	err = s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		if err := authorize(ctx, tx, actor, ActCreateUser, ""); err != nil {
			return err
		}
		roleIDs, err := roleIDsOf(ctx, tx, roles)
		if err != nil {
			return err
		}
		err = tx.GetContext(ctx, &id, `INSERT INTO users (email, name, password_hash, email_verified)
			VALUES ($1, $2, $3, $4) RETURNING id`, email, name, hash, nu.EmailVerified)
		if isUniqueViolation(err) {
			return ErrUserAlreadyExists
		}
		if err != nil {
			return fmt.Errorf("db: create user: %w", err)
		}
		if len(roleIDs) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role_id)
				SELECT $1, unnest($2::smallint[])`, id, pq.Array(roleIDs)); err != nil {
				return fmt.Errorf("db: create user: grant roles: %w", err)
			}
		}
		details := map[string]any{"name": name, "roles": roles, "email_verified": nu.EmailVerified}
		if err := writeAudit(ctx, tx, actor, ActionCreate, id, email, details); err != nil {
			return err
		}
		ev.add(EventUserCreated, id, email, actor)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.LoadUser(ctx, id)
}

// UserUpdate lists the fields to change; nil fields are left alone.
type UserUpdate struct {
	Name          *string
	Email         *string
	EmailVerified *bool
}

// UpdateUser edits name, email and verified, and audits what changed.
func (s *Store) UpdateUser(ctx context.Context, id string, up UserUpdate) (*User, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return nil, err
	}
	if up.Email != nil {
		e, err := NormalizeEmail(*up.Email)
		if err != nil {
			return nil, err
		}
		up.Email = &e
	}
	if up.Name != nil {
		n, err := normalizeName(*up.Name)
		if err != nil {
			return nil, err
		}
		up.Name = &n
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	var after User
	err = s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		var cur struct {
			Email    string `db:"email"`
			Name     string `db:"name"`
			Verified bool   `db:"email_verified"`
		}
		if err := tx.GetContext(ctx, &cur, `SELECT email, name, email_verified FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
			return notFound(err, "update user")
		}
		if err := authorize(ctx, tx, actor, ActEditUser, id); err != nil {
			return err
		}
		changes := map[string]any{}
		if up.Email != nil && *up.Email != cur.Email {
			changes["email"] = map[string]any{"from": cur.Email, "to": *up.Email}
		}
		if up.Name != nil && *up.Name != cur.Name {
			changes["name"] = map[string]any{"from": cur.Name, "to": *up.Name}
		}
		if up.EmailVerified != nil && *up.EmailVerified != cur.Verified {
			changes["email_verified"] = map[string]any{"from": cur.Verified, "to": *up.EmailVerified}
		}
		if len(changes) == 0 {
			return tx.GetContext(ctx, &after, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id)
		}
		newEmail := cur.Email
		if up.Email != nil {
			newEmail = *up.Email
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET email = $2, name = COALESCE($3, name),
			email_verified = COALESCE($4, email_verified), updated_at = now() WHERE id = $1`,
			id, newEmail, up.Name, up.EmailVerified)
		if isUniqueViolation(err) {
			return ErrUserAlreadyExists
		}
		if err != nil {
			return fmt.Errorf("db: update user: %w", err)
		}
		if err := writeAudit(ctx, tx, actor, ActionUpdate, id, newEmail, changes); err != nil {
			return err
		}
		ev.add(EventUserUpdated, id, newEmail, actor)
		// The user as this change left it, read in its transaction: read
		// after the commit, a delete made in between would make a change
		// that happened look like "not found".
		return tx.GetContext(ctx, &after, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, id)
	})
	if err != nil {
		return nil, err
	}
	return &after, nil
}

// DeleteUser removes the user in one statement; the foreign keys' cascade
// removes their roles, sessions, OAuth accounts and verification tokens. The
// audit log keeps its rows about them.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	if id == actor.ID {
		return selfError(ActDeleteUser)
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		// Lock the row first: concurrent deletes queue here and the losers
		// find no row, so exactly one succeeds.
		email, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := authorize(ctx, tx, actor, ActDeleteUser, id); err != nil {
			return err
		}
		if err := guardLastAdmin(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("db: delete user: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		if err := writeAudit(ctx, tx, actor, ActionDelete, id, email, nil); err != nil {
			return err
		}
		ev.add(EventUserDeleted, id, email, actor)
		return nil
	})
}

// lockUser locks the user's row for the rest of the transaction and returns
// their email, or ErrNotFound.
func lockUser(ctx context.Context, tx *sqlx.Tx, id string) (string, error) {
	var email string
	if err := tx.GetContext(ctx, &email, `SELECT email FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
		return "", notFound(err, "lock user")
	}
	return email, nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		x = strings.TrimSpace(x)
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
