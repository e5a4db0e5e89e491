package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"userpanel/views"
)

// account is the signed-in staff member's own page: where they are signed
// in, with a way to end each of their other sessions.
func (h *Handler) account(c echo.Context) error {
	sessions, err := h.accountSessions(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.Account(views.AccountPage{Chrome: h.chrome(c, "Your account"), Sessions: sessions}))
}

// accountSessions is the view-model of the staff member's live sessions.
func (h *Handler) accountSessions(c echo.Context) (views.AccountSessionsView, error) {
	u, current := currentUser(c), currentSession(c)
	list, err := h.store.ListPanelSessions(c.Request().Context(), u.ID, h.limits)
	if err != nil {
		return views.AccountSessionsView{}, fmt.Errorf("account sessions: %w", err)
	}
	vm := views.AccountSessionsView{CSRF: csrfToken(c)}
	for _, s := range list {
		vm.Sessions = append(vm.Sessions, views.AccountSession{
			ID: s.ID, ClientAddr: s.ClientAddr, UserAgent: s.UserAgent,
			SignedIn: s.CreatedAt, LastSeen: s.LastSeenAt,
			Current: current != nil && current.ID == s.ID,
		})
	}
	return vm, nil
}

// endAccountSession ends one of the signed-in staff member's own sessions
// (audited). Someone else's session is a 404, like one that does not exist.
// Ending this browser's own session is a sign-out.
func (h *Handler) endAccountSession(c echo.Context) error {
	id := c.Param("id")
	if err := h.store.EndOwnPanelSession(c.Request().Context(), id); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if cur := currentSession(c); cur != nil && cur.ID == id {
		h.endSession(c)
		h.expireCookie(c, h.csrfCookie)
		return redirect(c, "/login")
	}
	h.addFlash(c, "success", "That session has ended: it is signed out.")
	return redirect(c, "/account")
}

// toAccount sends a GET of a session's end address (typed, or kept by a
// browser) to the account page rather than to a 405.
func (h *Handler) toAccount(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/account")
}
