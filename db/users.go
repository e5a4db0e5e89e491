package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"
)

// User is one account, with its roles. Banned is the ban in force now: a ban
// whose end has passed reads as not banned, with no job to lift it.
type User struct {
	ID             string         `db:"id"`
	Email          string         `db:"email"`
	Name           string         `db:"name"`
	EmailVerified  bool           `db:"email_verified"`
	Banned         bool           `db:"banned"`
	BanReason      string         `db:"ban_reason"`
	BannedUntil    *time.Time     `db:"banned_until"`
	BannedAt       *time.Time     `db:"banned_at"`
	BannedBy       *string        `db:"banned_by"`
	BannedByEmail  string         `db:"banned_by_email"`
	HasPassword    bool           `db:"has_password"`
	SessionVersion int            `db:"session_version"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	LastLoginAt    *time.Time     `db:"last_login_at"`
	Roles          pq.StringArray `db:"roles"`
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
	u.password_hash IS NOT NULL AS has_password, u.session_version,
	u.created_at, u.updated_at, u.last_login_at,
	ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
	      WHERE ur.user_id = u.id ORDER BY r.name) AS roles`

// Filter narrows a user list; zero values mean "no filter".
type Filter struct {
	// Query is a case-insensitive substring of the email or the name;
	// % and _ in it are literal characters.
	Query    string
	Banned   *bool
	Verified *bool
	// Role is a role name such as "support".
	Role string
}

// Sort keys and orders that ListParams accepts.
const (
	SortCreatedAt   = "created_at"
	SortEmail       = "email"
	SortName        = "name"
	SortLastLoginAt = "last_login_at"
	OrderAsc        = "asc"
	OrderDesc       = "desc"
)

// ListParams is a user-list request.
type ListParams struct {
	Filter
	// SortBy is created_at (the default), email, name or last_login_at.
	SortBy string
	// SortOrder is asc or desc; the default is desc for the time columns
	// and asc for email and name.
	SortOrder string
	// Limit defaults to 20 and is clamped to 1..100.
	Limit  int
	Offset int
	// SkipTotal leaves Total at -1, for callers that fetch the count in a
	// separate request so that a page never waits for it.
	SkipTotal bool
}

// ListResult is one page of users.
type ListResult struct {
	Users  []User
	Total  int64
	Limit  int
	Offset int
}

// orderBy maps our own sort keys to literal SQL, ascending then descending,
// always ending in the id tiebreaker so that pages are stable. Email and name
// sort case-insensitively, and in code-point order (COLLATE "C") so that the
// order does not depend on the server's locale; schema.sql has an index on
// each of these exact expressions.
var orderBy = map[string][2]string{
	SortCreatedAt:   {`u.created_at ASC, u.id ASC`, `u.created_at DESC, u.id DESC`},
	SortEmail:       {`lower(u.email) COLLATE "C" ASC, u.id ASC`, `lower(u.email) COLLATE "C" DESC, u.id DESC`},
	SortName:        {`lower(u.name) COLLATE "C" ASC, u.id ASC`, `lower(u.name) COLLATE "C" DESC, u.id DESC`},
	SortLastLoginAt: {`u.last_login_at ASC NULLS FIRST, u.id ASC`, `u.last_login_at DESC NULLS LAST, u.id DESC`},
}

// DefaultOrder returns the natural order of a sort key: newest first for
// times, alphabetical for text.
func DefaultOrder(sortBy string) string {
	if sortBy == SortEmail || sortBy == SortName {
		return OrderAsc
	}
	return OrderDesc
}

// ValidSort reports whether sortBy is a key ListUsers accepts.
func ValidSort(sortBy string) bool { _, ok := orderBy[sortBy]; return ok }

// maxQueryLen bounds the search text.
const maxQueryLen = 200

// normalize fills in defaults and checks the parameters.
func (p *ListParams) normalize() error {
	if p.SortBy == "" {
		p.SortBy = SortCreatedAt
	}
	if !ValidSort(p.SortBy) {
		return invalid("sort", fmt.Sprintf("unknown sort key %q", p.SortBy))
	}
	if p.SortOrder == "" {
		p.SortOrder = DefaultOrder(p.SortBy)
	}
	if p.SortOrder != OrderAsc && p.SortOrder != OrderDesc {
		return invalid("order", fmt.Sprintf("unknown sort order %q", p.SortOrder))
	}
	switch {
	case p.Limit == 0:
		p.Limit = 20
	case p.Limit < 1:
		p.Limit = 1
	case p.Limit > 100:
		p.Limit = 100
	}
	if p.Offset < 0 {
		p.Offset = 0
	}
	return p.Filter.normalize()
}

func (f *Filter) normalize() error {
	f.Query = strings.TrimSpace(f.Query)
	if utf8.RuneCountInString(f.Query) > maxQueryLen {
		return invalid("q", fmt.Sprintf("search text is longer than %d characters", maxQueryLen))
	}
	if !validText(f.Query) {
		return invalid("q", "search text is not valid text")
	}
	f.Role = strings.TrimSpace(f.Role)
	if !validText(f.Role) {
		return invalid("role", "is not valid text")
	}
	return nil
}

// escapeLike makes %, _ and \ literal in an ILIKE pattern (escape character \).
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// where builds the WHERE clause of f with numbered placeholders; no user
// text ever reaches the SQL string.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	if f.Query != "" {
		args = append(args, "%"+escapeLike(f.Query)+"%")
		n := len(args)
		conds = append(conds, fmt.Sprintf(`(u.email ILIKE $%d OR u.name ILIKE $%d)`, n, n))
	}
	if f.Banned != nil {
		if *f.Banned {
			conds = append(conds, bannedNow)
		} else {
			conds = append(conds, `NOT `+bannedNow)
		}
	}
	if f.Verified != nil {
		args = append(args, *f.Verified)
		conds = append(conds, fmt.Sprintf(`u.email_verified = $%d`, len(args)))
	}
	if f.Role != "" {
		args = append(args, f.Role)
		conds = append(conds, fmt.Sprintf(`EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
			WHERE ur.user_id = u.id AND r.name = $%d)`, len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListUsers returns one page of users matching p, with their roles and the
// total number of matches.
func (s *Store) ListUsers(ctx context.Context, p ListParams) (ListResult, error) {
	if err := p.normalize(); err != nil {
		return ListResult{}, err
	}
	where, args := p.Filter.where()
	order := orderBy[p.SortBy][0]
	if p.SortOrder == OrderDesc {
		order = orderBy[p.SortBy][1]
	}
	args = append(args, p.Limit, p.Offset)
	// A deferred join: the inner query walks only what the order and the
	// filters need (often just an index) to skip Offset rows, and the outer
	// one reads the full rows, with their roles, for this page alone.
	q := `SELECT ` + userColumns + ` FROM (SELECT u.id FROM users u` + where +
		` ORDER BY ` + order + fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args)) +
		`) page JOIN users u ON u.id = page.id ORDER BY ` + order
	res := ListResult{Users: []User{}, Total: -1, Limit: p.Limit, Offset: p.Offset}
	if err := s.db.SelectContext(ctx, &res.Users, q, args...); err != nil {
		return ListResult{}, fmt.Errorf("db: list users: %w", err)
	}
	if !p.SkipTotal {
		total, err := s.count(ctx, p.Filter)
		if err != nil {
			return ListResult{}, err
		}
		res.Total = total
	}
	return res, nil
}

// CountUsers returns how many users match f.
func (s *Store) CountUsers(ctx context.Context, f Filter) (int64, error) {
	if err := f.normalize(); err != nil {
		return 0, err
	}
	return s.count(ctx, f)
}

// count answers from the trigger-kept totals when it can, and counts banned
// users through their small partial index; only a search or a role filter
// pays for a real count.
func (s *Store) count(ctx context.Context, f Filter) (int64, error) {
	if f.Query == "" && f.Role != "" && f.Banned == nil && f.Verified == nil {
		// Staff are few: count the role's grants rather than probing every
		// user for one.
		var n int64
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
			WHERE r.name = $1`, f.Role); err != nil {
			return 0, fmt.Errorf("db: count users with role: %w", err)
		}
		return n, nil
	}
	if f.Query != "" || f.Role != "" {
		where, args := f.where()
		var n int64
		if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM users u`+where, args...); err != nil {
			return 0, fmt.Errorf("db: count users: %w", err)
		}
		return n, nil
	}
	var all int64
	if f.Banned == nil || !*f.Banned {
		var c struct {
			Total    int64 `db:"total"`
			Verified int64 `db:"verified"`
		}
		if err := s.db.GetContext(ctx, &c, `SELECT total, verified FROM user_counts`); err != nil {
			return 0, fmt.Errorf("db: read user counts: %w", err)
		}
		all = c.Total
		if f.Verified != nil {
			all = c.Verified
			if !*f.Verified {
				all = c.Total - c.Verified
			}
		}
		if f.Banned == nil {
			return all, nil
		}
	}
	banned := true
	where, args := Filter{Banned: &banned, Verified: f.Verified}.where()
	var nBanned int64
	if err := s.db.GetContext(ctx, &nBanned, `SELECT count(*) FROM users u`+where, args...); err != nil {
		return 0, fmt.Errorf("db: count banned users: %w", err)
	}
	if *f.Banned {
		return nBanned, nil
	}
	return all - nBanned, nil
}

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

