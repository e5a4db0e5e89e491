package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// POST /users/bulk is both steps of a bulk action, told apart by confirm:
// without it the answer is the preview page (what would happen, changing
// nothing), with it the action runs and the browser goes back to the table.
// The form fields are:
//
//	action       a db.BulkAction
//	scope        "ids" (the ticked rows, ids=…) or "filter" (every user
//	             matching q, role, banned, verified, at the moment it runs)
//	all_page     "yes": the whole page, whose ids the table sends as page_ids
//	reason, duration   a ban's, as on the user page
//	role         the role to grant or remove
//	back         the table URL to return to
//	confirm      "yes" on the preview page's button
type bulkForm struct {
	Action   db.BulkAction
	Scope    string
	IDs      []string
	Filter   userListQuery
	Reason   string
	Duration string
	Role     string
	Back     string
	Confirm  bool
}

// parseBulkForm reads the form; nothing in it is an error yet (the db
// refuses what it must, with a field).
func (h *Handler) parseBulkForm(c echo.Context) (bulkForm, error) {
	form, err := c.FormParams()
	if err != nil {
		return bulkForm{}, echo.NewHTTPError(http.StatusBadRequest, "malformed form")
	}
	roles, err := h.roleNames(c.Request().Context())
	if err != nil {
		return bulkForm{}, err
	}
	f := bulkForm{
		Action:   db.BulkAction(strings.TrimSpace(form.Get("action"))),
		Scope:    form.Get("scope"),
		Filter:   parseUserListQuery(form, roles),
		Reason:   form.Get("reason"),
		Duration: form.Get("duration"),
		Role:     strings.TrimSpace(form.Get("role")),
		Back:     safeNext(form.Get("back")),
		Confirm:  form.Get("confirm") == "yes",
	}
	if f.Scope != "filter" {
		f.Scope = "ids"
		f.IDs = form["ids"]
		if form.Get("all_page") == "yes" {
			f.IDs = append(f.IDs, form["page_ids"]...)
		}
	}
	if f.Back == "" || !strings.HasPrefix(f.Back, "/users") {
		f.Back = f.Filter.withPage(1).url("/users")
	}
	if f.Duration == "" {
		f.Duration = defaultBanDuration
	}
	return f, nil
}

// request is the form's db.BulkRequest; a ban's end is counted from now.
func (f bulkForm) request() (db.BulkRequest, error) {
	req := db.BulkRequest{Action: f.Action, Reason: f.Reason, Role: f.Role}
	if f.Scope == "filter" {
		filter := f.Filter.filter()
		req.Selection.Filter = &filter
	} else {
		req.Selection.IDs = f.IDs
	}
	if f.Action == db.BulkBan {
		choice, ok := findBanDuration(f.Duration)
		if !ok {
			return req, &db.ValidationError{Field: "duration", Reason: "choose how long the ban lasts"}
		}
		if choice.d > 0 {
			t := time.Now().Add(choice.d)
			req.Until = &t
		}
	}
	return req, nil
}

// bulkUsers previews or runs a bulk action.
func (h *Handler) bulkUsers(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := h.parseBulkForm(c)
	if err != nil {
		return err
	}
	if !slices.Contains(db.BulkActions, f.Action) {
		return h.bulkPreviewPage(c, f, db.BulkPlan{}, "Choose an action for the selected users.")
	}
	if !slices.Contains(h.bulkActionsFor(currentUser(c)), f.Action) {
		return errForbidden
	}
	req, err := f.request()
	if err == nil {
		var plan db.BulkPlan
		if f.Confirm {
			plan, err = h.store.Bulk(ctx, req)
			if err == nil {
				h.addFlash(c, "success", bulkDoneMessage(f, plan))
				return redirect(c, f.Back)
			}
		} else {
			plan, err = h.store.PreviewBulk(ctx, req)
			if err == nil {
				return h.bulkPreviewPage(c, f, plan, "")
			}
		}
	}
	if errors.Is(err, db.ErrForbidden) {
		return errForbidden
	}
	if _, msg := formError(err); msg != "" {
		// Show the preview again, with what to fix; the plan is what would
		// happen now (none when the selection itself is what was refused).
		plan, perr := h.store.PreviewBulk(ctx, req)
		if perr != nil {
			plan = db.BulkPlan{}
		}
		return h.bulkPreviewPage(c, f, plan, msg)
	}
	return fmt.Errorf("bulk %s: %w", f.Action, err)
}

// bulkActionsFor are the bulk actions u's roles allow, in menu order.
func (h *Handler) bulkActionsFor(u *db.User) []db.BulkAction {
	var out []db.BulkAction
	for _, a := range db.BulkActions {
		if u.Can(a.Policy()) {
			out = append(out, a)
		}
	}
	return out
}

// bulkActionOptions is the action menu of the table's bulk form.
func (h *Handler) bulkActionOptions(u *db.User) []views.Option {
	var opts []views.Option
	for _, a := range h.bulkActionsFor(u) {
		opts = append(opts, views.Option{Value: string(a), Label: bulkActionLabel(a)})
	}
	return opts
}

