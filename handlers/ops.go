package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
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

// exportRoutes are the routes that stream whole tables, whose deadline is
// the export timeout rather than the request timeout.
var exportRoutes = map[string]bool{"/users/export.csv": true, "/audit/export.csv": true}

// requestDeadline gives each request's context a deadline: the export
// timeout on the export routes, the request timeout on every other. The
// database calls made under it give up at the deadline (db.OpenWithTimeouts
// makes that true of a frozen server too), and the error page is a 503.
// Zero leaves that kind of request without one.
func requestDeadline(pages, exports time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			d := pages
			if exportRoutes[c.Path()] {
				d = exports
			}
			if d <= 0 {
				return next(c)
			}
			req := c.Request()
			ctx, cancel := context.WithTimeout(req.Context(), d)
			defer cancel()
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			// The error handler runs after us and reads the request's
			// context to tell a client that left from a deadline of ours:
			// it gets the request as it came.
			c.SetRequest(c.Request().WithContext(req.Context()))
			return err
		}
	}
}
