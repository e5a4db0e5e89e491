package db

// Who may do what, said once. A role's powers are one entry of grants; the
// route table, the handlers, the view-models and the Store's own checks all
// ask Can or CanActOn, and the permission-matrix test in handlers is
// generated from the same table.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Role names.
const (
	// RoleAdmin may do everything, to anyone.
	RoleAdmin = "admin"
	// RoleSupport searches users and bans, unbans and signs out those who
	// hold no staff role.
	RoleSupport = "support"
	// RoleManager sees the counts dashboard only.
	RoleManager = "manager"
)

// StaffRoles are the roles that may sign in to the panel: every role that
// grants anything.
var StaffRoles = []string{RoleAdmin, RoleSupport, RoleManager}

// Action is something staff may be allowed to do.
type Action string

// The actions of the panel and the Go API.
const (
	ActViewDashboard  Action = "view the dashboard"
	ActListUsers      Action = "view users"
	ActViewUser       Action = "view"
	ActViewUserAudit  Action = "read the audit history of"
	ActBan            Action = "ban"
	ActUnban          Action = "unban"
	ActRevokeSessions Action = "sign out"
	ActCreateUser     Action = "create"
	ActEditUser       Action = "edit"
	ActSetRoles       Action = "change the roles of"
	ActDeleteUser     Action = "delete"
	ActExportUsers    Action = "export"
	ActReadAudit      Action = "read the audit log"
	ActBulkBan        Action = "bulk ban"
	ActBulkUnban      Action = "bulk unban"
	ActBulkRevoke     Action = "bulk sign out"
	ActBulkDelete     Action = "bulk delete"
	ActBulkRoles      Action = "bulk change the roles of"
	ActSetPassword    Action = "set the password of"
	ActUnlock         Action = "unlock"
)

// Actions lists every action, for tests and documentation.
var Actions = []Action{ActViewDashboard, ActListUsers, ActViewUser, ActViewUserAudit, ActBan, ActUnban,
	ActRevokeSessions, ActCreateUser, ActEditUser, ActSetRoles, ActDeleteUser, ActExportUsers, ActReadAudit,
	ActBulkBan, ActBulkUnban, ActBulkRevoke, ActBulkDelete, ActBulkRoles, ActSetPassword, ActUnlock}

// verb is the action as it reads in "you cannot ... your own account".
func (a Action) verb() string { return string(a) }

// Scope is on whom a role may take an action.
type Scope int

const (
	// Nobody: the role does not grant the action.
	Nobody Scope = iota
	// NonStaff: only on users who hold no staff role.
	NonStaff
	// Anyone: on every user.
	Anyone
)

// grants is the whole policy: each role and the scope of each action it
// grants. An action a role does not list is not granted.
var grants = map[string]map[Action]Scope{
	RoleAdmin: func() map[Action]Scope {
		all := map[Action]Scope{}
		for _, a := range Actions {
			all[a] = Anyone
		}
		return all
	}(),
	RoleSupport: {
		ActViewDashboard: Anyone, ActListUsers: Anyone, ActViewUser: Anyone,
		ActViewUserAudit: NonStaff, ActBan: NonStaff, ActUnban: NonStaff, ActRevokeSessions: NonStaff,
		ActBulkBan: NonStaff, ActBulkUnban: NonStaff, ActBulkRevoke: NonStaff,
	},
	RoleManager: {ActViewDashboard: Anyone},
}

// ScopeOf is the widest scope any of roles grants for a.
func ScopeOf(roles []string, a Action) Scope {
	s := Nobody
	for _, r := range roles {
		s = max(s, grants[r][a])
	}
	return s
}

// Can reports whether roles allow a on at least some users.
func Can(roles []string, a Action) bool { return ScopeOf(roles, a) > Nobody }

// CanActOn reports whether roles allow a on a user holding targetRoles.
func CanActOn(roles []string, a Action, targetRoles []string) bool {
	switch ScopeOf(roles, a) {
	case Anyone:
		return true
	case NonStaff:
		return !IsStaff(targetRoles)
	}
	return false
}

// IsStaff reports whether roles include a staff role.
func IsStaff(roles []string) bool {
	for _, r := range roles {
		for _, s := range StaffRoles {
			if r == s {
				return true
			}
		}
	}
	return false
}

// Can reports whether the user's roles allow a.
func (u *User) Can(a Action) bool { return Can(u.Roles, a) }

// CanActOn reports whether the user's roles allow a on target.
func (u *User) CanActOn(a Action, target *User) bool { return CanActOn(u.Roles, a, target.Roles) }

// authorize refuses a change the actor may not make to the target, inside
// the change's transaction: the actor's roles are read there, so a role
// removed a moment ago counts. A system actor (the command line, a program)
// is the operator and may do everything. A banned actor may do nothing, and
// one whose account is gone gets ErrActorGone. It takes no lock on the
// actor's row: two admins changing each other at once would deadlock on it
// (BanUser locks the actor itself, for banned_by). targetID "" checks the
// action without a target.
func authorize(ctx context.Context, tx *sqlx.Tx, actor Actor, a Action, targetID string) error {
	if actor.ID == "" {
		return nil
	}
	roles, err := actorRoles(ctx, tx, actor, a)
	if err != nil {
		return err
	}
	if targetID == "" {
		if !Can(roles, a) {
			return forbidden(a, false)
		}
		return nil
	}
	if ScopeOf(roles, a) == Anyone {
		return nil
	}
	var target pq.StringArray
	if err := tx.QueryRowxContext(ctx, `SELECT ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		WHERE ur.user_id = $1)`, targetID).Scan(&target); err != nil {
		return fmt.Errorf("db: authorize: target roles: %w", err)
	}
	if !CanActOn(roles, a, target) {
		return forbidden(a, Can(roles, a))
	}
	return nil
}

// actorRoles reads a person actor's roles inside tx for action a:
// ErrActorGone when the account is gone, forbidden when it is banned.
func actorRoles(ctx context.Context, tx *sqlx.Tx, actor Actor, a Action) ([]string, error) {
	var banned bool
	var roles pq.StringArray
	err := tx.QueryRowxContext(ctx, `SELECT `+bannedNow+`, ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
		WHERE ur.user_id = u.id) FROM users u WHERE u.id = $1`, actor.ID).Scan(&banned, &roles)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrActorGone
	}
	if err != nil {
		return nil, fmt.Errorf("db: authorize: %w", err)
	}
	if banned {
		return nil, forbidden(a, false)
	}
	return roles, nil
}
