// Package handlers is the web panel: Echo handlers that parse a request,
// check the actor's role, call db.Store and render a templ view.
package handlers

import (
	"io/fs"
	"log/slog"

	"github.com/labstack/echo/v4"

	"userpanel/db"
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
}

// New builds the panel's Echo server over store.
func New(store *db.Store, opts Options) (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner = true
	_ = store
	_ = opts
	return e, nil
}
