package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// auditOnUserPage is how many of the latest audit rows the user page shows.
const auditOnUserPage = 50

// banDuration is one choice of the ban form.
type banDuration struct {
	value, label string
	// d is zero for a permanent ban.
	d time.Duration
}

var banDurations = []banDuration{
	{"1h", "1 hour", time.Hour},
	{"24h", "24 hours", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"permanent", "Permanently", 0},
}

// banDurationOptions are the ban forms' choices (shared, never changed).
var banDurationOptions = func() []views.Option {
	opts := make([]views.Option, len(banDurations))
	for i, d := range banDurations {
		opts[i] = views.Option{Value: d.value, Label: d.label}
	}
	return opts
}()

// defaultBanDuration is preselected: a day is long enough to stop abuse and
// short enough to be harmless if it was a mistake.
const defaultBanDuration = "24h"

// showUser is everything about one user.
func (h *Handler) showUser(c echo.Context) error {
	vm, err := h.userPage(c, views.BanForm{Duration: defaultBanDuration})
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.UserView(vm))
}

// userPage builds the user page's view-model; ban is the ban form's state.
func (h *Handler) userPage(c echo.Context, ban views.BanForm) (views.UserPage, error) {
	ctx := c.Request().Context()
	d, err := h.store.GetUser(ctx, c.Param("id"))
	if err != nil {
		return views.UserPage{}, err
	}
	me := currentUser(c)
	// Support reads the history of the users it may act on only; staff
	// members' history is for admins, as /audit is.
	var audit db.AuditPage
	canSeeAudit := me.CanActOn(db.ActViewUserAudit, &d.User)
	if canSeeAudit {
		if audit, err = h.store.ListAudit(ctx, db.AuditFilter{TargetID: d.ID, Limit: auditOnUserPage}); err != nil {
			return views.UserPage{}, fmt.Errorf("user page: %w", err)
		}
	}
	ban.Durations = banDurationOptions
	ban.Reasons = banReasons
	now := time.Now()
	vm := views.UserPage{
		Chrome:      h.chrome(c, d.Email),
		User:        userDetail(d, now),
		Sessions:    make([]views.SessionRow, len(d.Sessions)),
		OAuth:       make([]views.OAuthRow, len(d.OAuthAccounts)),
		Audit:       make([]views.AuditRow, len(audit.Entries)),
		AuditMore:   audit.HasMore,
		CanSeeAudit: canSeeAudit,
		Ban:         ban,
		BackURL:     usersBackURL(c),

		CanBan:            me.CanActOn(db.ActBan, &d.User),
		CanUnban:          me.CanActOn(db.ActUnban, &d.User),
		CanRevokeSessions: me.CanActOn(db.ActRevokeSessions, &d.User),
		CanEdit:           me.CanActOn(db.ActEditUser, &d.User),
		CanSetRoles:       me.CanActOn(db.ActSetRoles, &d.User),
		CanDelete:         me.CanActOn(db.ActDeleteUser, &d.User),
	}
	if me.Can(db.ActReadAudit) {
		// The audit log page is for admins: they follow the history there.
		vm.AuditLogURL = auditQuery{Target: d.ID, Page: 1}.url()
	}
	if vm.CanEdit || vm.CanSetRoles {
		if err := h.fillAdminForms(c, &vm, d); err != nil {
			return views.UserPage{}, err
		}
	}
	for i, s := range d.Sessions {
		state := "active"
		switch {
		case s.RevokedAt != nil:
			state = "revoked"
		case !s.Active(now):
			state = "expired"
		}
		vm.Sessions[i] = views.SessionRow{UserAgent: s.UserAgent, IP: s.IP, CreatedAt: s.CreatedAt,
			ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, State: state}
	}
	for i, o := range d.OAuthAccounts {
		vm.OAuth[i] = views.OAuthRow{Provider: o.Provider, ProviderUserID: o.ProviderUserID, Email: o.Email, CreatedAt: o.CreatedAt}
	}
	for i, a := range audit.Entries {
		vm.Audit[i] = views.AuditRow{At: a.At, ActorEmail: a.ActorEmail, Action: a.Action, Details: summarize(a.DetailsMap())}
	}
	return vm, nil
}

func userDetail(d *db.UserDetail, now time.Time) views.UserDetail {
	u := views.UserDetail{
		ID: d.ID, Email: d.Email, Name: d.Name, Roles: d.Roles, Verified: d.EmailVerified,
		HasPassword: d.HasPassword, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, LastLoginAt: d.LastLoginAt,
		Banned: d.Banned, BanReason: d.BanReason, BannedAt: d.BannedAt, BannedUntil: d.BannedUntil,
		BannedByEmail: d.BannedByEmail,
	}
	if d.BannedBy != nil {
		u.BannedByURL = "/users/" + *d.BannedBy
	}
	// A ban whose end has passed reads as not banned, but staff should
	// still see that there was one.
	u.BanExpired = !d.Banned && d.BannedUntil != nil && !d.BannedUntil.After(now) && d.BanReason != ""
	return u
}

