// Package handlers is the web panel: Echo handlers that parse a request,
// check the actor's role, call db.Store and render a templ view.
package handlers

import (
	"errors"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"userpanel/db"
	"userpanel/views"
)

// Options configures the panel.
type Options struct {
	// SessionSecret signs and encrypts the session cookie (at least 32 bytes).
	SessionSecret []byte
	// SecureCookies marks cookies Secure, for a panel served over TLS.
	SecureCookies bool
	// Logger receives the request log; nil means slog.Default().
	Logger *slog.Logger
	// Static holds the files served under /static/ (our CSS, and the
	// vendor/ files the Makefile copies from node_modules).
	Static fs.FS
	// SessionIdleTimeout ends a panel session this long after its last
	// request; zero means db.DefaultSessionIdleTimeout (30 minutes).
	SessionIdleTimeout time.Duration
	// SessionMaxAge ends a panel session this long after its sign-in,
	// whatever happens in between; zero means db.DefaultSessionMaxAge (12
	// hours).
	SessionMaxAge time.Duration
	// MetricsToken, when set, opens GET /metrics on the panel's address to
	// requests bearing it (Authorization: Bearer). Without it /metrics is
	// not served there (404): see MetricsHandler for a separate address.
	MetricsToken string
	// Metrics is the registry the panel's metrics go to; nil makes a private
	// one. Pass one to serve it elsewhere with MetricsHandler.
	Metrics *prometheus.Registry
}

// MinSessionSecretLen is the shortest SessionSecret New accepts.
const MinSessionSecretLen = 32

// Handler holds what every handler needs.
type Handler struct {
	store    *db.Store
	log      *slog.Logger
	sessions *sessions.CookieStore
	// sessionCookie and csrfCookie are the cookies' names, with the
	// __Host- prefix under SecureCookies.
	sessionCookie, csrfCookie string
	// csrfKey derives CSRF tokens from session tokens.
	csrfKey []byte
	limits  db.SessionLimits
	// secure marks cookies Secure even on a plain-HTTP request, for a panel
	// behind a TLS-terminating proxy.
	secure bool
	assets views.Assets
}

// New builds the panel's Echo server over store.
func New(store *db.Store, opts Options) (*echo.Echo, error) {
	if store == nil {
		return nil, errors.New("handlers: no store")
	}
	if len(opts.SessionSecret) < MinSessionSecretLen {
		return nil, errors.New("handlers: SessionSecret must be at least 32 bytes")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	limits := db.SessionLimits{Idle: opts.SessionIdleTimeout, MaxAge: opts.SessionMaxAge}
	if limits.Idle <= 0 {
		limits.Idle = db.DefaultSessionIdleTimeout
	}
	if limits.MaxAge <= 0 {
		limits.MaxAge = db.DefaultSessionMaxAge
	}
	h := &Handler{
		store:         store,
		log:           logger,
		sessions:      newSessionStore(opts.SessionSecret, opts.SecureCookies, int(limits.MaxAge.Seconds())),
		sessionCookie: sessionName,
		csrfCookie:    csrfCookieName,
		csrfKey:       deriveKey(opts.SessionSecret, "csrf"),
		limits:        limits,
		secure:        opts.SecureCookies,
		assets:        assetURLs(opts.Static),
	}
	if opts.SecureCookies {
		h.sessionCookie, h.csrfCookie = hostPrefix+sessionName, hostPrefix+"csrf"
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError

	// A private registry, so that two servers in one process (tests) do not
	// collide on the default one.
	registry := opts.Metrics
	if registry == nil {
		registry = prometheus.NewRegistry()
	}
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := echoprometheus.MiddlewareConfig{
		Namespace:  "userpanel",
		Subsystem:  "http",
		Registerer: registry,
		// Unknown paths and Host headers come from the client: label them
		// with constants so that nobody can grow the series without bound.
		DoNotUseRequestPathFor404: true,
		LabelFuncs: map[string]echoprometheus.LabelValueFunc{
			"host": func(echo.Context, error) string { return "" },
		},
		StatusCodeResolver: func(c echo.Context, err error) int {
			if c.Response().Committed {
				return c.Response().Status
			}
			return statusFor(c, err)
		},
	}.ToMiddleware()
	if err != nil {
		return nil, err
	}

	e.Pre(sanitizeRequestID)
	e.Use(
		middleware.RequestID(),
		metrics,
		h.requestLogger(),
		middleware.Recover(),
		securityHeaders(opts.SecureCookies),
		middleware.BodyLimit("256K"),
		h.loadUser,
		h.csrf,
	)

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	// Metrics on the panel's own address only with a token: without one
	// the route does not exist (see MetricsHandler for METRICS_ADDR).
	if opts.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(MetricsHandler(registry, opts.MetricsToken)))
	}
	if opts.Static != nil {
		e.GET("/static/*", echo.StaticDirectoryHandler(opts.Static, true), cacheStatic)
	}

	e.GET("/login", h.showLogin)
	e.POST("/login", h.login)
	e.POST("/logout", h.logout)

	// Role checks are attached per route rather than with Group.Use: a
	// group's middleware also claims every unknown path under its prefix,
	// which would turn a 404 into a sign-in redirect.
	staff := h.requireRole(db.StaffRoles...)
	moderators := h.requireRole("admin", "support")

	e.GET("/", h.home, staff)
	e.GET("/dashboard", h.dashboard, staff)
	e.GET("/account", h.account, staff)
	e.POST("/account/sessions/:id/end", h.endAccountSession, staff)
	e.GET("/account/sessions/:id/end", h.toAccount, staff)
	e.GET("/users", h.listUsers, moderators)
	e.GET("/users/count", h.countUsers, moderators)
	e.GET("/users/:id", h.showUser, moderators)
	e.POST("/users/:id/ban", h.banUser, moderators)
	e.POST("/users/:id/unban", h.unbanUser, moderators)
	e.POST("/users/:id/revoke-sessions", h.revokeSessions, moderators)
	// Bulk actions: the db refuses per action what the actor's role does not
	// allow (support: ban, unban and sign out only). A static route, so it
	// wins over /users/:id.
	e.POST("/users/bulk", h.bulkUsers, moderators)

	// User management is for admins only (handlers/admin.go).
	admins := h.requireRole("admin")
	e.GET("/users/new", h.newUser, admins)
	e.POST("/users", h.createUser, admins)
	e.POST("/users/:id", h.updateUser, admins)
	e.POST("/users/:id/roles", h.setRoles, admins)
	e.POST("/users/:id/delete", h.deleteUser, admins)

	// The audit log and the CSV export (a static route, so it wins over
	// /users/:id).
	e.GET("/audit", h.listAudit, admins)
	e.GET("/users/export.csv", h.exportUsers, admins)
	e.GET("/audit/export.csv", h.exportAudit, admins)

	// A form's POST address in the address bar (typed, or kept by a browser
	// without JavaScript after a refused form) leads back to the form's page
	// rather than to a 405.
	for _, action := range []string{"ban", "unban", "revoke-sessions", "roles", "delete", "password", "unlock"} {
		e.GET("/users/:id/"+action, h.toUserPage, moderators)
	}
	e.GET("/users/bulk", h.toUsers, moderators)
	return e, nil
}
