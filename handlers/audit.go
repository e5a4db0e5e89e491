package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// auditPerPage is how many audit rows a page shows.
const auditPerPage = 50

// auditActions are the actions the filter offers, in the order shown.
var auditActions = []string{
	db.ActionLogin, db.ActionLogout, db.ActionCreate, db.ActionUpdate, db.ActionRoles,
	db.ActionBan, db.ActionUnban, db.ActionRevokeSessions, db.ActionDelete, db.ActionExport,
	db.ActionLoginFailed, db.ActionLoginLocked, db.ActionUnlock,
	db.ActionPasswordChange, db.ActionPasswordSet, db.ActionPasswordForce,
}

// auditQuery is the audit log's state, as the URL carries it:
// /audit?actor=&action=&target=&page=
type auditQuery struct {
	Actor  string
	Action string
	Target string
	Page   int
}

// parseAuditQuery reads the audit log's state. An unknown action or a
// malformed page falls back to its default; text that is not valid text is
// kept, for the db to refuse as a 400.
func parseAuditQuery(v url.Values) auditQuery {
	q := auditQuery{
		Actor:  auditText(v.Get("actor")),
		Action: strings.TrimSpace(v.Get("action")),
		Target: auditText(v.Get("target")),
		Page:   1,
	}
	if !slices.Contains(auditActions, q.Action) {
		q.Action = ""
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.Get("page"))); err == nil && n > 1 {
		q.Page = min(n, maxPage)
	}
	return q
}

// auditText trims a search and cuts it to the length the user search
// accepts.
func auditText(s string) string {
	s = strings.TrimSpace(s)
	if utf8.ValidString(s) && utf8.RuneCountInString(s) > maxSearchLen {
		s = strings.TrimSpace(string([]rune(s)[:maxSearchLen]))
	}
	return s
}

// url is /audit with the query's state, defaults left out.
func (q auditQuery) url() string {
	v := url.Values{}
	for k, val := range map[string]string{"actor": q.Actor, "action": q.Action, "target": q.Target} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if enc := v.Encode(); enc != "" {
		return "/audit?" + enc
	}
	return "/audit"
}

func (q auditQuery) withPage(n int) auditQuery { q.Page = n; return q }

// listAudit is the audit log, newest first: the whole page, or only the
// table for htmx, from the same URL.
func (h *Handler) listAudit(c echo.Context) error {
	ctx := c.Request().Context()
	q := parseAuditQuery(c.QueryParams())
	page, err := h.store.ListAudit(ctx, db.AuditFilter{
		Actor: q.Actor, Action: q.Action, Target: q.Target,
		Limit: auditPerPage, Offset: (q.Page - 1) * auditPerPage,
	})
	if err != nil {
		return fmt.Errorf("list audit: %w", err)
	}
	table, err := h.auditTable(c, q, page)
	if err != nil {
		return err
	}
	if wantsFragment(c) {
		c.Response().Header().Set("HX-Push-Url", pushURL(c, q.url()))
	}
	vm := views.AuditLogPage{Chrome: h.chrome(c, "Audit log"), Filters: auditFilters(q), Table: table}
	return h.render(c, http.StatusOK, views.AuditLog(vm), views.AuditTableView(table))
}

// auditTable builds the table's view-model. A target is linked only while
// the user exists: the log outlives the users it names.
func (h *Handler) auditTable(c echo.Context, q auditQuery, page db.AuditPage) (views.AuditTable, error) {
	var ids []string
	for _, e := range page.Entries {
		if e.TargetID != nil {
			ids = append(ids, *e.TargetID)
		}
	}
	exists, err := h.store.ExistingUsers(c.Request().Context(), ids)
	if err != nil {
		return views.AuditTable{}, fmt.Errorf("list audit: %w", err)
	}
	t := views.AuditTable{
		Rows:     make([]views.AuditLogRow, len(page.Entries)),
		Filtered: q.Actor != "" || q.Action != "" || q.Target != "",
	}
	for i, e := range page.Entries {
		r := views.AuditLogRow{At: e.At, Actor: e.ActorEmail, Action: e.Action, Target: e.TargetEmail,
			Details: summarize(e.DetailsMap())}
		if e.TargetID != nil && exists[*e.TargetID] {
			r.TargetURL = "/users/" + *e.TargetID
		}
		t.Rows[i] = r
	}
	if q.Page > 1 {
		t.PrevURL = q.withPage(q.Page - 1).url()
		if len(page.Entries) == 0 {
			t.FirstPageURL = q.withPage(1).url()
		}
	}
	if page.HasMore {
		t.NextURL = q.withPage(q.Page + 1).url()
	}
	if len(page.Entries) > 0 {
		t.From = page.Offset + 1
		t.To = page.Offset + len(page.Entries)
	}
	return t, nil
}

// auditFilters is the filter form's view-model.
func auditFilters(q auditQuery) views.AuditFilters {
	f := views.AuditFilters{Actor: q.Actor, Action: q.Action, Target: q.Target,
		Active: q.Actor != "" || q.Action != "" || q.Target != ""}
	for _, a := range auditActions {
		f.Actions = append(f.Actions, views.Option{Value: a, Label: a})
	}
	return f
}
