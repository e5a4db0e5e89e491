package handlers

// Panel sessions and their cookies, and the CSRF token bound to them.
//
// The session cookie (signed and encrypted by gorilla/sessions) carries a
// random token; the session itself is a row of panel_sessions (package db),
// so idle and absolute limits and sign-outs hold on every instance. The
// CSRF token is derived from the session token, so it changes with every
// sign-in and no token from before a sign-in is accepted after it.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"userpanel/db"
)

// Cookie names. Under SecureCookies they carry the __Host- prefix: the
// browser then accepts them only when Secure, for path / and without a
// Domain, so a neighbouring subdomain cannot plant or overwrite them.
const (
	sessionName    = "userpanel_session"
	csrfCookieName = "_csrf"
	hostPrefix     = "__Host-"
)

// keyToken is the session value that holds the panel session's token.
const keyToken = "tok"

// Context keys set by loadUser.
const (
	// ctxSessionToken is the token the request's session cookie carries,
	// live or not.
	ctxSessionToken = "userpanel.session_token"
	// ctxSessionLive is true when that token names a live session (or, on
	// POST /logout, which reads no database, when there is a token).
	ctxSessionLive = "userpanel.session_live"
	// ctxPanelSession is the live *db.PanelSession.
	ctxPanelSession = "userpanel.panel_session"
)

// deriveKey turns the one configured secret into independent keys, one per
// purpose.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("userpanel " + purpose))
	return m.Sum(nil)
}

// newSessionStore signs (HMAC-SHA256) and encrypts (AES-256) the session
// cookie with keys derived from secret. The cookie's own lifetime is the
// absolute limit; the database enforces both limits whatever the cookie says.
func newSessionStore(secret []byte, secure bool, maxAge int) *sessions.CookieStore {
	s := sessions.NewCookieStore(deriveKey(secret, "session authentication"), deriveKey(secret, "session encryption"))
	s.Options = &sessions.Options{
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	s.MaxAge(maxAge)
	for _, codec := range s.Codecs {
		if sc, ok := codec.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(cookieSerializer{})
		}
	}
	return s
}

// flashesKey is where gorilla/sessions keeps a session's flash messages.
const flashesKey = "_flash"

// cookieSerializer writes the session cookie's values, the panel session's
// token and the flash messages (all strings), as a small JSON object. Gob,
// securecookie's default, builds its type information again for every
// cookie it reads: a fifteenth of the server's CPU on the user table. A
// cookie written by gob before is still read.
type cookieSerializer struct{}

// cookieValues is the cookie's JSON.
type cookieValues struct {
	Token   string   `json:"t,omitempty"`
	Flashes []string `json:"f,omitempty"`
}

func (cookieSerializer) Serialize(src any) ([]byte, error) {
	values, ok := src.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("session cookie: cannot store a %T", src)
	}
	var cv cookieValues
	for k, v := range values {
		switch k {
		case keyToken:
			cv.Token, ok = v.(string)
		case flashesKey:
			var list []any
			list, ok = v.([]any)
			for _, f := range list {
				s, isString := f.(string)
				ok = ok && isString
				cv.Flashes = append(cv.Flashes, s)
			}
		default:
			ok = false
		}
		if !ok {
			return nil, fmt.Errorf("session cookie: cannot store %v (%T)", k, v)
		}
	}
	return json.Marshal(cv)
}

func (cookieSerializer) Deserialize(src []byte, dst any) error {
	values, ok := dst.(*map[any]any)
	if !ok {
		return fmt.Errorf("session cookie: cannot read into a %T", dst)
	}
	var cv cookieValues
	if err := json.Unmarshal(src, &cv); err != nil {
		// Not JSON: a cookie from before, in gob.
		return securecookie.GobEncoder{}.Deserialize(src, dst)
	}
	if *values == nil {
		*values = map[any]any{}
	}
	if cv.Token != "" {
		(*values)[keyToken] = cv.Token
	}
	if len(cv.Flashes) > 0 {
		list := make([]any, len(cv.Flashes))
		for i, f := range cv.Flashes {
			list[i] = f
		}
		(*values)[flashesKey] = list
	}
	return nil
}

// secureCookies reports whether this answer's cookies must be Secure: when
// told so, or when the request itself came over TLS.
func (h *Handler) secureCookies(c echo.Context) bool { return h.secure || c.IsTLS() }

// cookieToken reads the panel session token from the session cookie. A
// cookie we cannot read (tampered, or signed with an old secret) is no
// sign-in; it is removed.
func (h *Handler) cookieToken(c echo.Context) string {
	sess, err := h.sessions.Get(c.Request(), h.sessionCookie)
	if err != nil {
		if _, cerr := c.Cookie(h.sessionCookie); cerr == nil {
			h.endSession(c)
		}
		return ""
	}
	tok, _ := sess.Values[keyToken].(string)
	return tok
}

// startSession signs u in with a brand-new panel session and a new CSRF
// token, so that nothing set before the sign-in carries over.
func (h *Handler) startSession(c echo.Context, u *db.User) error {
	req := c.Request()
	tok, ps, err := h.store.StartPanelSession(req.Context(), u, h.limits, sessionClientAddr(c), req.UserAgent())
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	sess := sessions.NewSession(h.sessions, h.sessionCookie)
	opts := *h.sessions.Options
	opts.Secure = h.secureCookies(c)
	sess.Options = &opts
	sess.IsNew = true
	sess.Values[keyToken] = tok
	if err := h.sessions.Save(req, c.Response(), sess); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	h.expireCookie(c, h.csrfCookie)
	c.Set(ctxSessionToken, tok)
	c.Set(ctxSessionLive, true)
	c.Set(ctxPanelSession, ps)
	c.Set(csrfContextKey, h.csrfFor("session", tok))
	return nil
}

