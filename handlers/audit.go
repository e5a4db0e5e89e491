package handlers

import (
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
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
	db.ActionSeed, db.ActionAuditExport, db.ActionSessionEnd,
}

// auditQuery is the audit log's state, as the URL carries it:
// /audit?actor=&action=&target=&from=&to=&signins=hide&page=
type auditQuery struct {
	Actor  string
	Action string
	Target string
	// From and To are days (YYYY-MM-DD, UTC), both included.
	From string
	To   string
	// HideSignIns leaves sign-ins and sign-outs out.
	HideSignIns bool
	Page        int
}

// dayLayout is how a URL names a day: the audit log's date range and the
// user table's dashboard filters.
const dayLayout = "2006-01-02"

// parseAuditQuery reads the audit log's state. An unknown action, a
// malformed day or a malformed page falls back to its default; text that is
// not valid text is kept, for the db to refuse as a 400.
func parseAuditQuery(v url.Values) auditQuery {
	q := auditQuery{
		Actor:       auditText(v.Get("actor")),
		Action:      strings.TrimSpace(v.Get("action")),
		Target:      auditText(v.Get("target")),
		From:        parseDay(v.Get("from")),
		To:          parseDay(v.Get("to")),
		HideSignIns: v.Get("signins") == "hide",
		Page:        1,
	}
	if !slices.Contains(auditActions, q.Action) {
		q.Action = ""
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.Get("page"))); err == nil && n > 1 {
		q.Page = min(n, maxPage)
	}
	return q
}

// parseDay keeps a well-formed day and drops anything else.
func parseDay(s string) string {
	s = strings.TrimSpace(s)
	if _, err := time.Parse(dayLayout, s); err != nil {
		return ""
	}
	return s
}

// filter is the db filter of the query, without paging: the days become the
// range from the start of From to the end of To.
func (q auditQuery) filter() db.AuditFilter {
	f := db.AuditFilter{Actor: q.Actor, Action: q.Action, Target: q.Target, HideSignIns: q.HideSignIns}
	if t, err := time.Parse(dayLayout, q.From); err == nil {
		f.Since = &t
	}
	if t, err := time.Parse(dayLayout, q.To); err == nil {
		end := t.AddDate(0, 0, 1)
		f.Until = &end
	}
	return f
}

// filtered says whether any filter is set.
func (q auditQuery) filtered() bool {
	return q.Actor != "" || q.Action != "" || q.Target != "" || q.From != "" || q.To != "" || q.HideSignIns
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

// values is the query's state as URL parameters, defaults left out.
func (q auditQuery) values() url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"actor": q.Actor, "action": q.Action, "target": q.Target,
		"from": q.From, "to": q.To} {
		if val != "" {
			v.Set(k, val)
		}
	}
	if q.HideSignIns {
		v.Set("signins", "hide")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// url is path (/audit or its export) with the query's state.
func (q auditQuery) urlAt(path string) string {
	if enc := q.values().Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// url is /audit with the query's state, defaults left out.
func (q auditQuery) url() string { return q.urlAt("/audit") }

func (q auditQuery) withPage(n int) auditQuery { q.Page = n; return q }

// listAudit is the audit log, newest first: the whole page, or only the
// table for htmx, from the same URL.
func (h *Handler) listAudit(c echo.Context) error {
	ctx := c.Request().Context()
	q := parseAuditQuery(c.QueryParams())
	f := q.filter()
	f.Limit, f.Offset = auditPerPage, (q.Page-1)*auditPerPage
	page, err := h.store.ListAudit(ctx, f)
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
		if e.ActorID != nil {
			ids = append(ids, *e.ActorID)
		}
	}
	exists, err := h.store.ExistingUsers(c.Request().Context(), ids)
	if err != nil {
		return views.AuditTable{}, fmt.Errorf("list audit: %w", err)
	}
	t := views.AuditTable{
		Rows:      make([]views.AuditLogRow, len(page.Entries)),
		Filtered:  q.filtered(),
		Total:     page.Total,
		ExportURL: q.withPage(1).urlAt("/audit/export.csv"),
	}
	for i, e := range page.Entries {
		r := views.AuditLogRow{At: e.At, Actor: e.ActorEmail, Action: e.Action, Target: e.TargetEmail,
			Details: summarize(e.DetailsMap())}
		if e.TargetID != nil && exists[*e.TargetID] {
			r.TargetURL = "/users/" + *e.TargetID
		}
		if e.ActorID != nil && exists[*e.ActorID] {
			r.ActorURL = "/users/" + *e.ActorID
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
	f := views.AuditFilters{Actor: q.Actor, Action: q.Action, Target: q.Target, From: q.From, To: q.To,
		HideSignIns: q.HideSignIns, Active: q.filtered(), MaxSearchLen: maxSearchLen}
	for _, a := range auditActions {
		f.Actions = append(f.Actions, views.Option{Value: a, Label: a})
	}
	return f
}

// auditExportHeader is the first line of the audit log's CSV.
var auditExportHeader = []string{"id", "at", "actor_id", "actor_email", "action", "target_id", "target_email", "details"}

// exportAudit streams the filtered audit log as CSV, newest first. The
// export is on record in the log before the first row leaves, and nothing
// leaves if it cannot be recorded.
func (h *Handler) exportAudit(c echo.Context) error {
	ctx := c.Request().Context()
	q := parseAuditQuery(c.QueryParams())
	q.Page = 1

	hdr := c.Response().Header()
	w := csv.NewWriter(c.Response())
	rows := 0
	start := func() error {
		hdr.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		hdr.Set(echo.HeaderContentDisposition,
			fmt.Sprintf(`attachment; filename="audit-%s.csv"`, time.Now().UTC().Format("20060102-150405")))
		hdr.Set(echo.HeaderCacheControl, "no-store")
		c.Response().WriteHeader(http.StatusOK)
		return w.Write(auditExportHeader)
	}
	err := h.store.ExportAudit(ctx, q.filter(), q.values().Encode(), func(e db.AuditEntry) error {
		if rows == 0 {
			if err := start(); err != nil {
				return err
			}
		}
		rows++
		if err := w.Write(auditRecord(e)); err != nil {
			return err
		}
		if rows%exportFlushEvery == 0 {
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			c.Response().Flush()
		}
		return nil
	})
	if err != nil && !c.Response().Committed {
		return fmt.Errorf("export audit: %w", err)
	}
	if err == nil && rows == 0 {
		err = start()
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err != nil {
		// The status is sent: all that is left is to log a cut export.
		h.log.WarnContext(ctx, "export audit cut short", slog.Any("err", err), slog.Int("rows", rows))
	}
	return nil
}

// auditRecord is one audit row as a CSV line; every text a person could
// have typed is made formula-safe.
func auditRecord(e db.AuditEntry) []string {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return []string{
		strconv.FormatInt(e.ID, 10),
		e.At.UTC().Format(time.RFC3339Nano),
		deref(e.ActorID),
		csvSafe(e.ActorEmail),
		e.Action,
		deref(e.TargetID),
		csvSafe(e.TargetEmail),
		csvSafe(e.Details),
	}
}
