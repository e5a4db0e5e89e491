package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// passwordForm is an empty password form, with the limits db enforces.
func passwordForm() views.PasswordForm {
	return views.PasswordForm{MinLen: db.MinPasswordLen, MaxLen: db.MaxPasswordBytes}
}

// showAccount is the signed-in staff member's own page.
func (h *Handler) showAccount(c echo.Context) error {
	vm, err := h.accountPage(c, passwordForm())
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.AccountView(vm))
}

// accountPage is the account page's view-model: the password form f and the
// staff member's panel sessions.
func (h *Handler) accountPage(c echo.Context, f views.PasswordForm) (views.AccountPage, error) {
	u := currentUser(c)
	sessions, err := h.accountSessions(c)
	if err != nil {
		return views.AccountPage{}, err
	}
	return views.AccountPage{
		Sessions: sessions,
		Chrome:   h.chrome(c, "Your account"),
		Email:    u.Email, Name: u.Name, Roles: u.Roles,
		MustChangePassword: u.MustChangePassword,
		PasswordChangedAt:  u.PasswordChangedAt,
		Password:           f,
		Changed:            c.QueryParam("changed") != "" && !u.MustChangePassword,
	}, nil
}

// changePassword sets the staff member's own password: the current one is
// required, the new one is typed twice and follows CreateUser's rules. Their
// other panel sign-ins end; this one goes on with a fresh session.
func (h *Handler) changePassword(c echo.Context) error {
	f := passwordForm()
	current, password := c.FormValue("current_password"), c.FormValue("password")
	if password != c.FormValue("confirm") {
		f.Errors = map[string]string{"confirm": "The two new passwords differ."}
		return h.refuseAccount(c, f)
	}
	u, err := h.store.ChangeOwnPassword(c.Request().Context(), current, password)
	var ve *db.ValidationError
	switch {
	case errors.As(err, &ve):
		f.Errors = map[string]string{ve.Field: passwordRefusal(ve)}
		return h.refuseAccount(c, f)
	case errors.Is(err, db.ErrSignInBusy):
		return echo.NewHTTPError(http.StatusServiceUnavailable, "busy")
	case err != nil:
		return fmt.Errorf("change password: %w", err)
	}
	// The session_version the other sign-ins held is gone; this one carries
	// on under the new one.
	if err := h.startSession(c, u); err != nil {
		return err
	}
	// The flash would go in the old session's cookie, so the page says it.
	return c.Redirect(http.StatusSeeOther, "/account?changed=1")
}

// refuseAccount shows the account page again with the password form's error.
func (h *Handler) refuseAccount(c echo.Context, f views.PasswordForm) error {
	vm, err := h.accountPage(c, f)
	if err != nil {
		return err
	}
	vm.CanonicalURL = "/account"
	return h.render(c, http.StatusUnprocessableEntity, views.AccountView(vm))
}

// passwordRefusal is the sentence by a refused password field.
func passwordRefusal(ve *db.ValidationError) string {
	field := map[string]string{"password": "The new password", "current_password": "The current password"}[ve.Field]
	if field == "" {
		field = strings.ToUpper(ve.Field[:1]) + ve.Field[1:]
	}
	return field + " " + ve.Reason + "."
}

// requirePasswordChange keeps a staff member whom an admin asked for a new
// password on /account until they have chosen one; signing out still works.
func requirePasswordChange(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := currentUser(c)
		if u == nil || !u.MustChangePassword || isOpsPath(c) {
			return next(c)
		}
		switch c.Request().URL.Path {
		case "/account", "/account/password", "/logout":
			return next(c)
		}
		return redirect(c, "/account")
	}
}

// setPassword is the admin's password form on a user's page: a new password
// (their panel sign-ins end), and or "must choose a new one at the next
// sign-in".
func (h *Handler) setPassword(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	password := c.FormValue("password")
	mustChange := c.FormValue("must_change") != ""
	f := passwordForm()
	f.MustChange = mustChange
	var err error
	switch {
	case password != "":
		err = h.store.SetPassword(ctx, id, password, mustChange)
	case mustChange:
		err = h.store.RequirePasswordChange(ctx, id)
	default:
		f.Errors = map[string]string{"password": "Type a new password, or tick \u201cmust choose a new password\u201d."}
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.SignIn.Password = f })
	}
	var ve *db.ValidationError
	switch {
	case errors.As(err, &ve):
		f.Errors = map[string]string{"password": passwordRefusal(ve)}
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.SignIn.Password = f })
	case errors.Is(err, db.ErrSelf):
		f.Errors = map[string]string{"password": "Change your own password on your account page."}
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.SignIn.Password = f })
	case err != nil:
		return fmt.Errorf("set password: %w", err)
	}
	if password != "" {
		h.addFlash(c, "success", "Password set. Their panel sign-ins have ended.")
	} else {
		h.addFlash(c, "success", "They must choose a new password at their next sign-in.")
	}
	return c.Redirect(http.StatusSeeOther, "/users/"+id)
}

// unlockUser lifts the sign-in lock of a user's account.
func (h *Handler) unlockUser(c echo.Context) error {
	id := c.Param("id")
	if err := h.store.UnlockUser(c.Request().Context(), id); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	h.addFlash(c, "success", "Sign-in unlocked")
	return c.Redirect(http.StatusSeeOther, "/users/"+id)
}

// fillSignIn sets the user page's sign-in lock and password form.
func (h *Handler) fillSignIn(c echo.Context, vm *views.UserPage, d *db.UserDetail) error {
	lock, err := h.store.AccountLock(c.Request().Context(), d.Email)
	if err != nil {
		return err
	}
	vm.SignIn = views.SignInState{MustChangePassword: d.MustChangePassword, Password: passwordForm(),
		Self: currentUser(c).ID == d.ID}
	if lock != nil {
		vm.SignIn.LockedUntil = &lock.Until
	}
	return nil
}

// accountSessions is the view-model of the staff member's live sessions.
func (h *Handler) accountSessions(c echo.Context) (views.AccountSessionsView, error) {
	u, current := currentUser(c), currentSession(c)
	list, err := h.store.ListPanelSessions(c.Request().Context(), u.ID, h.limits)
	if err != nil {
		return views.AccountSessionsView{}, fmt.Errorf("account sessions: %w", err)
	}
	vm := views.AccountSessionsView{CSRF: csrfToken(c)}
	for _, s := range list {
		vm.Sessions = append(vm.Sessions, views.AccountSession{
			ID: s.ID, ClientAddr: s.ClientAddr, UserAgent: s.UserAgent,
			SignedIn: s.CreatedAt, LastSeen: s.LastSeenAt,
			Current: current != nil && current.ID == s.ID,
		})
	}
	return vm, nil
}

// endAccountSession ends one of the signed-in staff member's own sessions
// (audited). Someone else's session is a 404, like one that does not exist.
// Ending this browser's own session is a sign-out.
func (h *Handler) endAccountSession(c echo.Context) error {
	id := c.Param("id")
	if err := h.store.EndOwnPanelSession(c.Request().Context(), id); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if cur := currentSession(c); cur != nil && cur.ID == id {
		h.endSession(c)
		h.expireCookie(c, h.csrfCookie)
		return redirect(c, "/login")
	}
	h.addFlash(c, "success", "That session has ended: it is signed out.")
	return redirect(c, "/account")
}

// toAccount sends a GET of a session's end address (typed, or kept by a
// browser) to the account page rather than to a 405.
func (h *Handler) toAccount(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/account")
}
