package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// sessionName is the session cookie.
const sessionName = "userpanel_session"

// sessionMaxAge bounds a sign-in to a working day, in seconds. The limit is
// also inside the signed cookie, so an old cookie replayed later is refused.
const sessionMaxAge = 12 * 60 * 60

// Session values.
const (
	keyUserID  = "uid"
	keyVersion = "ver"
)

// deriveKey turns the one configured secret into independent keys, one per
// purpose.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("userpanel " + purpose))
	return m.Sum(nil)
}

// newSessionStore signs (HMAC-SHA256) and encrypts (AES-256) the session
// cookie with keys derived from secret.
func newSessionStore(secret []byte, secure bool) *sessions.CookieStore {
	s := sessions.NewCookieStore(deriveKey(secret, "session authentication"), deriveKey(secret, "session encryption"))
	s.Options = &sessions.Options{
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	s.MaxAge(sessionMaxAge)
	return s
}

// secureCookies reports whether this answer's cookies must be Secure: when
// told so, or when the request itself came over TLS.
func (h *Handler) secureCookies(c echo.Context) bool { return h.secure || c.IsTLS() }

// sessionUser reads the user id and session version from the cookie.
func (h *Handler) sessionUser(c echo.Context) (id string, version int, ok bool) {
	sess, err := h.sessions.Get(c.Request(), sessionName)
	if err != nil {
		// A cookie we cannot read (tampered, expired, or signed with an old
		// secret) is no sign-in; remove it.
		if _, cerr := c.Cookie(sessionName); cerr == nil {
			h.endSession(c)
		}
		return "", 0, false
	}
	id, _ = sess.Values[keyUserID].(string)
	version, _ = sess.Values[keyVersion].(int)
	return id, version, id != ""
}

// startSession signs u in with a brand-new session and a new CSRF token, so
// that nothing set before the sign-in carries over.
func (h *Handler) startSession(c echo.Context, u *db.User) error {
	sess := sessions.NewSession(h.sessions, sessionName)
	opts := *h.sessions.Options
	opts.Secure = h.secureCookies(c)
	sess.Options = &opts
	sess.IsNew = true
	sess.Values[keyUserID] = u.ID
	sess.Values[keyVersion] = u.SessionVersion
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	h.expireCookie(c, csrfCookieName)
	return nil
}

// endSession removes the session cookie. The CSRF cookie stays: the page
// being rendered may carry its token in a form (the sign-in form, after a
// session that no longer holds).
func (h *Handler) endSession(c echo.Context) {
	h.expireCookie(c, sessionName)
}

func (h *Handler) expireCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secureCookies(c), SameSite: http.SameSiteLaxMode})
}

// addFlash keeps a message for the next page the user sees.
func (h *Handler) addFlash(c echo.Context, kind, message string) {
	sess, err := h.sessions.Get(c.Request(), sessionName)
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
	sess, err := h.sessions.Get(c.Request(), sessionName)
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
// cannot sign a staff member out.
func (h *Handler) logout(c echo.Context) error {
	// End the sign-in on the server too, so that a copy of the cookie no
	// longer works; the browser's cookie is then cleared as well.
	if u := currentUser(c); u != nil {
		if err := h.store.SignOut(c.Request().Context(), u.ID); err != nil && !errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("sign out: %w", err)
		}
	}
	h.endSession(c)
	h.expireCookie(c, csrfCookieName)
	return c.Redirect(http.StatusSeeOther, "/login")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
