package handlers

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"userpanel/db"
)

// ctxUser is the echo.Context key of the signed-in *db.User.
const ctxUser = "userpanel.user"

// csrfContextKey is where the CSRF middleware leaves the token for forms.
const csrfContextKey = "csrf"

// currentUser returns the signed-in staff member, or nil.
func currentUser(c echo.Context) *db.User {
	u, _ := c.Get(ctxUser).(*db.User)
	return u
}

// isOpsPath reports whether a request is for a path that needs no session
// and no CSRF cookie: static files, health checks and metrics.
func isOpsPath(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// require lets through a signed-in user whose roles allow one of the
// actions (on someone, at least: the Store checks the target). Anyone else
// is sent to sign in, and a signed-in user without the power gets 403.
func (h *Handler) require(acts ...db.Action) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := currentUser(c)
			if u == nil {
				return redirect(c, loginURL(returnPath(c)))
			}
			for _, a := range acts {
				if u.Can(a) {
					return next(c)
				}
			}
			return errForbidden
		}
	}
}

// requireStaff lets through any signed-in staff member (loadUser signs in
// no one else) and sends anyone else to sign in.
func (h *Handler) requireStaff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c) == nil {
			return redirect(c, loginURL(returnPath(c)))
		}
		return next(c)
	}
}

// returnPath is where to come back to after signing in: the page asked for,
// or for an htmx request the page the browser shows. A POST cannot be
// replayed, so it returns to where the form was, when that is known.
func returnPath(c echo.Context) string {
	req := c.Request()
	if req.Header.Get("HX-Request") == "true" {
		if u, err := url.Parse(req.Header.Get("HX-Current-URL")); err == nil {
			return safeNext(u.RequestURI())
		}
	}
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return safeNext(req.URL.RequestURI())
	}
	if u, err := url.Parse(req.Referer()); err == nil && u.Host == req.Host {
		return safeNext(u.RequestURI())
	}
	return ""
}

// loginURL is the sign-in page that returns to next.
func loginURL(next string) string {
	if next == "" || next == "/" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// requestLogger writes one structured line per request. The query string
// is left out: it holds what staff searched for, often an email.
func (h *Handler) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus:    true,
		LogMethod:    true,
		LogURIPath:   true,
		LogLatency:   true,
		LogRequestID: true,
		HandleError:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			switch {
			case v.Status >= 500:
				level = slog.LevelError
			case isOpsPath(c):
				level = slog.LevelDebug
			}
			if !h.log.Enabled(c.Request().Context(), level) {
				return nil
			}
			attrs := []slog.Attr{
				slog.String("method", v.Method),
				slog.String("path", v.URIPath),
				slog.Int("status", v.Status),
				slog.Duration("duration", v.Latency),
				slog.String("request_id", v.RequestID),
			}
			// The client by the trusted-proxy rule (clientaddr.go).
			attrs = append(attrs, slog.String("client", c.RealIP()))
			if u := currentUser(c); u != nil {
				attrs = append(attrs, slog.String("user_id", u.ID))
			}
			h.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
			return nil
		},
	})
}

// contentSecurityPolicy allows our own files only: htmx runs without eval
// and without injected styles (see views.htmxConfig), and Pico's icons are
// data: URLs.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the usual protective headers on every answer.
func securityHeaders(secure bool) echo.MiddlewareFunc {
	cfg := middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: contentSecurityPolicy,
	}
	if secure {
		cfg.HSTSMaxAge = 180 * 24 * 60 * 60
	}
	return middleware.SecureWithConfig(cfg)
}

// sanitizeRequestID drops an incoming X-Request-ID that is not a short
// token, so that a proxy's id is kept but a client cannot put arbitrary
// text in our logs and error pages.
func sanitizeRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hdr := c.Request().Header
		if id := hdr.Get(echo.HeaderXRequestID); id != "" && !validRequestID(id) {
			hdr.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func validRequestID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
