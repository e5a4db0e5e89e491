package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Actor is who makes a change: a signed-in staff member (ID and Email) or a
// named system actor such as the command line (Email only, e.g. "system:cli").
type Actor struct {
	ID    string
	Email string
}

// SystemActor names a program rather than a person as the actor of a change.
func SystemActor(name string) Actor { return Actor{Email: "system:" + name} }

type actorKey struct{}

// WithActor returns a context whose changes are made, and audited, as a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor that WithActor put in ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Email != ""
}

func requireActor(ctx context.Context) (Actor, error) {
	a, ok := ActorFrom(ctx)
	if !ok {
		return Actor{}, ErrNoActor
	}
	return a, nil
}

// nullableID turns an empty id (a system actor) into SQL NULL.
func nullableID(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// Audit actions written by the Store: every one of them, here and nowhere
// else (AuditActions lists them for the audit page's filter).
const (
	ActionLogin          = "user.login"
	ActionLogout         = "user.logout"
	ActionLoginFailed    = "user.login_failed"
	ActionLoginLocked    = "user.login_locked"
	ActionUnlock         = "user.unlock"
	ActionPasswordChange = "user.password_change"
	ActionPasswordSet    = "user.password_set"
	ActionPasswordForce  = "user.password_force"
	ActionCreate         = "user.create"
	ActionUpdate         = "user.update"
	ActionRoles          = "user.roles"
	ActionBan            = "user.ban"
	ActionUnban          = "user.unban"
	ActionRevokeSessions = "user.revoke_sessions"
	ActionDelete         = "user.delete"
	// ActionExport is a user-list export.
	ActionExport = "users.export"
	// ActionSeed is a bulk load of demo users.
	ActionSeed = "users.seed"
	// ActionBulk is a bulk request as a whole; each user it changed has the
	// audit row of the single action as well.
	ActionBulk = "users.bulk"
	// ActionAuditExport is a download of the audit log itself.
	ActionAuditExport = "audit.export"
)

// AuditActions lists every audit action, in the order the audit page's
// filter offers them.
var AuditActions = []string{
	ActionLogin, ActionLogout, ActionCreate, ActionUpdate, ActionRoles, ActionBan, ActionUnban,
	ActionRevokeSessions, ActionDelete, ActionExport, ActionSeed, ActionBulk, ActionAuditExport,
	ActionLoginFailed, ActionLoginLocked, ActionUnlock, ActionPasswordChange, ActionPasswordSet, ActionPasswordForce,
	ActionSessionEnd,
}

// writeAudit records one change in the audit log, inside the change's transaction.
func writeAudit(ctx context.Context, tx *sqlx.Tx, actor Actor, action, targetID, targetEmail string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	js, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("db: audit details: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (actor_id, actor_email, action, target_id, target_email, details)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		nullableID(actor.ID), actor.Email, action, nullableID(targetID), targetEmail, string(js))
	if err != nil {
		return fmt.Errorf("db: write audit row: %w", err)
	}
	return nil
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID          int64     `db:"id"`
	At          time.Time `db:"at"`
	ActorID     *string   `db:"actor_id"`
	ActorEmail  string    `db:"actor_email"`
	Action      string    `db:"action"`
	TargetID    *string   `db:"target_id"`
	TargetEmail string    `db:"target_email"`
	// Details is the JSON object of the change (reason, fields changed, ...).
	Details string `db:"details"`
}

// DetailsMap decodes Details; a malformed value yields an empty map.
func (e AuditEntry) DetailsMap() map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(e.Details), &m)
	return m
}

// AuditFilter selects audit rows; zero values mean "no filter".
type AuditFilter struct {
	// Actor is a case-insensitive substring of the actor's email.
	Actor string
	// Action is an exact action name such as "user.ban".
	Action string
	// TargetID is the id of the user the rows are about.
	TargetID string
	// Target is a case-insensitive substring of the target's email, or,
	// when it is a user id, that id exactly.
	Target string
	// Since and Until bound the time of the rows: Since <= at < Until.
	Since *time.Time
	Until *time.Time
	// HideSignIns leaves out sign-ins and sign-outs, the bulk of a busy log.
	HideSignIns bool
	// Limit defaults to 50 and is at most 200.
	Limit  int
	Offset int
}

