package db

// Bulk actions: one change applied to many users in one transaction, by a
// list of ids or by a filter, with a preview that says beforehand who will be
// changed and who will be skipped and why.
//
// The rules of who is skipped are in one place (bulkCandidate.skip), and the
// preview and the action both ask it, so the action skips exactly what the
// preview said it would (for the users that match at that moment). The
// writes are set-based (one statement per table over an array of ids), so a
// hundred thousand users take seconds, not minutes.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// BulkAction is what a bulk request does to each selected user.
type BulkAction string

// The bulk actions; who may take each is the policy's (db/policy.go).
const (
	BulkBan            BulkAction = "ban"
	BulkUnban          BulkAction = "unban"
	BulkRevokeSessions BulkAction = "revoke_sessions"
	BulkDelete         BulkAction = "delete"
	BulkGrantRole      BulkAction = "grant_role"
	BulkRemoveRole     BulkAction = "remove_role"
)

// BulkActions lists every bulk action, in the order a menu shows them.
var BulkActions = []BulkAction{BulkBan, BulkUnban, BulkRevokeSessions, BulkGrantRole, BulkRemoveRole, BulkDelete}

// Verb is the action as a person says it: "ban", "sign out everywhere".
func (a BulkAction) Verb() string {
	switch a {
	case BulkBan:
		return "ban"
	case BulkUnban:
		return "unban"
	case BulkRevokeSessions:
		return "sign out everywhere"
	case BulkDelete:
		return "delete"
	case BulkGrantRole:
		return "grant a role to"
	case BulkRemoveRole:
		return "remove a role from"
	}
	return string(a)
}

// Policy is the action of the policy (db/policy.go) that allows a.
func (a BulkAction) Policy() Action {
	switch a {
	case BulkBan:
		return ActBulkBan
	case BulkUnban:
		return ActBulkUnban
	case BulkRevokeSessions:
		return ActBulkRevoke
	case BulkDelete:
		return ActBulkDelete
	}
	return ActBulkRoles
}

func (a BulkAction) valid() bool {
	for _, b := range BulkActions {
		if a == b {
			return true
		}
	}
	return false
}

// MaxBulkIDs bounds a selection given as a list of ids; a larger one is a
// filter's job.
const MaxBulkIDs = 10_000

// BulkSampleSize is how many of the users to be changed a preview lists.
const BulkSampleSize = 10

// MaxBulkSkipsListed is how many skipped users a preview or a result names;
// the counts by reason are always whole.
const MaxBulkSkipsListed = 200

// Selection names the users of a bulk request: IDs, or every user matching
// Filter at the moment the request runs. Exactly one is set.
type Selection struct {
	IDs    []string
	Filter *Filter
}

// BulkRequest is one bulk action and what it needs.
type BulkRequest struct {
	Action    BulkAction
	Selection Selection
	// Reason and Until are the ban's, as for BanUser.
	Reason string
	Until  *time.Time
	// Role is the role to grant or remove.
	Role string
}

// SkipReason says why a selected user is left alone.
type SkipReason string

// The reasons a selected user is skipped.
const (
	SkipSelf          SkipReason = "self"
	SkipStaff         SkipReason = "staff"
	SkipLastAdmin     SkipReason = "last_admin"
	SkipAlreadyBanned SkipReason = "already_banned"
	SkipNotBanned     SkipReason = "not_banned"
	SkipHasRole       SkipReason = "has_role"
	SkipLacksRole     SkipReason = "lacks_role"
)

// Text is the reason as a person reads it.
func (r SkipReason) Text() string {
	switch r {
	case SkipSelf:
		return "your own account"
	case SkipStaff:
		return "a staff member: only an admin may act on staff"
	case SkipLastAdmin:
		return "an admin, and this would leave no admin who can sign in"
	case SkipAlreadyBanned:
		return "already banned"
	case SkipNotBanned:
		return "not banned"
	case SkipHasRole:
		return "already has the role"
	case SkipLacksRole:
		return "does not have the role"
	}
	return string(r)
}

// BulkUser is a user a bulk request names.
type BulkUser struct {
	ID    string `db:"id"`
	Email string `db:"email"`
	Name  string `db:"name"`
}

// BulkSkip is a selected user that is left alone, and why.
type BulkSkip struct {
	BulkUser
	Reason SkipReason
}

// BulkPlan is what a bulk request does: how many users it selects, changes
// and skips. A preview's plan is what the action would do now; an action's
// is what it did.
type BulkPlan struct {
	Action BulkAction
	// Matching is how many users the selection names.
	Matching int
	// Affected is how many of them are changed.
	Affected int
	// Sample lists the first users changed (at most BulkSampleSize).
	Sample []BulkUser
	// Skipped lists skipped users (at most MaxBulkSkipsListed);
	// SkippedBy counts every one of them by reason.
	Skipped   []BulkSkip
	SkippedBy map[SkipReason]int
	// Missing counts ids of the selection that are no user (deleted since).
	Missing int
}

// SkippedTotal is how many selected users are left alone.
func (p BulkPlan) SkippedTotal() int {
	n := 0
	for _, c := range p.SkippedBy {
		n += c
	}
	return n
}

// PreviewBulk says what Bulk would do with req now, changing nothing. It
// does not check a ban's reason and end, which Bulk does.
func (s *Store) PreviewBulk(ctx context.Context, req BulkRequest) (BulkPlan, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return BulkPlan{}, err
	}
	if err := s.checkBulk(ctx, &req, true); err != nil {
		return BulkPlan{}, err
	}
	var plan BulkPlan
	err = s.withTx(ctx, func(tx *sqlx.Tx, _ *pending) error {
		var err error
		plan, _, err = planBulk(ctx, tx, actor, req, false)
		return err
	})
	return plan, err
}

// Bulk applies req to every selected user it does not skip, in one
// transaction: all or nothing. Each changed user gets the single action's
// audit row and event; the request as a whole gets one ActionBulk row with
// the actor, the reason, the selection and the counts. Events fire after the
// commit, once per user.
func (s *Store) Bulk(ctx context.Context, req BulkRequest) (BulkPlan, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return BulkPlan{}, err
	}
	if err := s.checkBulk(ctx, &req, false); err != nil {
		return BulkPlan{}, err
	}
	var plan BulkPlan
	err = s.withTx(ctx, func(tx *sqlx.Tx, ev *pending) error {
		var targets []BulkUser
		var err error
		plan, targets, err = planBulk(ctx, tx, actor, req, true)
		if err != nil {
			return err
		}
		if len(targets) > 0 {
			if err := applyBulk(ctx, tx, actor, req, targets); err != nil {
				return err
			}
		}
		if err := writeAudit(ctx, tx, actor, ActionBulk, "", "", bulkDetails(req, plan)); err != nil {
			return err
		}
		if event, ok := bulkEvents[req.Action]; ok {
			for _, t := range targets {
				ev.add(event, t.ID, t.Email, actor)
			}
		}
		return nil
	})
	if err != nil {
		return BulkPlan{}, err
	}
	return plan, nil
}

// bulkEvents is the event each changed user fires, as the single action does.
var bulkEvents = map[BulkAction]Event{
	BulkBan:        EventUserBanned,
	BulkUnban:      EventUserUnbanned,
	BulkDelete:     EventUserDeleted,
	BulkGrantRole:  EventRolesChanged,
	BulkRemoveRole: EventRolesChanged,
}

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
