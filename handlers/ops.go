package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds the database check of /readyz, so that a hung
// database makes the probe fail rather than hang.
const readyTimeout = time.Second

// healthz says the process is up; it checks nothing else, so that a
// database outage does not get the process restarted.
func (h *Handler) healthz(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz says whether the panel can serve: the database answers.
func (h *Handler) readyz(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if h.draining.Load() {
		return c.String(http.StatusServiceUnavailable, "shutting down\n")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		h.log.WarnContext(ctx, "not ready: database unreachable", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// ctxClient is the echo.Context key of the request's context as it came:
// cancelled when the client goes away, without our deadline.
const ctxClient = "userpanel.client"

// requestDeadline gives each request's context a deadline. The database
// calls made under it give up at the deadline (db.OpenWithTimeouts makes
// that true of a frozen server too), and the error page is a 503. Zero
// leaves requests without one.
func requestDeadline(timeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			c.Set(ctxClient, req.Context())
			if timeout <= 0 {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(req.Context(), timeout)
			defer cancel()
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// exportContext is the context of an export's long read: the request's
// values (its actor), the export timeout instead of the request's deadline,
// and still cancelled when the client goes away.
func (h *Handler) exportContext(c echo.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(c.Request().Context())
	cancel := context.CancelFunc(func() {})
	if h.exportTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, h.exportTimeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	client, ok := c.Get(ctxClient).(context.Context)
	if !ok {
		client = c.Request().Context()
	}
	stop := context.AfterFunc(client, cancel)
	return ctx, func() { stop(); cancel() }
}

// MetricsHandler serves the Prometheus metrics of g. With a token, only a
// request bearing it (Authorization: Bearer TOKEN) is answered, others get
// 401; without one it answers everyone, for a listen address of its own
// (METRICS_ADDR) that only the monitoring network reaches.
func MetricsHandler(g prometheus.Gatherer, token string) http.Handler {
	return RequireBearer(token, promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}

// RequireBearer answers only requests bearing token (Authorization: Bearer
// TOKEN) and gives others 401; with no token it is h itself.
func RequireBearer(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set(echo.HeaderCacheControl, "no-store")
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