// usersBackURL returns to the user table as the visitor left it, when they
// came from it.
func usersBackURL(c echo.Context) string {
	req := c.Request()
	if ref, err := url.Parse(req.Referer()); err == nil && ref.Host == req.Host && ref.Path == "/users" {
		if next := safeNext(ref.RequestURI()); next != "" {
			return next
		}
	}
	return "/users"
}

// summarize turns an audit row's details into one readable line, keys in
// order: "reason: spam · until: 2025-01-02T00:00:00Z".
func summarize(details map[string]any) string {
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, strings.ReplaceAll(k, "_", " ")+": "+detailValue(details[k]))
	}
	return strings.Join(parts, " · ")
}

func detailValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case map[string]any:
		if from, ok := v["from"]; ok {
			return detailValue(from) + " → " + detailValue(v["to"])
		}
		return summarize(v)
	case []any:
		if len(v) == 0 {
			return "none"
		}
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = detailValue(x)
		}
		return strings.Join(s, ", ")
	case float64:
		return fmt.Sprintf("%g", v)
	case string:
		// Times are stored as RFC 3339; they read as every other time does.
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return views.TimeText(t)
		}
		return v
	default:
		return fmt.Sprint(v)
	}
}

// banUser bans the user for the chosen duration. A refused ban (no reason,
// oneself, the last admin) shows the page again with the form refilled; from
// a table row, it says why beside the table instead.
func (h *Handler) banUser(c echo.Context) error {
	id := c.Param("id")
	back := rowBack(c)
	form := views.BanForm{Reason: c.FormValue("reason"), Duration: c.FormValue("duration")}
	var until *time.Time
	choice, ok := findBanDuration(form.Duration)
	if !ok {
		form.Error = "Choose how long the ban lasts."
		if back != "" {
			return h.afterRowAction(c, id, back, "error", form.Error)
		}
		return h.refuseBan(c, form)
	}
	if choice.d > 0 {
		t := time.Now().Add(choice.d)
		until = &t
	}
	err := h.store.BanUser(c.Request().Context(), id, form.Reason, until)
	if _, msg := formError(err); msg != "" {
		if back != "" {
			return h.afterRowAction(c, id, back, "error", msg)
		}
		form.Error = msg
		return h.refuseBan(c, form)
	}
	if err != nil {
		return fmt.Errorf("ban user: %w", err)
	}
	email := h.emailOf(c, id)
	msg := "Banned " + email + " permanently and signed them out everywhere."
	if until != nil {
		msg = "Banned " + email + " for " + choice.label + " and signed them out everywhere."
	}
	return h.afterAction(c, id, back, msg)
}

// emailOf is the user's email for a message, or "the user" when it cannot
// be read.
func (h *Handler) emailOf(c echo.Context, id string) string {
	u, err := h.store.LoadUser(c.Request().Context(), id)
	if err != nil {
		return "the user"
	}
	return u.Email
}

// afterAction ends a moderation action: back to the table row it came from,
// or to the user page.
func (h *Handler) afterAction(c echo.Context, id, back, message string) error {
	if back != "" {
		return h.afterRowAction(c, id, back, "success", message)
	}
	h.addFlash(c, "success", message)
	return c.Redirect(http.StatusSeeOther, "/users/"+id)
}

// sessionsText is "1 session" or "3 sessions".
func sessionsText(n int64) string {
	if n == 1 {
		return "1 session"
	}
	return fmt.Sprintf("%d sessions", n)
}

func findBanDuration(v string) (banDuration, bool) {
	for _, d := range banDurations {
		if d.value == v {
			return d, true
		}
	}
	return banDuration{}, false
}

// refuseBan shows the user page again with the ban form's error.
func (h *Handler) refuseBan(c echo.Context, form views.BanForm) error {
	vm, err := h.userPage(c, form)
	if err != nil {
		return err
	}
	vm.Chrome.CanonicalURL = "/users/" + vm.User.ID
	return h.render(c, http.StatusUnprocessableEntity, views.UserView(vm))
}

// unbanUser lifts the user's ban.
func (h *Handler) unbanUser(c echo.Context) error {
	id := c.Param("id")
	if err := h.store.UnbanUser(c.Request().Context(), id); err != nil {
		return fmt.Errorf("unban user: %w", err)
	}
	return h.afterAction(c, id, rowBack(c), "Unbanned "+h.emailOf(c, id)+".")
}

// revokeSessions signs the user out everywhere.
func (h *Handler) revokeSessions(c echo.Context) error {
	id := c.Param("id")
	n, err := h.store.RevokeSessions(c.Request().Context(), id)
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	msg := fmt.Sprintf("Signed %s out everywhere; %s ended.", h.emailOf(c, id), sessionsText(n))
	return h.afterAction(c, id, rowBack(c), msg)
}

// toUserPage sends a GET of one of the user page's POST addresses to the
// user page.
func (h *Handler) toUserPage(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/users/"+url.PathEscape(c.Param("id")))
}

// toUsers sends a GET of the bulk form's address to the user table.
func (h *Handler) toUsers(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/users")
}