// sessionClientAddr is the address a session is listed under: the
// configured client-address rule (trusted proxies) when there is one, and
// otherwise the connection's peer, never a header any client can send.
func sessionClientAddr(c echo.Context) string {
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	return echo.ExtractIPDirect()(c.Request())
}

// endSession removes the session cookie. The CSRF cookie stays: the page
// being rendered may carry its token in a form (the sign-in form, after a
// session that no longer holds).
func (h *Handler) endSession(c echo.Context) {
	h.expireCookie(c, h.sessionCookie)
}

func (h *Handler) expireCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secureCookies(c), SameSite: http.SameSiteLaxMode})
}

// currentSession returns the signed-in user's live panel session, or nil.
func currentSession(c echo.Context) *db.PanelSession {
	ps, _ := c.Get(ctxPanelSession).(*db.PanelSession)
	return ps
}

// loadUser finds the request's panel session and reloads its user and
// roles from the database, in one query, on every request: a sign-out
// elsewhere, an expired session, a ban or a removed role takes effect on the
// next click. A session that no longer holds is ended.
func (h *Handler) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isOpsPath(c) {
			return next(c)
		}
		tok := h.cookieToken(c)
		if tok == "" {
			return next(c)
		}
		c.Set(ctxSessionToken, tok)
		req := c.Request()
		if req.Method == http.MethodPost && req.URL.Path == "/logout" {
			// Sign-out needs the token only, and must work while the
			// database is down: it reads nothing here.
			c.Set(ctxSessionLive, true)
			return next(c)
		}
		ps, u, err := h.store.LoadPanelSession(req.Context(), tok, h.limits)
		if errors.Is(err, db.ErrNotFound) || errors.Is(err, db.ErrSessionEnded) {
			h.endSession(c)
			return next(c)
		}
		if err != nil {
			return fmt.Errorf("load signed-in user: %w", err)
		}
		if u.Banned || !db.IsStaff(u.Roles) {
			if err := h.store.DropPanelSession(req.Context(), ps.ID); err != nil {
				return fmt.Errorf("end the session of a user who may no longer sign in: %w", err)
			}
			h.endSession(c)
			return next(c)
		}
		c.Set(ctxSessionLive, true)
		c.Set(ctxPanelSession, ps)
		c.Set(ctxUser, u)
		c.SetRequest(req.WithContext(db.WithActor(req.Context(), db.Actor{ID: u.ID, Email: u.Email})))
		return next(c)
	}
}

// csrfFor is the CSRF token of a session token (kind "session") or of the
// anonymous visitor's CSRF cookie (kind "anonymous"): an HMAC with a key of
// its own, so that the token reveals nothing of the cookie.
func (h *Handler) csrfFor(kind, value string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(kind + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// anonymousCSRF returns the anonymous visitor's CSRF cookie value, setting a
// new random one when the request has none.
func (h *Handler) anonymousCSRF(c echo.Context) string {
	if ck, err := c.Cookie(h.csrfCookie); err == nil && ck.Value != "" && len(ck.Value) <= 100 {
		return ck.Value
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	v := base64.RawURLEncoding.EncodeToString(raw)
	c.SetCookie(&http.Cookie{Name: h.csrfCookie, Value: v, Path: "/", MaxAge: int(h.limits.MaxAge.Seconds()),
		HttpOnly: true, Secure: h.secureCookies(c), SameSite: http.SameSiteLaxMode})
	return v
}

// csrf checks every state-changing request's token, in the _csrf form field
// or, for htmx, the X-CSRF-Token header. With a live session only the
// session's token is accepted; a visitor without one (the sign-in form, or
// a session that just ended) uses the token of an anonymous cookie, or of
// the ended session, so that a form left open past the timeout leads to the
// sign-in page rather than an error. A browser's cross-site request is
// refused whatever it carries. A refusal is the designed 403 page.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isOpsPath(c) {
			return next(c)
		}
		tok, _ := c.Get(ctxSessionToken).(string)
		live, _ := c.Get(ctxSessionLive).(bool)
		var accepted []string
		if tok != "" {
			accepted = append(accepted, h.csrfFor("session", tok))
		}
		if !live {
			accepted = append(accepted, h.csrfFor("anonymous", h.anonymousCSRF(c)))
		}
		// Forms carry the token that will hold on the next request.
		c.Set(csrfContextKey, accepted[len(accepted)-1])
		c.Response().Header().Add(echo.HeaderVary, echo.HeaderCookie)

		req := c.Request()
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if req.Header.Get(echo.HeaderSecFetchSite) == "cross-site" {
			return errBadCSRF
		}
		for _, got := range []string{req.Header.Get("X-CSRF-Token"), c.FormValue("_csrf")} {
			if got == "" {
				continue
			}
			for _, want := range accepted {
				if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
					return next(c)
				}
			}
		}
		return errBadCSRF
	}
}

// csrfToken is the token forms carry.
func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfContextKey).(string)
	return t
}
