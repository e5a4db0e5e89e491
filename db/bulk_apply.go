package db

// A planned bulk request written: one statement per table over the array of
// the changed users' ids, the audit rows of the single action, one per
// user, and the row of the request as a whole (bulk.go has the API).

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// applyBulk writes the change for targets: one statement per table over the
// array of their ids, and the audit rows of the single action, one per user.
func applyBulk(ctx context.Context, tx *sqlx.Tx, actor Actor, req BulkRequest, targets []BulkUser) error {
	ids := make([]string, len(targets))
	emails := make([]string, len(targets))
	for i, t := range targets {
		ids[i], emails[i] = t.ID, t.Email
	}
	exec := func(what, q string, args ...any) error {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("db: bulk %s: %s: %w", req.Action, what, err)
		}
		return nil
	}
	// audit writes each target's row; details is SQL over the target's id t.id
	// and the per-user session count n.
	audit := func(action, details string, args ...any) error {
		all := append([]any{pq.Array(ids), pq.Array(emails), nullableID(actor.ID), actor.Email, action}, args...)
		return exec("audit", `INSERT INTO audit_log (actor_id, actor_email, action, target_id, target_email, details)
			SELECT $3, $4, $5, t.id, t.email, `+details+`
			FROM unnest($1::uuid[], $2::text[]) AS t(id, email)
			LEFT JOIN bulk_revoked n ON n.user_id = t.id`, all...)
	}
	// Sessions revoked per user, for the audit rows that report them.
	if err := exec("sessions table", `CREATE TEMP TABLE bulk_revoked (user_id uuid PRIMARY KEY, n bigint) ON COMMIT DROP`); err != nil {
		return err
	}
	revoke := func() error {
		return exec("revoke sessions", `WITH r AS (
				UPDATE refresh_tokens SET revoked_at = now()
				WHERE user_id = ANY($1::uuid[]) AND revoked_at IS NULL AND expires_at > now()
				RETURNING user_id)
			INSERT INTO bulk_revoked (user_id, n) SELECT user_id, count(*) FROM r GROUP BY user_id`, pq.Array(ids))
	}
	switch req.Action {
	case BulkBan:
		if err := exec("ban", `UPDATE users SET banned = true, ban_reason = $2, banned_until = $3, banned_at = now(),
			banned_by = $4, session_version = session_version + 1, updated_at = now()
			WHERE id = ANY($1::uuid[])`, pq.Array(ids), req.Reason, req.Until, nullableID(actor.ID)); err != nil {
			return err
		}
		if err := revoke(); err != nil {
			return err
		}
		var until any
		if req.Until != nil {
			until = req.Until.UTC().Format(time.RFC3339)
		}
		return audit(ActionBan, `jsonb_strip_nulls(jsonb_build_object('reason', $6::text, 'until', $7::text,
			'sessions_revoked', COALESCE(n.n, 0), 'bulk', true))`, req.Reason, until)
	case BulkUnban:
		if err := exec("unban", `UPDATE users SET banned = false, ban_reason = NULL, banned_until = NULL,
			banned_at = NULL, banned_by = NULL, updated_at = now() WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
			return err
		}
		return audit(ActionUnban, `jsonb_build_object('bulk', true)`)
	case BulkRevokeSessions:
		if err := exec("sign out", `UPDATE users SET session_version = session_version + 1
			WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
			return err
		}
		if err := revoke(); err != nil {
			return err
		}
		return audit(ActionRevokeSessions, `jsonb_build_object('sessions_revoked', COALESCE(n.n, 0), 'bulk', true)`)
	case BulkDelete:
		if err := exec("delete", `DELETE FROM users WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
			return err
		}
		return audit(ActionDelete, `jsonb_build_object('bulk', true)`)
	case BulkGrantRole, BulkRemoveRole:
		roleIDs, err := roleIDsOf(ctx, tx, []string{req.Role})
		if err != nil {
			return err
		}
		if req.Action == BulkGrantRole {
			err = exec("grant role", `INSERT INTO user_roles (user_id, role_id)
				SELECT unnest($1::uuid[]), $2 ON CONFLICT DO NOTHING`, pq.Array(ids), roleIDs[0])
		} else {
			err = exec("remove role", `DELETE FROM user_roles WHERE user_id = ANY($1::uuid[]) AND role_id = $2`,
				pq.Array(ids), roleIDs[0])
		}
		if err != nil {
			return err
		}
		if err := exec("touch users", `UPDATE users SET updated_at = now() WHERE id = ANY($1::uuid[])`, pq.Array(ids)); err != nil {
			return err
		}
		added, removed := `'[]'::jsonb`, `'[]'::jsonb`
		if req.Action == BulkGrantRole {
			added = `jsonb_build_array($6::text)`
		} else {
			removed = `jsonb_build_array($6::text)`
		}
		return audit(ActionRoles, `jsonb_build_object('added', `+added+`, 'removed', `+removed+`, 'bulk', true)`, req.Role)
	}
	return fmt.Errorf("db: bulk: no writer for %q", req.Action)
}

// bulkDetails is the audit row of the request as a whole: what was asked,
// of whom, and what came of it.
func bulkDetails(req BulkRequest, plan BulkPlan) map[string]any {
	d := map[string]any{
		"action":   string(req.Action),
		"matching": plan.Matching,
		"affected": plan.Affected,
		"skipped":  plan.SkippedTotal(),
	}
	if f := req.Selection.Filter; f != nil {
		d["filter"] = f.describe()
	} else {
		d["ids"] = req.Selection.IDs
	}
	if req.Action == BulkBan {
		d["reason"] = req.Reason
		if req.Until != nil {
			d["until"] = req.Until.UTC().Format(time.RFC3339)
		}
	}
	if req.Role != "" && (req.Action == BulkGrantRole || req.Action == BulkRemoveRole) {
		d["role"] = req.Role
	}
	return d
}

// describe is the filter as the audit log keeps it: the set fields only.
func (f Filter) describe() map[string]any {
	d := map[string]any{}
	if f.Query != "" {
		d["q"] = f.Query
	}
	if f.Banned != nil {
		d["banned"] = *f.Banned
	}
	if f.Verified != nil {
		d["verified"] = *f.Verified
	}
	if f.Role != "" {
		d["role"] = f.Role
	}
	return d
}