// AuditPage is one page of audit rows, newest first.
type AuditPage struct {
	Entries []AuditEntry
	Limit   int
	Offset  int
	// Total is how many rows match the filter, exactly.
	Total int64
	// HasMore reports whether a further page exists.
	HasMore bool
}

// signInActions are the rows HideSignIns leaves out.
var signInActions = []string{ActionLogin, ActionLogout}

const auditColumns = `id, at, actor_id, actor_email, action, target_id, COALESCE(target_email, '') AS target_email, details::text AS details`

// where is the filter as SQL conditions and their arguments. A TargetID that
// is not a user id matches nothing (ok is false).
func (f AuditFilter) where() (clause string, args []any, ok bool, err error) {
	for field, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target} {
		if !validText(v) {
			return "", nil, false, invalid(field, "is not valid text")
		}
	}
	var where []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Actor != "" {
		add(`actor_email ILIKE $%d`, "%"+escapeLike(f.Actor)+"%")
	}
	if f.Action != "" {
		add(`action = $%d`, f.Action)
	}
	if f.TargetID != "" {
		if !validID(f.TargetID) {
			return "", nil, false, nil
		}
		add(`target_id = $%d`, f.TargetID)
	}
	if t := strings.TrimSpace(f.Target); t != "" {
		if validID(t) {
			add(`target_id = $%d`, t)
		} else {
			add(`target_email ILIKE $%d`, "%"+escapeLike(t)+"%")
		}
	}
	if f.Since != nil {
		add(`at >= $%d`, *f.Since)
	}
	if f.Until != nil {
		add(`at < $%d`, *f.Until)
	}
	if f.HideSignIns {
		add(`action <> ALL($%d)`, pq.Array(signInActions))
	}
	if len(where) > 0 {
		clause = ` WHERE ` + strings.Join(where, " AND ")
	}
	return clause, args, true, nil
}

// ListAudit returns audit rows, newest first, that match f, with their
// exact total.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) (AuditPage, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 50
	case f.Limit > 200:
		f.Limit = 200
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	page := AuditPage{Limit: f.Limit, Offset: f.Offset}
	where, args, ok, err := f.where()
	if err != nil || !ok {
		return page, err
	}
	if err := s.db.GetContext(ctx, &page.Total, `SELECT count(*) FROM audit_log`+where, args...); err != nil {
		return AuditPage{}, fmt.Errorf("db: count audit: %w", err)
	}
	args = append(args, f.Limit+1, f.Offset)
	q := `SELECT ` + auditColumns + ` FROM audit_log` + where +
		fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d OFFSET $%d`, len(args)-1, len(args))
	if err := s.db.SelectContext(ctx, &page.Entries, q, args...); err != nil {
		return AuditPage{}, fmt.Errorf("db: list audit: %w", err)
	}
	if len(page.Entries) > f.Limit {
		page.HasMore = true
		page.Entries = page.Entries[:f.Limit]
	}
	return page, nil
}

// ExportAudit records the export in the audit log with filter, a readable
// account of what was asked for such as the page's query string (so that the
// export of the log is itself on record before any row leaves), then calls fn with every
// row matching f, newest first, one at a time from one query. Limit and
// Offset are ignored. If the audit row cannot be written, nothing is read.
func (s *Store) ExportAudit(ctx context.Context, f AuditFilter, filter string, fn func(AuditEntry) error) error {
	actor, err := requireActor(ctx)
	if err != nil {
		return err
	}
	where, args, ok, err := f.where()
	if err != nil {
		return err
	}
	if !validText(filter) {
		filter = ""
	}
	// The read's connection first, checked to answer: ctx is the export's
	// long deadline, and the audit row gets a short one of its own, so that
	// a frozen database is found out in a second, not at the deadline.
	tx, done, err := s.exportTx(ctx)
	if err != nil {
		return fmt.Errorf("db: export audit: %w", err)
	}
	defer done()
	wctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	if err := s.withTx(wctx, func(tx *sqlx.Tx, _ *pending) error {
		return writeAudit(wctx, tx, actor, ActionAuditExport, "", "", map[string]any{"filter": filter})
	}); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+` ORDER BY at DESC, id DESC`, args...)
	if err != nil {
		return fmt.Errorf("db: export audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e AuditEntry
		if err := rows.StructScan(&e); err != nil {
			return fmt.Errorf("db: export audit: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: export audit: %w", err)
	}
	return nil
}
