package db

// Bulk actions: one change applied to many users in one transaction, by a
// list of ids or by a filter, with a preview that says beforehand who will be
// changed and who will be skipped and why.
//
// This file holds the API (the request, the plan, PreviewBulk and Bulk);
// bulk_plan.go checks a request and decides who is changed and who skipped,
// bulk_apply.go writes the change and its audit rows.
//
// The rules of who is skipped are in one place (bulkCandidate.skip), and the
// preview and the action both ask it, so the action skips exactly what the
// preview said it would (for the users that match at that moment). The
// writes are set-based (one statement per table over an array of ids), so a
// hundred thousand users take seconds, not minutes.

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
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
