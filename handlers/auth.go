package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// addFlash keeps a message for the next page the user sees.
func (h *Handler) addFlash(c echo.Context, kind, message string) {
	sess, err := h.sessions.Get(c.Request(), h.sessionCookie)
	if err != nil || sess.IsNew {
		return
	}
	sess.AddFlash(kind + ":" + message)
	sess.Options.Secure = h.secureCookies(c)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		h.log.WarnContext(c.Request().Context(), "save flash", "err", err)
	}
}

// popFlashes returns the waiting messages and removes them from the session.
func (h *Handler) popFlashes(c echo.Context) []views.Flash {
	sess, err := h.sessions.Get(c.Request(), h.sessionCookie)
	if err != nil || sess.IsNew {
		return nil
	}
	raw := sess.Flashes()
	if len(raw) == 0 {
		return nil
	}
	sess.Options.Secure = h.secureCookies(c)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		h.log.WarnContext(c.Request().Context(), "clear flashes", "err", err)
	}
	flashes := make([]views.Flash, 0, len(raw))
	for _, f := range raw {
		s, _ := f.(string)
		kind, msg, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		flashes = append(flashes, views.Flash{Kind: kind, Message: msg})
	}
	return flashes
}

// safeNext returns raw if it is a path on this site, and "" otherwise, so
// that next= can never send anyone to another site ("//evil.example",
// "/\evil.example", "https://evil.example").
func safeNext(raw string) string {
	if raw == "" || len(raw) > 2000 || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return ""
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return ""
	}
	return raw
}

// homeFor is the page a role starts on.
func homeFor(u *db.User) string {
	if u.Can(db.ActListUsers) {
		return "/users"
	}
	return "/dashboard"
}

// home sends a signed-in user to the page their role starts on.
func (h *Handler) home(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, homeFor(currentUser(c)))
}

// showLogin is the sign-in form; a signed-in user goes straight on.
func (h *Handler) showLogin(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if u := currentUser(c); u != nil {
		return c.Redirect(http.StatusSeeOther, orDefault(next, homeFor(u)))
	}
	return h.render(c, http.StatusOK, views.LoginForm(views.LoginPage{Chrome: h.chrome(c, "Sign in"), Next: next}))
}

// login checks the credentials. Every refusal — unknown email, wrong
// password, banned, not staff — gets the same answer, and db.SignIn
// takes about the same time for each. An account or address that failed too
// often is told how long to wait (429), before any password is checked.
func (h *Handler) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	next := safeNext(c.FormValue("next"))
	u, err := h.store.SignIn(c.Request().Context(), db.Credentials{
		Email: email, Password: c.FormValue("password"), Address: c.RealIP(),
	})
	refuse := func(status int, msg string) error {
		vm := views.LoginPage{Chrome: h.chrome(c, "Sign in"), Email: email, Next: next, Error: msg}
		return h.render(c, status, views.LoginForm(vm))
	}
	var throttled *db.ThrottledError
	switch {
	case errors.Is(err, db.ErrInvalidCredentials):
		return refuse(http.StatusUnauthorized, "Sign-in failed: "+db.ErrInvalidCredentials.Error()+".")
	case errors.As(err, &throttled):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(throttled.RetryAfter.Seconds())+1))
		return refuse(http.StatusTooManyRequests, fmt.Sprintf("Too many attempts, try again in %d minutes.", throttled.Minutes()))
	case errors.Is(err, db.ErrSignInBusy):
		c.Response().Header().Set("Retry-After", "5")
		return refuse(http.StatusServiceUnavailable, "The panel is busy with other sign-ins: try again in a moment.")
	case err != nil:
		return fmt.Errorf("sign in: %w", err)
	}
	if err := h.startSession(c, u); err != nil {
		return err
	}
	if u.MustChangePassword {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	return c.Redirect(http.StatusSeeOther, orDefault(next, homeFor(u)))
}

// logout ends the session. It is a POST with a CSRF token, so another site
// cannot sign a staff member out. The session's row is ended too, so that a
// copy of the cookie no longer works. The cookies are cleared even when the
// database cannot be reached: the browser is signed out in any case, and
// the row runs out at its idle timeout.
func (h *Handler) logout(c echo.Context) error {
	if tok, _ := c.Get(ctxSessionToken).(string); tok != "" {
		ctx, cancel := context.WithTimeout(c.Request().Context(), signOutTimeout)
		err := h.store.SignOutSession(ctx, tok)
		cancel()
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			h.log.WarnContext(c.Request().Context(), "sign out: could not end the session in the database; cookies cleared",
				"err", err)
		}
	}
	h.endSession(c)
	h.expireCookie(c, h.csrfCookie)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// signOutTimeout bounds the database write of a sign-out, so that a hung
// database cannot keep the browser from being signed out.
const signOutTimeout = 3 * time.Second

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