// bulkActionLabel is an action as the menu names it.
func bulkActionLabel(a db.BulkAction) string {
	switch a {
	case db.BulkBan:
		return "Ban"
	case db.BulkUnban:
		return "Unban"
	case db.BulkRevokeSessions:
		return "Sign out everywhere"
	case db.BulkGrantRole:
		return "Grant a role"
	case db.BulkRemoveRole:
		return "Remove a role"
	case db.BulkDelete:
		return "Delete"
	}
	return string(a)
}

// bulkPreviewPage renders the preview: what would happen, who is skipped and
// why, and the confirmation form carrying the same selection. A refused
// confirmation comes back here with its message (422).
func (h *Handler) bulkPreviewPage(c echo.Context, f bulkForm, plan db.BulkPlan, problem string) error {
	roles, err := h.roleNames(c.Request().Context())
	if err != nil {
		return err
	}
	vm := views.BulkPreview{
		Chrome:    h.chrome(c, "Preview: "+bulkActionLabel(f.Action)),
		Action:    string(f.Action),
		Heading:   bulkHeading(f, plan),
		Matching:  plan.Matching,
		Affected:  plan.Affected,
		Missing:   plan.Missing,
		Error:     problem,
		BackURL:   f.Back,
		Hidden:    bulkHidden(f),
		Reason:    f.Reason,
		Duration:  f.Duration,
		Role:      f.Role,
		IsBan:     f.Action == db.BulkBan,
		NeedsRole: f.Action == db.BulkGrantRole || f.Action == db.BulkRemoveRole,
		Danger:    f.Action == db.BulkDelete || f.Action == db.BulkBan,
		MaxReason: db.MaxBanReasonLen,
		Reasons:   banReasons,
	}
	vm.Durations = banDurationOptions
	for _, r := range roles {
		vm.Roles = append(vm.Roles, views.Option{Value: r, Label: r})
	}
	for _, u := range plan.Sample {
		vm.Sample = append(vm.Sample, views.BulkUserRow{Email: u.Email, Name: u.Name, URL: "/users/" + u.ID})
	}
	vm.More = plan.Affected - len(plan.Sample)
	for _, s := range plan.Skipped {
		vm.Skipped = append(vm.Skipped, views.BulkUserRow{Email: s.Email, Name: s.Name, URL: "/users/" + s.ID, Why: s.Reason.Text()})
	}
	vm.SkippedTotal = plan.SkippedTotal()
	vm.SkippedMore = vm.SkippedTotal - len(plan.Skipped)
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnprocessableEntity
	}
	return h.render(c, status, views.BulkPreviewPage(vm))
}

// banReasons are offered beside the free text of a ban reason.
var banReasons = []string{"Spam", "Abuse of other users", "Chargeback", "Requested by the user"}

// bulkHeading is the preview's sentence: "This will ban 312 users".
func bulkHeading(f bulkForm, plan db.BulkPlan) string {
	if plan.Affected == 0 {
		return "Nothing to do: none of the selected users would change"
	}
	verb := f.Action.Verb()
	if f.Role != "" && (f.Action == db.BulkGrantRole || f.Action == db.BulkRemoveRole) {
		verb = map[db.BulkAction]string{db.BulkGrantRole: "grant " + f.Role + " to", db.BulkRemoveRole: "remove " + f.Role + " from"}[f.Action]
	}
	return fmt.Sprintf("This will %s %s", verb, usersText(plan.Affected))
}

// usersText is "1 user" or "312 users".
func usersText(n int) string {
	if n == 1 {
		return "1 user"
	}
	return views.Thousands(int64(n)) + " users"
}

// bulkHidden are the fields the confirmation repeats: the action and the
// selection exactly as the table sent them.
func bulkHidden(f bulkForm) []views.Hidden {
	hs := []views.Hidden{{Name: "action", Value: string(f.Action)}, {Name: "scope", Value: f.Scope}, {Name: "back", Value: f.Back}}
	if f.Scope == "filter" {
		return append(hs, filterFields(f.Filter)...)
	}
	for _, id := range f.IDs {
		hs = append(hs, views.Hidden{Name: "ids", Value: id})
	}
	return hs
}

// filterFields is the table's filter (not its sort or page) as hidden
// fields: what "all matching" means.
func filterFields(q userListQuery) []views.Hidden {
	var hs []views.Hidden
	for k, v := range q.withPage(1).values() {
		if slices.Contains(filterKeys, k) {
			hs = append(hs, views.Hidden{Name: k, Value: v[0]})
		}
	}
	return hs
}

