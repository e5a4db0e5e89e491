package db

// The user list: filters, sorting and paging for ListUsers and CountUsers.

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter narrows a user list; zero values mean "no filter".
type Filter struct {
	// Query is a case-insensitive substring of the email or the name;
	// % and _ in it are literal characters.
	Query    string
	Banned   *bool
	Verified *bool
	// Role is a role name such as "support".
	Role string
	// NoRole keeps only users who hold no role at all (plain users).
	NoRole bool
	// CreatedFrom and SignedInFrom keep users who signed up, or last
	// signed in, at or after the moment given (the dashboard's tiles use
	// the start of a UTC day).
	CreatedFrom  *time.Time
	SignedInFrom *time.Time
	// Method keeps users by how they sign in: MethodPassword for a
	// password and no OAuth link, or an OAuth provider's name.
	Method string
}

// MethodPassword is the sign-in method of users with a password and no OAuth
// account.
const MethodPassword = "password"

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
	if utf8.RuneCountInString(f.Query) > MaxSearchLen {
		return invalid("q", fmt.Sprintf("search text is longer than %d characters", MaxSearchLen))
	}
	if !validText(f.Query) {
		return invalid("q", "search text is not valid text")
	}
	f.Role = strings.TrimSpace(f.Role)
	if !validText(f.Role) {
		return invalid("role", "is not valid text")
	}
	f.Method = strings.TrimSpace(f.Method)
	if !validText(f.Method) || len(f.Method) > MaxSearchLen {
		return invalid("method", "is not a sign-in method")
	}
	return nil
}

// likeEscaper makes %, _ and \ literal in an ILIKE pattern (escape
// character \); made once, as building a Replacer costs more than using it.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// escapeLike makes %, _ and \ literal in an ILIKE pattern (escape character \).
func escapeLike(s string) string { return likeEscaper.Replace(s) }

// where builds the WHERE clause of f with numbered placeholders; no user
// text ever reaches the SQL string.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	switch {
	case f.Query == "":
	case strings.ContainsRune(f.Query, '\n'):
		// u.search joins email and name with a line break, so a search
		// holding one could match across the two: ask each column.
		args = append(args, "%"+escapeLike(f.Query)+"%")
		n := len(args)
		conds = append(conds, fmt.Sprintf(`(u.email ILIKE $%d OR u.name ILIKE $%d)`, n, n))
	default:
		// ILIKE lowercases both sides and compares (in a UTF-8 database),
		// so this is the same match, against text lowercased once when the
		// row was written (schema.sql, users.search).
		args = append(args, "%"+escapeLike(f.Query)+"%")
		conds = append(conds, fmt.Sprintf(`u.search LIKE lower($%d)`, len(args)))
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
	if f.NoRole {
		conds = append(conds, `NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id)`)
	}
	if f.CreatedFrom != nil {
		args = append(args, *f.CreatedFrom)
		conds = append(conds, fmt.Sprintf(`u.created_at >= $%d`, len(args)))
	}
	if f.SignedInFrom != nil {
		args = append(args, *f.SignedInFrom)
		conds = append(conds, fmt.Sprintf(`u.last_login_at >= $%d`, len(args)))
	}
	switch f.Method {
	case "":
	case MethodPassword:
		conds = append(conds, `u.password_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id)`)
	default:
		args = append(args, f.Method)
		conds = append(conds, fmt.Sprintf(`EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id AND o.provider = $%d)`, len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// narrowed reports whether f uses one of the filters the trigger-kept totals
// know nothing of: no role, a sign-up or sign-in date, a sign-in method.
func (f Filter) narrowed() bool {
	return f.NoRole || f.CreatedFrom != nil || f.SignedInFrom != nil || f.Method != ""
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
	inner := `SELECT u.id FROM users u` + where +
		` ORDER BY ` + order + fmt.Sprintf(` LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	if where == "" && p.SortBy == SortCreatedAt && p.Offset >= hopMinOffset {
		inner = dayHop(p.SortOrder == OrderDesc, order, len(args)-1, len(args))
	}
	q := `SELECT ` + userColumns + ` FROM (` + inner +
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

// hopMinOffset is the offset from which a deep page of the whole list, newest
// or oldest first, hops to its day before it skips rows.
const hopMinOffset = 1000

// dayHop is the inner query of a deep page of the unfiltered list in
// created_at order. Skipping a hundred thousand index entries costs tens of
// milliseconds; instead, the per-day signup counts of user_days (exact, kept
// by triggers) say on which day the page starts and how many users come
// before that day, and the query skips only the rest, within one day. Both
// read the same snapshot, so the page is exactly the one a plain OFFSET
// finds. Past the end there is no such day and no row, as with OFFSET.
func dayHop(desc bool, order string, limitArg, offsetArg int) string {
	dir, bound := `ASC`, `u.created_at >= (SELECT h.day::timestamp AT TIME ZONE 'UTC' FROM hop h)`
	if desc {
		dir, bound = `DESC`, `u.created_at < (SELECT (h.day + 1)::timestamp AT TIME ZONE 'UTC' FROM hop h)`
	}
	return fmt.Sprintf(`WITH days AS (
			SELECT day, (sum(signups) OVER (ORDER BY day %[1]s) - signups)::bigint AS before
			FROM user_days WHERE signups > 0
		), hop AS (
			SELECT day, before FROM days WHERE before <= $%[4]d ORDER BY before DESC LIMIT 1
		)
		SELECT u.id FROM users u WHERE %[2]s
		ORDER BY %[3]s LIMIT $%[5]d OFFSET (SELECT $%[4]d - h.before FROM hop h)`, dir, bound, order, offsetArg, limitArg)
}
