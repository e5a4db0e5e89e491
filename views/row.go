package views

// The user table's row, written in Go rather than in templ. It is the panel's
// hottest HTML: twenty to a page, most of what a /users request spends
// outside the database. templ writes each value through fmt.Sprint
// (templ.JoinStringErrs), an allocation and a copy per value, some thirty
// per row; here every value goes straight through html.EscapeString, which
// copies nothing when there is nothing to escape (BenchmarkUsersList in
// render_bench_test.go: before → after in docs/BENCHMARKS.md). The HTML is
// the same the template wrote, and TestRowHTML checks its escaping.

import (
	"context"
	"html"
	"io"
	"time"

	"github.com/a-h/templ"
)

// rowWriter writes HTML to w and keeps the first error.
type rowWriter struct {
	w   io.Writer
	err error
	// scratch holds a formatted time.
	scratch [32]byte
}

// raw writes markup of our own.
func (h *rowWriter) raw(s string) {
	if h.err == nil {
		_, h.err = io.WriteString(h.w, s)
	}
}

// text writes a value, escaped for text or a quoted attribute.
func (h *rowWriter) text(s string) { h.raw(html.EscapeString(s)) }

// url writes a URL attribute's value as templ does: sanitized (templ.URL
// refuses a javascript: link), then escaped.
func (h *rowWriter) url(s string) { h.text(string(templ.URL(s))) }

// time writes t in layout, in UTC (the layouts need no escaping).
func (h *rowWriter) time(t time.Time, layout string) {
	if h.err == nil {
		_, h.err = h.w.Write(t.UTC().AppendFormat(h.scratch[:0], layout))
	}
}

// moment is a <time> element, as the templates' when and isoTime write it.
func (h *rowWriter) moment(t time.Time) {
	h.raw(`<time datetime="`)
	h.time(t, time.RFC3339)
	h.raw(`">`)
	h.time(t, timeLayout)
	h.raw(`</time>`)
}

// userRow is one user in the table: its checkbox when selectable, and its
// row actions when the viewer has any.
func userRow(r UserRow, selectable bool) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		h := &rowWriter{w: w}
		h.raw(`<tr data-testid="user-row" id="row-`)
		h.text(r.ID)
		h.raw(`">`)
		if selectable {
			h.raw(`<td class="select"><input type="checkbox" name="ids" value="`)
			h.text(r.ID)
			h.raw(`" form="bulk-form" aria-label="Select `)
			h.text(r.Email)
			h.raw(`" data-testid="row-select"></td>`)
		}
		h.raw(`<td data-testid="user-email" title="`)
		h.text(r.Email)
		h.raw(`"><a href="`)
		h.url(r.URL)
		h.raw(`">`)
		h.text(r.Email)
		h.raw(`</a></td><td data-testid="user-name">`)
		if r.Name != "" {
			h.text(r.Name)
		} else {
			h.raw(`<span class="muted">—</span>`)
		}
		h.raw(`</td><td data-testid="user-roles">`)
		for _, role := range r.Roles {
			h.raw(`<span class="badge role-`)
			h.text(role)
			h.raw(`">`)
			h.text(role)
			h.raw(`</span>`)
		}
		h.raw(`</td><td data-testid="user-verified" data-label="Verified">`)
		if r.Verified {
			h.raw(`<span class="yes">Yes</span>`)
		} else {
			h.raw(`<span class="muted">No</span>`)
		}
		h.raw(`</td><td data-testid="user-banned">`)
		if r.Banned {
			h.raw(`<span class="badge danger">Banned</span> <small class="until">`)
			if r.BannedUntil != nil {
				h.raw(`until `)
				h.moment(*r.BannedUntil)
			} else {
				h.raw(`permanently`)
			}
			h.raw(`</small>`)
		} else {
			h.raw(`<span class="muted">—</span>`)
		}
		h.raw(`</td><td class="nowrap" data-label="Signed up">`)
		h.moment(r.CreatedAt)
		h.raw(`</td><td class="nowrap" data-label="Last sign-in">`)
		if r.LastLoginAt != nil {
			h.moment(*r.LastLoginAt)
		} else {
			h.raw(`<span class="muted">never</span>`)
		}
		h.raw(`</td>`)
		if r.Actions != nil {
			h.rowActions(r)
		}
		h.raw(`</tr>`)
		return h.err
	})
}

// rowActions is the row's moderation: unban or a small ban menu, and sign
// out everywhere; an empty cell for a user the viewer may not act on.
func (h *rowWriter) rowActions(r UserRow) {
	h.raw(`<td class="row-actions nowrap" data-testid="row-actions">`)
	switch {
	case !r.Actions.Allowed:
		h.raw(`<span class="muted" title="Only an admin may act on staff">—</span>`)
	case r.Banned:
		h.rowForm(r, "unban", `<button type="submit" class="outline small" data-testid="row-unban">Unban</button>`)
		h.raw(` `)
	default:
		// The ban menu, folded away until opened. Its form is fetched when
		// it first opens (RowBanForm, from GET /users/{id}/ban), so that a
		// page of the table does not carry a form per row that nobody opens
		// (12 KB of the 60 KB page); without JavaScript the menu holds a
		// link to the user page, whose ban form does the same.
		h.raw(`<details class="row-menu" hx-get="`)
		h.text(r.Actions.BanFormURL)
		h.raw(`" hx-trigger="toggle once" hx-target="find .row-ban-slot" hx-swap="innerHTML">` +
			`<summary class="outline small" data-testid="row-ban-open">Ban…</summary><div class="row-ban-slot"><a href="`)
		h.url("/users/" + r.ID + "/ban")
		h.raw(`" data-testid="row-ban-page">Ban on the user's page</a></div></details> `)
	}
	if r.Actions.Allowed {
		h.rowForm(r, "revoke-sessions", `<button type="submit" class="secondary outline small" data-testid="row-revoke">Sign out</button>`)
	}
	h.raw(`</td>`)
}

// rowForm is one of the row's forms: it posts to /users/{id}/{action}, with
// htmx putting the answer (the row as it is now) in the row's place.
func (h *rowWriter) rowForm(r UserRow, action, button string) {
	to := "/users/" + r.ID + "/" + action
	h.raw(`<form method="post" action="`)
	h.url(to)
	h.raw(`" class="inline" hx-post="`)
	h.text(to)
	h.raw(`" hx-target="#row-`)
	h.text(r.ID)
	h.raw(`" hx-swap="outerHTML">`)
	h.rowHidden(r)
	h.raw(button)
	h.raw(`</form>`)
}

// rowHidden are the fields every row form carries.
func (h *rowWriter) rowHidden(r UserRow) {
	h.raw(`<input type="hidden" name="_csrf" value="`)
	h.text(r.Actions.CSRF)
	h.raw(`"> <input type="hidden" name="back" value="`)
	h.text(r.Actions.Back)
	h.raw(`"> <input type="hidden" name="row" value="1">`)
}

// rowHidden is the row forms' hidden fields for a template (RowBanForm).
func rowHidden(r UserRow) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		h := &rowWriter{w: w}
		h.rowHidden(r)
		return h.err
	})
}