// MinPasswordLen is the shortest password CreateUser accepts.
const MinPasswordLen = 12

// bcryptCost is the work factor of stored hashes (and of dummyHash).
const bcryptCost = 11

// commonPasswords are refused whatever their length.
var commonPasswords = map[string]bool{
	"password1234": true, "123456789012": true, "qwertyuiopas": true, "passwordpassword": true,
	"letmeinletmein": true, "administrator": true, "iloveyou1234": true, "changemechangeme": true,
}

// CheckPassword says what is wrong with a password, or nil.
func CheckPassword(password string) error {
	switch {
	case password == "":
		return invalid("password", "is required")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return invalid("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	case len(password) > 72:
		return invalid("password", "must be at most 72 bytes")
	case commonPasswords[strings.ToLower(password)]:
		return invalid("password", "is too common")
	case strings.Count(password, string([]rune(password)[0])) == utf8.RuneCountInString(password):
		return invalid("password", "must not be one character repeated")
	}
	return nil
}

// HashPassword returns the bcrypt hash that CreateUser stores.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("db: hash password: %w", err)
	}
	return string(h), nil
}

// NormalizeEmail trims an address and checks that it is a plain address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalid("email", "is required")
	}
	if len(email) > 254 {
		return "", invalid("email", "is longer than 254 characters")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", invalid("email", "is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !strings.Contains(email[at+1:], ".") || strings.HasSuffix(email, ".") {
		return "", invalid("email", "is not a valid email address")
	}
	return email, nil
}

