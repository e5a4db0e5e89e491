package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ActionExport is the audit action of a user-list export.
const ActionExport = "users.export"

// ExportUsers calls fn with every user matching p, in p's order, from one
// query: the same filters and order as ListUsers, without Limit and Offset.
// Rows are read one at a time, so that a million users are never held in
// memory. It stops at fn's first error and returns it.
func (s *Store) ExportUsers(ctx context.Context, p ListParams, fn func(User) error) error {
	if err := p.normalize(); err != nil {
		return err
	}
	where, args := p.Filter.where()
	order := orderBy[p.SortBy][0]
	if p.SortOrder == OrderDesc {
		order = orderBy[p.SortBy][1]
	}
	rows, err := s.db.QueryxContext(ctx, `SELECT `+userColumns+` FROM users u`+where+` ORDER BY `+order, args...)
	if err != nil {
		return fmt.Errorf("db: export users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u User
		if err := rows.StructScan(&u); err != nil {
			return fmt.Errorf("db: export users: %w", err)
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
