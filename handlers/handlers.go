// Package handlers is the web panel: Echo handlers that parse a request,
// ask the policy (db.Can) whether the actor may, call db.Store and render a
// templ view.
package handlers

import (
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
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
	// RequestTimeout is the deadline of a request's database work,
	// waiting for a pooled connection included; past it the request gets
	// the 503 page. Zero means no deadline.
	RequestTimeout time.Duration
	// ExportTimeout replaces RequestTimeout for the CSV exports, which read
	// whole tables. Zero means no deadline.
	ExportTimeout time.Duration
	// Draining, once true, makes /readyz answer 503 while the server goes
	// on serving: a load balancer stops sending before shutdown.
	Draining *atomic.Bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES); with none, the client is the connection's peer.
	TrustedProxies []netip.Prefix
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
	// draining is Options.Draining, never nil.
	draining *atomic.Bool
	// exportTimeout is Options.ExportTimeout.
	exportTimeout time.Duration
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
		draining:      opts.Draining,

		exportTimeout: opts.ExportTimeout,
	}
	if h.draining == nil {
		h.draining = new(atomic.Bool)
	}
	if opts.SecureCookies {
		h.sessionCookie, h.csrfCookie = hostPrefix+sessionName, hostPrefix+"csrf"
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError
	// c.RealIP() is the client by this rule, for the sign-in throttle, the
	// audit log and the request log alike.
	e.IPExtractor = clientAddrExtractor(opts.TrustedProxies)

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
		requestDeadline(opts.RequestTimeout),
		metrics,
		h.requestLogger(),
		middleware.Recover(),
		securityHeaders(opts.SecureCookies),
		middleware.BodyLimit("256K"),
		h.loadUser,
		requirePasswordChange,
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
	// Who may open each route is the policy's answer (db/policy.go); the
	// Store checks the target of a change again itself.
	e.GET("/", h.home, h.requireStaff)
	e.GET("/dashboard", h.dashboard, h.require(db.ActViewDashboard))
	e.GET("/users", h.listUsers, h.require(db.ActListUsers))
	e.GET("/users/count", h.countUsers, h.require(db.ActListUsers))
	e.GET("/users/:id", h.showUser, h.require(db.ActViewUser))
	e.POST("/users/:id/ban", h.banUser, h.require(db.ActBan))
	e.POST("/users/:id/unban", h.unbanUser, h.require(db.ActUnban))
	e.POST("/users/:id/revoke-sessions", h.revokeSessions, h.require(db.ActRevokeSessions))

	// Bulk actions: the policy gives each bulk action its own power (support:
	// ban, unban and sign out non-staff only), which the db checks per
	// action. A static route, so it wins over /users/:id.
	e.POST("/users/bulk", h.bulkUsers, h.require(db.ActBulkBan, db.ActBulkUnban, db.ActBulkRevoke, db.ActBulkDelete, db.ActBulkRoles))
	// A staff member's own panel sessions (handlers/account.go).
	e.POST("/account/sessions/:id/end", h.endAccountSession, h.requireStaff)
	e.GET("/account/sessions/:id/end", h.toAccount, h.requireStaff)

	e.GET("/users/new", h.newUser, h.require(db.ActCreateUser))
	e.POST("/users", h.createUser, h.require(db.ActCreateUser))
	e.POST("/users/:id", h.updateUser, h.require(db.ActEditUser))
	e.POST("/users/:id/roles", h.setRoles, h.require(db.ActSetRoles))
	e.POST("/users/:id/delete", h.deleteUser, h.require(db.ActDeleteUser))
	e.POST("/users/:id/password", h.setPassword, h.require(db.ActSetPassword))
	e.POST("/users/:id/unlock", h.unlockUser, h.require(db.ActUnlock))

	// Every staff member's own account (handlers/account.go).
	e.GET("/account", h.showAccount, h.requireStaff)
	e.POST("/account/password", h.changePassword, h.requireStaff)

	// The audit log and the CSV exports (static routes, so they win over
	// /users/:id).
	e.GET("/audit", h.listAudit, h.require(db.ActReadAudit))
	e.GET("/users/export.csv", h.exportUsers, h.require(db.ActExportUsers))
	e.GET("/audit/export.csv", h.exportAudit, h.require(db.ActReadAudit))

	// A form's POST address in the address bar (typed, or kept by a browser
	// without JavaScript after a refused form) leads back to the form's page
	// rather than to a 405.
	// GET of the ban address is also how a table row's ban menu fetches
	// its form.
	e.GET("/users/:id/ban", h.rowBanForm, h.require(db.ActViewUser))
	for _, action := range []string{"unban", "revoke-sessions", "roles", "delete", "password", "unlock"} {
		e.GET("/users/:id/"+action, h.toUserPage, h.require(db.ActViewUser))
	}
	e.GET("/users/bulk", h.toUsers, h.require(db.ActListUsers))
	e.GET("/account/password", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/account") }, h.requireStaff)
	return e, nil
}
