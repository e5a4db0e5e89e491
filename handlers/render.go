package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// wantsFragment reports whether the request comes from htmx and wants only
// the part it swaps. A history-restore request rebuilds the whole page, so it
// gets the whole page.
func wantsFragment(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-History-Restore-Request") != "true"
}

// render writes page, or fragment when htmx asked for one: the same URL has
// two shapes, so the answer always varies on HX-Request. Pages show the
// signed-in user's data, so no cache keeps them. The component is rendered
// into a buffer first, so that a failure becomes a clean 500 page rather than
// half a page.
func (h *Handler) render(c echo.Context, status int, page templ.Component, fragment ...templ.Component) error {
	comp := page
	if len(fragment) > 0 && fragment[0] != nil && wantsFragment(c) {
		comp = fragment[0]
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	hdr := c.Response().Header()
	hdr.Add(echo.HeaderVary, "HX-Request")
	hdr.Set(echo.HeaderCacheControl, "no-store")
	// With its length known the answer goes out whole, not in chunks.
	hdr.Set(echo.HeaderContentLength, strconv.Itoa(buf.Len()))
	return c.HTMLBlob(status, buf.Bytes())
}

// renderBuffers keeps the buffers pages are rendered into (a page of the
// user table is some 40 KB), so that each request does not grow a new one.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putRenderBuffer returns buf to the pool, unless a rare huge page grew it.
func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 1<<20 {
		return
	}
	buf.Reset()
	renderBuffers.Put(buf)
}

// limits are db's input limits as the views take them.
var limits = views.Limits{PasswordMin: db.MinPasswordLen, PasswordMax: db.MaxPasswordBytes, EmailMax: db.MaxEmailLen,
	NameMax: db.MaxNameLen, SearchMax: db.MaxSearchLen, ReasonMax: db.MaxBanReasonLen}

// chrome is the layout's view-model for this request.
func (h *Handler) chrome(c echo.Context, title string) views.Chrome {
	ch := views.Chrome{Title: title, CSRF: csrfToken(c), Assets: h.assets, Limits: limits}
	u := currentUser(c)
	if u == nil {
		return ch
	}
	ch.User = &views.CurrentUser{ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles}
	ch.Nav = navFor(u, c.Request().URL.Path)
	// A fragment has no place to show a flash, so it leaves it for the next page.
	if !wantsFragment(c) {
		ch.Flashes = h.popFlashes(c)
	}
	return ch
}

// navFor lists the pages the policy lets the user open.
func navFor(u *db.User, path string) []views.NavItem {
	var nav []views.NavItem
	add := func(label, href string) {
		active := path == href || strings.HasPrefix(path, href+"/")
		nav = append(nav, views.NavItem{Label: label, Href: href, Active: active})
	}
	if u.Can(db.ActListUsers) {
		add("Users", "/users")
	}
	if u.Can(db.ActViewDashboard) {
		add("Dashboard", "/dashboard")
	}
	if u.Can(db.ActReadAudit) {
		add("Audit log", "/audit")
	}
	return nav
}

// staticFiles are the files every page links, by their path under /static/.
var staticFiles = struct{ pico, appCSS, htmx, appJS, icon string }{
	pico:   "vendor/pico.min.css",
	appCSS: "app.css",
	htmx:   "vendor/htmx.min.js",
	appJS:  "app.js",
	icon:   "favicon.svg",
}

// assetURLs gives each static file a URL that carries a hash of its
// content, so that it can be cached for a year and still change on deploy.
func assetURLs(fsys fs.FS) views.Assets {
	url := func(name string) string {
		u := "/static/" + name
		if fsys == nil {
			return u
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return u
		}
		sum := sha256.Sum256(b)
		return u + "?v=" + hex.EncodeToString(sum[:6])
	}
	return views.Assets{
		PicoCSS: url(staticFiles.pico),
		AppCSS:  url(staticFiles.appCSS),
		HTMX:    url(staticFiles.htmx),
		AppJS:   url(staticFiles.appJS),
		Icon:    url(staticFiles.icon),
	}
}

// cacheStatic lets browsers keep a versioned static file for a year; an
// unversioned URL is kept for an hour only.
func cacheStatic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cc := "public, max-age=3600"
		if c.QueryParam("v") != "" {
			cc = "public, max-age=31536000, immutable"
		}
		c.Response().Header().Set(echo.HeaderCacheControl, cc)
		return next(c)
	}
}

// redirect answers a plain request with 303 See Other and an htmx request
// with HX-Redirect, which makes htmx load the whole page. (A history-restore
// request ignores HX-Redirect but follows a 303.)
func redirect(c echo.Context, to string) error {
	if wantsFragment(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}