// bulkDoneMessage is the flash after a bulk action, in the voice of the
// single actions: what was done to how many, and who was left alone.
func bulkDoneMessage(f bulkForm, plan db.BulkPlan) string {
	var b strings.Builder
	switch f.Action {
	case db.BulkBan:
		b.WriteString("Banned " + usersText(plan.Affected))
		if d, ok := findBanDuration(f.Duration); ok && d.d > 0 {
			b.WriteString(" for " + d.label)
		} else {
			b.WriteString(" permanently")
		}
		b.WriteString(" and signed them out everywhere")
	case db.BulkUnban:
		b.WriteString("Unbanned " + usersText(plan.Affected))
	case db.BulkRevokeSessions:
		b.WriteString("Signed " + usersText(plan.Affected) + " out everywhere")
	case db.BulkDelete:
		b.WriteString("Deleted " + usersText(plan.Affected))
	case db.BulkGrantRole:
		b.WriteString("Granted " + f.Role + " to " + usersText(plan.Affected))
	case db.BulkRemoveRole:
		b.WriteString("Removed " + f.Role + " from " + usersText(plan.Affected))
	}
	if n := plan.SkippedTotal(); n > 0 {
		fmt.Fprintf(&b, "; %s skipped", views.Thousands(int64(n)))
	}
	b.WriteString(".")
	return b.String()
}

// bulkBar is the table's bulk form: the action menu, the selection's
// buttons, and the filter it would act on.
// roles are the role names that exist, which the table has read already.
func (h *Handler) bulkBar(c echo.Context, q userListQuery, total int64, rows []views.UserRow, roles []string) views.BulkBar {
	bar := views.BulkBar{Actions: h.bulkActionOptions(currentUser(c)), Back: q.url("/users"), Total: total,
		CSRF: csrfToken(c), Filter: filterFields(q)}
	if currentUser(c).Can(db.BulkGrantRole.Policy()) {
		for _, r := range roles {
			bar.Roles = append(bar.Roles, views.Option{Value: r, Label: r})
		}
	}
	for _, r := range rows {
		bar.PageIDs = append(bar.PageIDs, r.ID)
	}
	return bar
}

// canModerate reports whether the policy lets u ban, unban and sign out
// target (support: only users who hold no staff role).
func canModerate(u *db.User, target *db.User) bool {
	return u.CanActOn(db.ActBan, target) && u.CanActOn(db.ActUnban, target) && u.CanActOn(db.ActRevokeSessions, target)
}

// rowActions returns the maker of the moderation forms of the rows of the
// table at back: nil when the viewer moderates no one, and for each row an
// empty cell when not this user. What the rows share is made once.
func (h *Handler) rowActions(c echo.Context, back string) func(target *db.User) *views.RowActions {
	u := currentUser(c)
	if !u.Can(db.ActBan) && !u.Can(db.ActUnban) && !u.Can(db.ActRevokeSessions) {
		return func(*db.User) *views.RowActions { return nil }
	}
	token := csrfToken(c)
	banQuery := "/ban?" + url.Values{"row": {"1"}, "back": {back}}.Encode()
	return func(target *db.User) *views.RowActions {
		return &views.RowActions{CSRF: token, Back: back, MaxReason: db.MaxBanReasonLen, Reasons: banReasons,
			Durations: banDurationOptions, Allowed: canModerate(u, target),
			BanFormURL: "/users/" + url.PathEscape(target.ID) + banQuery}
	}
}

// rowBack is the table URL a row form came from, or "" when the form is
// not a row's (the user page's forms).
func rowBack(c echo.Context) string {
	if c.FormValue("row") != "1" {
		return ""
	}
	back := safeNext(c.FormValue("back"))
	if back != "/users" && !strings.HasPrefix(back, "/users?") {
		return "/users"
	}
	return back
}

// rowBanForm answers GET /users/{id}/ban: to a table row's ban menu (htmx,
// row=1) its form; to anything else, the user page, which has the form.
func (h *Handler) rowBanForm(c echo.Context) error {
	back := rowBack(c)
	if back == "" || !wantsFragment(c) {
		return h.toUserPage(c)
	}
	target, err := h.store.LoadUser(c.Request().Context(), c.Param("id"))
	if err != nil {
		return fmt.Errorf("row ban form: %w", err)
	}
	if !canModerate(currentUser(c), target) {
		return errForbidden
	}
	row := userRow(target)
	row.Actions = h.rowActions(c, back)(target)
	return h.render(c, http.StatusOK, views.RowBanForm(row))
}

// afterRowAction answers a row's form: for htmx the row as it is now with the
// flash message out of band; without JavaScript the message is kept and the
// browser goes back to the same table (filters, sort and page).
func (h *Handler) afterRowAction(c echo.Context, id, back, kind, message string) error {
	if !wantsFragment(c) {
		h.addFlash(c, kind, message)
		return c.Redirect(http.StatusSeeOther, back)
	}
	u, err := h.store.LoadUser(c.Request().Context(), id)
	if err != nil {
		// Gone meanwhile: reload the table, with the message.
		h.addFlash(c, kind, message)
		return redirect(c, back)
	}
	row := userRow(u)
	row.Actions = h.rowActions(c, back)(u)
	up := views.RowUpdate{Row: row, Selectable: len(h.bulkActionsFor(currentUser(c))) > 0,
		Flashes: []views.Flash{{Kind: kind, Message: message}}}
	return h.render(c, http.StatusOK, views.RowUpdated(up))
}
