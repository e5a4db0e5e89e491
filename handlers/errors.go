package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// errForbidden is a signed-in user asking for what their role does not allow.
var errForbidden = echo.NewHTTPError(http.StatusForbidden, "forbidden")

// errBadCSRF is a state-changing request without the right CSRF token.
var errBadCSRF = echo.NewHTTPError(http.StatusForbidden, "invalid csrf token")

// statusClientClosed is nginx's code for a request the client gave up on; it
// is not an error of ours and is not logged as one.
const statusClientClosed = 499

// statusFor is the status of a failed request: a request whose client went
// away (an htmx search replaced by the next keystroke) is not our error,
// whatever the database driver made of the cancellation.
func statusFor(c echo.Context, err error) int {
	if errors.Is(c.Request().Context().Err(), context.Canceled) {
		return statusClientClosed
	}
	return statusOf(err)
}

// answer is what the browser is told about a failed request: the status,
// and for an error of db's, the page's heading and sentence.
type answer struct {
	status           int
	heading, message string
}

// answerFor is the one mapping from an error to what the browser is told.
// A db.Error carries its own sentence; an echo.HTTPError its status; the
// rest is a 500 whose text the browser never sees. Add a case here for a new
// kind of error (and nowhere else).
func answerFor(err error) answer {
	var he *echo.HTTPError
	switch {
	case err == nil:
		return answer{status: http.StatusOK}
	case errors.As(err, &he):
		return answer{status: he.Code}
	case errors.Is(err, context.Canceled):
		return answer{status: statusClientClosed}
	case db.IsUnavailable(err): // down, frozen or too slow: try again later
		return answer{status: http.StatusServiceUnavailable}
	}
	e := db.ErrorOf(err)
	switch e.Code {
	case db.ENotFound:
		return answer{status: http.StatusNotFound}
	case db.EInvalid:
		return answer{http.StatusBadRequest, "Bad request", e.Sentence()}
	case db.EForbidden:
		return answer{http.StatusForbidden, "Forbidden", e.Sentence()}
	case db.EProtected:
		return answer{http.StatusConflict, "Not allowed", e.Sentence()}
	case db.EConflict:
		return answer{http.StatusConflict, "Conflict", e.Sentence()}
	}
	return answer{status: http.StatusInternalServerError}
}

// statusOf maps an error to the status the browser gets.
func statusOf(err error) int { return answerFor(err).status }

// formError is the field and the sentence of a change refused for a
// reason the person filling the form can fix (a field, a taken email, the
// last admin, their own account), or "" for anything else, which is the
// error page's. field is "" when the error is about no field.
func formError(err error) (field, msg string) {
	if err == nil {
		return "", ""
	}
	e := db.ErrorOf(err)
	switch e.Code {
	case db.EInvalid, db.EConflict, db.EProtected:
		return e.Field, e.Sentence()
	}
	return "", ""
}

// handleError is the one HTTPErrorHandler: it logs 5xx with the error and
// renders the designed error page. The browser never sees err.Error().
func (h *Handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := statusFor(c, err)
	// The error page is rendered even past the request's deadline (the
	// error may be that deadline), and is quick: it reads no database.
	c.SetRequest(c.Request().WithContext(context.WithoutCancel(c.Request().Context())))
	rid := c.Response().Header().Get(echo.HeaderXRequestID)
	if status >= 500 {
		attrs := []any{slog.Any("err", err), slog.Int("status", status), slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path), slog.String("request_id", rid)}
		if u := currentUser(c); u != nil {
			attrs = append(attrs, slog.String("user_id", u.ID))
		}
		h.log.ErrorContext(c.Request().Context(), "request failed", attrs...)
	}
	if status == statusClientClosed {
		// Nobody is listening; say as little as possible.
		_ = c.NoContent(status)
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if status == http.StatusForbidden && wantsFragment(c) {
		// htmx does not swap an error answer; reloading shows the 403 page
		// (a role removed since the page was loaded).
		c.Response().Header().Set("HX-Refresh", "true")
	}
	heading, message := describe(status, err)
	if a := answerFor(err); a.status == status && a.message != "" {
		heading, message = a.heading, a.message
	}
	page := views.ErrorPage{Chrome: h.chrome(c, heading), Status: status, Heading: heading, Message: message}
	if status >= 500 {
		page.RequestID = rid
	}
	if rerr := h.render(c, status, views.Error(page)); rerr != nil {
		h.log.ErrorContext(c.Request().Context(), "render error page", slog.Any("err", rerr), slog.String("request_id", rid))
		_ = c.String(http.StatusInternalServerError, fmt.Sprintf("internal error (request id %s)", rid))
	}
}

// describe is the heading and the sentence of an error page for a status,
// when the error carries no sentence of its own (see answerFor).
func describe(status int, err error) (heading, message string) {
	switch status {
	case http.StatusBadRequest:
		return "Bad request", "The panel could not understand this request. Check the address and try again."
	case http.StatusForbidden:
		if isCSRFError(err) {
			return "Form expired", "This form could not be verified: it may have expired, or it did not come from this panel. Go back, reload the page and try again."
		}
		return "Forbidden", "Your role does not give you access to this page."
	case http.StatusNotFound:
		return "Page not found", "There is nothing at this address. The user may have been deleted, or the link may be mistyped."
	case http.StatusMethodNotAllowed:
		return "Method not allowed", "This address does not accept this kind of request."
	case http.StatusConflict:
		return "Conflict", "This change conflicts with the current state. Reload the page and try again."
	case http.StatusRequestEntityTooLarge:
		return "Too large", "The request is larger than the panel accepts."
	case http.StatusTooManyRequests:
		return "Too many requests", "Slow down and try again in a moment."
	case http.StatusServiceUnavailable:
		return "Unavailable", "The panel cannot reach its database right now. Try again in a moment."
	}
	if status >= 500 {
		return "Something went wrong", "The panel could not complete this request. The problem has been logged."
	}
	return http.StatusText(status), "The panel could not complete this request."
}

// isCSRFError reports whether err is the CSRF middleware refusing a request,
// by token or by its Sec-Fetch-Site check.
func isCSRFError(err error) bool {
	if errors.Is(err, errBadCSRF) {
		return true
	}
	var he *echo.HTTPError
	return errors.As(err, &he) && strings.Contains(strings.ToLower(fmt.Sprint(he.Message)), "csrf")
}
