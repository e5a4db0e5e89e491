package db

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Role is a named set of permissions.
type Role struct {
	ID          int    `db:"id"`
	Name        string `db:"name"`
	Description string `db:"description"`
}

// ListRoles returns every role, by name.
//
// The roles are part of the schema: their rows are written by schema.sql and
// the migrations alone, which run before the panel serves, and what each
// role may do is the policy in code (policy.go). So they are read once per
// Store, and the user table does not ask for them on every request.
func (s *Store) ListRoles(ctx context.Context) ([]Role, error) {
	if cached := s.roles.Load(); cached != nil {
		return slices.Clone(*cached), nil
	}
	roles := []Role{}
	if err := s.db.SelectContext(ctx, &roles, `SELECT id, name, description FROM roles ORDER BY name`); err != nil {
		return nil, fmt.Errorf("db: list roles: %w", err)
	}
	s.roles.Store(&roles)
	return slices.Clone(roles), nil
}

// roleIDsOf maps role names to ids, refusing unknown names. It never returns
// a nil slice: pq.Array(nil) is SQL NULL, and "role_id = ANY(NULL)" is NULL
// rather than false, which made SetRoles(id, nil) remove nothing while
// auditing the removal.
func roleIDsOf(ctx context.Context, q sqlx.QueryerContext, names []string) ([]int, error) {
	if len(names) == 0 {
		return []int{}, nil
	}
	for _, n := range names {
		if !validText(n) {
			return nil, invalidWhole("roles", fmt.Sprintf("unknown role %q", n))
		}
	}
	var found []Role
	if err := sqlx.SelectContext(ctx, q, &found, `SELECT id, name, description FROM roles WHERE name = ANY($1)`,
		pq.Array(names)); err != nil {
		return nil, fmt.Errorf("db: look up roles: %w", err)
	}
	byName := map[string]int{}
	for _, r := range found {
		byName[r.Name] = r.ID
	}
	ids := make([]int, 0, len(names))
	for _, n := range names {
		id, ok := byName[n]
		if !ok {
			return nil, invalidWhole("roles", fmt.Sprintf("unknown role %q", n))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// canSignIn is the SQL for "u could sign in": a password and no ban in force.
const canSignIn = `(u.password_hash IS NOT NULL AND NOT ` + bannedNow + `)`

// guardLastAdmin refuses a change that takes userID out of the active admins
// when nobody else is one. An active admin is one who can sign in: holds a
// password and is not banned (an admin without a password keeps nobody in
// charge). It locks the admin role row, so concurrent changes to admins are
// decided one at a time.
func guardLastAdmin(ctx context.Context, tx *sqlx.Tx, userID string) error {
	var adminID int
	if err := tx.GetContext(ctx, &adminID, `SELECT id FROM roles WHERE name = $1 FOR UPDATE`, RoleAdmin); err != nil {
		return fmt.Errorf("db: lock admin role: %w", err)
	}
	var isActiveAdmin, othersExist bool
	err := tx.QueryRowxContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM user_roles ur JOIN users u ON u.id = ur.user_id
		        WHERE ur.role_id = $1 AND u.id = $2 AND `+canSignIn+`),
		EXISTS (SELECT 1 FROM user_roles ur JOIN users u ON u.id = ur.user_id
		        WHERE ur.role_id = $1 AND u.id <> $2 AND `+canSignIn+`)`,
		adminID, userID).Scan(&isActiveAdmin, &othersExist)
	if err != nil {
		return fmt.Errorf("db: count admins: %w", err)
	}
	if isActiveAdmin && !othersExist {
		return ErrLastAdmin
	}
	return nil
}

// SetRoles makes the user's roles exactly roles, granting and removing as
// needed; it refuses to remove the last active admin.
func (s *Store) SetRoles(ctx context.Context, id string, roles []string) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	if !validID(id) {
		return ErrNotFound
	}
	want := dedupe(roles)
	return s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		email, err := lockUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := authorize(ctx, tx, actor, ActSetRoles, id); err != nil {
			return err
		}
		wantIDs, err := roleIDsOf(ctx, tx, want)
		if err != nil {
			return err
		}
		var have []string
		if err := tx.SelectContext(ctx, &have, `SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
			WHERE ur.user_id = $1`, id); err != nil {
			return fmt.Errorf("db: set roles: read: %w", err)
		}
		added, removed := diff(have, want)
		if len(added) == 0 && len(removed) == 0 {
			return nil
		}
		for _, r := range removed {
			if r == RoleAdmin {
				if err := guardLastAdmin(ctx, tx, id); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND NOT (role_id = ANY($2::smallint[]))`,
			id, pq.Array(wantIDs)); err != nil {
			return fmt.Errorf("db: set roles: remove: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role_id)
			SELECT $1, unnest($2::smallint[]) ON CONFLICT DO NOTHING`, id, pq.Array(wantIDs)); err != nil {
			return fmt.Errorf("db: set roles: grant: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = now() WHERE id = $1`, id); err != nil {
			return fmt.Errorf("db: set roles: touch user: %w", err)
		}
		details := map[string]any{"added": added, "removed": removed}
		if err := writeAudit(ctx, tx, actor, ActionRoles, id, email, details); err != nil {
			return err
		}
		ev.add(EventRolesChanged, id, email, actor)
		return nil
	})
}

// diff returns what is in want and not in have, and the reverse, sorted.
func diff(have, want []string) (added, removed []string) {
	inHave, inWant := map[string]bool{}, map[string]bool{}
	for _, h := range have {
		inHave[h] = true
	}
	for _, w := range want {
		inWant[w] = true
		if !inHave[w] {
			added = append(added, w)
		}
	}
	for _, h := range have {
		if !inWant[h] {
			removed = append(removed, h)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}
