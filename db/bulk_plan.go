package db

// A bulk request checked and planned: whether it is well formed, whether
// the actor may take it, and who of the selection is changed and who is
// skipped and why (bulk.go has the API).

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// checkBulk refuses a malformed request before any transaction: an unknown
// action, a ban without a reason, an unknown role, a selection that is both
// or neither, or too many ids. A preview needs no ban reason or end yet: it
// is where they are asked for.
func (s *Store) checkBulk(ctx context.Context, req *BulkRequest, preview bool) error {
	if !req.Action.valid() {
		return invalid("action", "is not a bulk action")
	}
	sel := &req.Selection
	switch {
	case sel.Filter != nil && len(sel.IDs) > 0:
		return invalid("selection", "give either users or a filter, not both")
	case sel.Filter == nil && len(sel.IDs) == 0:
		return invalid("selection", "select at least one user")
	case len(sel.IDs) > MaxBulkIDs:
		return invalid("selection", fmt.Sprintf("more than %d users: select them by a filter instead", MaxBulkIDs))
	}
	if sel.Filter != nil {
		if err := sel.Filter.normalize(); err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(sel.IDs))
	for _, id := range dedupe(sel.IDs) {
		if !validID(id) {
			return invalid("ids", "holds something that is not a user id")
		}
		ids = append(ids, strings.ToLower(id))
	}
	if sel.Filter == nil {
		sel.IDs = ids
	}
	switch req.Action {
	case BulkBan:
		if preview {
			break
		}
		reason, err := checkBanReason(req.Reason)
		if err != nil {
			return err
		}
		req.Reason = reason
		if req.Until != nil && !req.Until.After(s.now()) {
			return invalid("until", "must be in the future")
		}
	case BulkGrantRole, BulkRemoveRole:
		req.Role = strings.TrimSpace(req.Role)
		if req.Role == "" {
			return invalid("role", "is required")
		}
		if _, err := roleIDsOf(ctx, s.db, []string{req.Role}); err != nil {
			return err
		}
	}
	return nil
}

// bulkCandidate is one selected user with what the skip rules need.
type bulkCandidate struct {
	BulkUser
	Staff       bool `db:"staff"`
	ActiveAdmin bool `db:"active_admin"`
	BannedNow   bool `db:"banned_now"`
	BanOnRecord bool `db:"ban_on_record"`
	HasRole     bool `db:"has_role"`
}

// skip is why c is left alone by req, or "" when c is changed. It is the
// one place the rules are written; the last-admin rule, which depends on
// the whole selection, is applied after it by planBulk.
func (c bulkCandidate) skip(req BulkRequest, actor Actor, actorIsAdmin bool) SkipReason {
	switch {
	case actor.ID != "" && c.ID == actor.ID:
		return SkipSelf
	case c.Staff && !actorIsAdmin:
		return SkipStaff
	case req.Action == BulkBan && c.BannedNow:
		return SkipAlreadyBanned
	case req.Action == BulkUnban && !c.BanOnRecord:
		return SkipNotBanned
	case req.Action == BulkGrantRole && c.HasRole:
		return SkipHasRole
	case req.Action == BulkRemoveRole && !c.HasRole:
		return SkipLacksRole
	}
	return ""
}

// removesAdmin reports whether req takes its targets out of the admins who
// can sign in.
func (req BulkRequest) removesAdmin() bool {
	return req.Action == BulkBan || req.Action == BulkDelete || (req.Action == BulkRemoveRole && req.Role == RoleAdmin)
}

