package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ExportedUser is one user as the export has them: the columns of the CSV,
// and only those (the rest of a User is what ListUsers and GetUser are for).
// Reading the eight other columns of a User, one of them a lookup of who
// banned, was a third of a million-row export.
type ExportedUser struct {
	ID    string
	Email string
	Name  string
	// Roles are the user's role names, in name order; empty, not nil, when
	// none.
	Roles         []string
	EmailVerified bool
	// Banned is a ban in force now, as User.Banned.
	Banned      bool
	BanReason   string
	BannedUntil *time.Time
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

// exportColumns are the ExportedUser's, in the order scanExportRow reads
// them. The roles come from one read of user_roles instead of a subquery
// per row. Times come as microseconds since 1970, which the export turns
// into time.Time several times faster than it parses their text form.
var exportColumns = `u.id, u.email, u.name, u.email_verified, ` + bannedNow + ` AS banned,
	COALESCE(u.ban_reason, ''), ` + micros(`u.banned_until`) + `, ` + micros(`u.created_at`) + `, ` + micros(`u.last_login_at`)

// micros is the SQL for a timestamptz column as microseconds since 1970.
// date_part's double precision, rounded, is exact to the microsecond for
// any time before 2106 (its error stays under half a microsecond), and
// costs a tenth of extract's numeric: PostgreSQL's side of a million-row
// export went from 1.45 s to 0.84 s.
func micros(col string) string {
	return `round(date_part('epoch', ` + col + `) * 1000000)::bigint`
}

// scanExportRow reads one row of exportColumns into u, without the
// reflection of StructScan (which cost a quarter of a million-row export).
// The times are read as the driver's own values (int64 microseconds): into
// an int64, database/sql would reach for reflection again.
func scanExportRow(rows *sqlx.Rows, u *ExportedUser) error {
	var bannedUntil, created, lastLogin any
	if err := rows.Scan(&u.ID, &u.Email, &u.Name, &u.EmailVerified, &u.Banned, &u.BanReason,
		&bannedUntil, &created, &lastLogin); err != nil {
		return err
	}
	var err error
	at := func(v any) *time.Time {
		if v == nil {
			return nil
		}
		n, ok := v.(int64)
		if !ok && err == nil {
			err = fmt.Errorf("a %T where microseconds were due", v)
		}
		t := time.UnixMicro(n).UTC()
		return &t
	}
	u.BannedUntil, u.LastLoginAt = at(bannedUntil), at(lastLogin)
	if c := at(created); c != nil {
		u.CreatedAt = *c
	}
	return err
}

// ExportUsers calls fn with every user matching p, as the export has them,
// in p's order, from one query: the same filters and order as ListUsers,
// without Limit and Offset. Rows are read one at a time, so that a million
// users are never held in memory. It stops at fn's first error and returns it.
func (s *Store) ExportUsers(ctx context.Context, p ListParams, fn func(ExportedUser) error) error {
	if err := p.normalize(); err != nil {
		return err
	}
	where, args := p.Filter.where()
	order := orderBy[p.SortBy][0]
	if p.SortOrder == OrderDesc {
		order = orderBy[p.SortBy][1]
	}
	// One snapshot for the roles and the users, so that the export is what
	// the database held at one instant.
	tx, done, err := s.exportTx(ctx)
	if err != nil {
		return fmt.Errorf("db: export users: %w", err)
	}
	defer done()
	// Roles are held by staff, who are few: all their grants fit in memory.
	var grants []struct {
		UserID string `db:"user_id"`
		Role   string `db:"role"`
	}
	if err := tx.SelectContext(ctx, &grants, `SELECT ur.user_id, r.name AS role
		FROM user_roles ur JOIN roles r ON r.id = ur.role_id ORDER BY r.name`); err != nil {
		return fmt.Errorf("db: export users: roles: %w", err)
	}
	roles := make(map[string][]string, len(grants))
	for _, g := range grants {
		roles[g.UserID] = append(roles[g.UserID], g.Role)
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+exportColumns+` FROM users u`+where+` ORDER BY `+order, args...)
	if err != nil {
		return fmt.Errorf("db: export users: %w", err)
	}
	defer rows.Close()
	noRoles := []string{}
	for rows.Next() {
		var u ExportedUser
		if err := scanExportRow(rows, &u); err != nil {
			return fmt.Errorf("db: export users: %w", err)
		}
		u.Roles = roles[u.ID]
		if u.Roles == nil {
			u.Roles = noRoles
		}
		if err := fn(u); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: export users: %w", err)
	}
	return nil
}

// exportTx starts the read-only transaction an export reads in, on a
// connection checked to answer within probeTimeout (the export's own
// deadline is long, and a connection to a frozen server would hold it that
// long), with the export's statement_timeout and without JIT.
func (s *Store) exportTx(ctx context.Context) (tx *sqlx.Tx, done func(), err error) {
	probeCtx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := s.db.Connx(probeCtx)
	if err != nil {
		return nil, nil, err
	}
	if err := conn.PingContext(probeCtx); err != nil {
		conn.Close()
		return nil, nil, err
	}
	tx, err = conn.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	// A read-only transaction has nothing to keep: it always rolls back,
	// and then the connection goes back to the pool.
	done = func() {
		tx.Rollback() //nolint:errcheck // nothing to keep
		conn.Close()
	}
	// No JIT: compiling the export's query took 0.2 s of every export and
	// made its run no faster. SET, unlike a SELECT, takes no snapshot: the
	// transaction's snapshot is still the first read's, after the export's
	// audit row is written (ExportAudit).
	set := `SET LOCAL jit = off`
	if s.exportTimeout > 0 {
		set += `; SET LOCAL statement_timeout = ` + strconv.FormatInt(s.exportTimeout.Milliseconds(), 10)
	}
	if _, err := tx.ExecContext(ctx, set); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

// RecordExport writes the audit row of an export made by the context's
// actor: the filters it used and how many rows it wrote. The panel writes it
// before the first byte, when the count is not known yet: a negative rows
// leaves it out.
func (s *Store) RecordExport(ctx context.Context, filters map[string]any, rows int) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if filters == nil {
		filters = map[string]any{}
	}
	details := map[string]any{"filters": filters}
	if rows >= 0 {
		details["rows"] = rows
	}
	return s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		if err := authorize(ctx, tx, actor, ActExportUsers, ""); err != nil {
			return err
		}
		return writeAudit(ctx, tx, actor, ActionExport, "", "", details)
	})
}

// ExistingUsers reports which of ids are users that still exist, so that the
// audit log links only targets that can be opened; malformed ids are absent.
func (s *Store) ExistingUsers(ctx context.Context, ids []string) (map[string]bool, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			valid = append(valid, id)
		}
	}
	found := make(map[string]bool, len(valid))
	if len(valid) == 0 {
		return found, nil
	}
	var got []string
	if err := s.db.SelectContext(ctx, &got, `SELECT id FROM users WHERE id = ANY($1::uuid[])`, pq.Array(valid)); err != nil {
		return nil, fmt.Errorf("db: find existing users: %w", err)
	}
	for _, id := range got {
		found[id] = true
	}
	return found, nil
}