// normalizeName trims a display name and refuses control characters.
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", invalid("name", "is not valid text")
	}
	if utf8.RuneCountInString(name) > 200 {
		return "", invalid("name", "is longer than 200 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", invalid("name", "must not contain control characters")
		}
	}
	return name, nil
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
	err = s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		var cur struct {
			Email    string `db:"email"`
			Name     string `db:"name"`
			Verified bool   `db:"email_verified"`
		}
		if err := tx.GetContext(ctx, &cur, `SELECT email, name, email_verified FROM users WHERE id = $1 FOR UPDATE`, id); err != nil {
			return notFound(err, "update user")
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
			return nil
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
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.LoadUser(ctx, id)
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
		return ErrSelf
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		// Lock the row first: concurrent deletes queue here and the losers
		// find no row, so exactly one succeeds.
		email, err := lockUser(ctx, tx, id)
		if err != nil {
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

// ErrInvalidCredentials is the one answer to every failed sign-in.
var ErrInvalidCredentials = errors.New("invalid email or password")

// StaffRoles are the roles that may sign in to the panel.
var StaffRoles = []string{"admin", "support", "manager"}

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
	if u.Banned || !isStaff(u) {
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

func isStaff(u *User) bool {
	for _, r := range StaffRoles {
		if u.HasRole(r) {
			return true
		}
	}
	return false
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