// planBulk reads the selection (locking its rows when lock is set, in id
// order, before anything else, as the single actions lock their target
// first) and decides who is changed and who is skipped. It returns the plan
// and every user to change.
func planBulk(ctx context.Context, tx *sqlx.Tx, actor Actor, req BulkRequest, lock bool) (BulkPlan, []BulkUser, error) {
	actorIsAdmin, err := bulkAllowed(ctx, tx, actor, req.Action)
	if err != nil {
		return BulkPlan{}, nil, err
	}
	var where string
	var args []any
	if f := req.Selection.Filter; f != nil {
		where, args = f.where()
	} else {
		args = []any{pq.Array(req.Selection.IDs)}
		where = ` WHERE u.id = ANY($1::uuid[])`
	}
	args = append(args, pq.Array(StaffRoles), RoleAdmin, req.Role)
	q := `SELECT u.id, u.email, u.name,
		EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		        WHERE ur.user_id = u.id AND r.name = ANY($` + fmt.Sprint(len(args)-2) + `::text[])) AS staff,
		(EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		         WHERE ur.user_id = u.id AND r.name = $` + fmt.Sprint(len(args)-1) + `)
		 AND ` + canSignIn + `) AS active_admin,
		` + bannedNow + ` AS banned_now, u.banned AS ban_on_record,
		EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		        WHERE ur.user_id = u.id AND r.name = $` + fmt.Sprint(len(args)) + `) AS has_role
		FROM users u` + where + ` ORDER BY u.id`
	if lock {
		q += ` FOR NO KEY UPDATE OF u`
	}
	var cands []bulkCandidate
	if err := tx.SelectContext(ctx, &cands, q, args...); err != nil {
		return BulkPlan{}, nil, fmt.Errorf("db: bulk: select users: %w", err)
	}
	if lock {
		// The actor's row, then the admin role, in the order BanUser and
		// DeleteUser take them, so that a bulk action and a single one
		// queue rather than deadlock.
		if err := lockActor(ctx, tx, actor); err != nil {
			return BulkPlan{}, nil, err
		}
	}
	plan := BulkPlan{Action: req.Action, Matching: len(cands), SkippedBy: map[SkipReason]int{}}
	if req.Selection.Filter == nil {
		plan.Missing = len(req.Selection.IDs) - len(cands)
	}
	reasons := make([]SkipReason, len(cands))
	adminsHit := 0
	for i, c := range cands {
		reasons[i] = c.skip(req, actor, actorIsAdmin)
		if reasons[i] == "" && c.ActiveAdmin {
			adminsHit++
		}
	}
	if adminsHit > 0 && req.removesAdmin() {
		lockClause := ""
		if lock {
			lockClause = ` FOR UPDATE`
		}
		var adminRole int
		if err := tx.GetContext(ctx, &adminRole, `SELECT id FROM roles WHERE name = $1`+lockClause, RoleAdmin); err != nil {
			return BulkPlan{}, nil, fmt.Errorf("db: bulk: lock admin role: %w", err)
		}
		var admins int
		if err := tx.GetContext(ctx, &admins, `SELECT count(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id
			WHERE ur.role_id = $1 AND `+canSignIn, adminRole); err != nil {
			return BulkPlan{}, nil, fmt.Errorf("db: bulk: count admins: %w", err)
		}
		if adminsHit >= admins {
			// Every admin who can sign in is in the selection: they are
			// all left alone rather than choosing which one survives.
			for i, c := range cands {
				if reasons[i] == "" && c.ActiveAdmin {
					reasons[i] = SkipLastAdmin
				}
			}
		}
	}
	var targets []BulkUser
	for i, c := range cands {
		if r := reasons[i]; r != "" {
			plan.SkippedBy[r]++
			if len(plan.Skipped) < MaxBulkSkipsListed {
				plan.Skipped = append(plan.Skipped, BulkSkip{BulkUser: c.BulkUser, Reason: r})
			}
			continue
		}
		targets = append(targets, c.BulkUser)
		if len(plan.Sample) < BulkSampleSize {
			plan.Sample = append(plan.Sample, c.BulkUser)
		}
	}
	plan.Affected = len(targets)
	return plan, targets, nil
}

// bulkAllowed refuses an action the policy does not give the actor and says
// whether the actor may take it on staff too (a system actor, such as the
// command line, may).
func bulkAllowed(ctx context.Context, tx *sqlx.Tx, actor Actor, action BulkAction) (admin bool, err error) {
	if actor.ID == "" {
		return true, nil
	}
	// The same read as every single change's: a banned or deleted actor
	// may do nothing.
	roles, err := actorRoles(ctx, tx, actor, action.Policy())
	if err != nil {
		return false, err
	}
	switch ScopeOf(roles, action.Policy()) {
	case Anyone:
		return true, nil
	case NonStaff:
		return false, nil
	}
	return false, forbidden(action.Policy(), false)
}
