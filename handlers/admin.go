package handlers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// newUser is the form that creates a user.
func (h *Handler) newUser(c echo.Context) error {
	roles, err := h.roleChoices(c, nil)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.NewUserView(views.NewUserPage{
		Chrome: h.chrome(c, "New user"),
		Form:   views.UserForm{Roles: roles},
	}))
}

// createUser creates the user and opens their page. A refused form is shown
// again, refilled but for the password, with the message by the field.
func (h *Handler) createUser(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed form")
	}
	nu := db.NewUser{
		Email:         form.Get("email"),
		Name:          form.Get("name"),
		Password:      form.Get("password"),
		EmailVerified: form.Get("verified") != "",
		Roles:         form["roles"],
	}
	u, err := h.store.CreateUser(c.Request().Context(), nu)
	if field, msg := formError(err); msg != "" {
		roles, rerr := h.roleChoices(c, nu.Roles)
		if rerr != nil {
			return rerr
		}
		vm := views.NewUserPage{Chrome: h.chrome(c, "New user"), Form: views.UserForm{
			Email: nu.Email, Name: nu.Name, Verified: nu.EmailVerified, Roles: roles,
			Errors: map[string]string{field: msg},
		}}
		// The address bar shows the form's own address, not POST /users.
		vm.Chrome.CanonicalURL = "/users/new"
		return h.render(c, http.StatusUnprocessableEntity, views.NewUserView(vm))
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	h.addFlash(c, "success", "Created "+u.Email+".")
	return c.Redirect(http.StatusSeeOther, "/users/"+u.ID)
}

// updateUser saves the edit form: name, email and verified.
func (h *Handler) updateUser(c echo.Context) error {
	id := c.Param("id")
	edit := views.UserForm{Email: c.FormValue("email"), Name: c.FormValue("name"), Verified: c.FormValue("verified") != ""}
	u, err := h.store.UpdateUser(c.Request().Context(), id, db.UserUpdate{
		Email: &edit.Email, Name: &edit.Name, EmailVerified: &edit.Verified,
	})
	if field, msg := formError(err); msg != "" {
		edit.Errors = map[string]string{field: msg}
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.Edit = edit })
	}
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	h.addFlash(c, "success", "Saved "+u.Email+".")
	return c.Redirect(http.StatusSeeOther, "/users/"+id)
}

// setRoles makes the user's roles exactly the checked ones.
func (h *Handler) setRoles(c echo.Context) error {
	id := c.Param("id")
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "malformed form")
	}
	want := form["roles"]
	err = h.store.SetRoles(c.Request().Context(), id, want)
	if _, msg := formError(err); msg != "" {
		roles, rerr := h.roleChoices(c, want)
		if rerr != nil {
			return rerr
		}
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.Roles = views.RolesForm{Roles: roles, Error: msg} })
	}
	if err != nil {
		return fmt.Errorf("set roles: %w", err)
	}
	h.addFlash(c, "success", rolesMessage(h.emailOf(c, id), want))
	return c.Redirect(http.StatusSeeOther, "/users/"+id)
}

// deleteUser deletes the user once the admin has typed their email, so that
// a stray click or the wrong tab deletes nobody.
func (h *Handler) deleteUser(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	u, err := h.store.LoadUser(ctx, id)
	if err != nil {
		return err
	}
	del := views.DeleteForm{Confirm: c.FormValue("confirm")}
	if !strings.EqualFold(strings.TrimSpace(del.Confirm), u.Email) {
		del.Error = "Type the user's email exactly to confirm the deletion."
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.Delete = del })
	}
	err = h.store.DeleteUser(ctx, id)
	if _, msg := formError(err); msg != "" {
		del.Error = msg
		return h.refuseAdmin(c, func(vm *views.UserPage) { vm.Delete = del })
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	h.addFlash(c, "success", "Deleted "+u.Email+".")
	return c.Redirect(http.StatusSeeOther, "/users")
}

// rolesMessage is the flash after a roles change.
func rolesMessage(email string, roles []string) string {
	if len(roles) == 0 {
		return email + " now holds no role."
	}
	sorted := slices.Sorted(slices.Values(roles))
	return email + " now holds " + strings.Join(slices.Compact(sorted), ", ") + "."
}

// fillAdminForms sets the user page's admin forms to the user as stored.
func (h *Handler) fillAdminForms(c echo.Context, vm *views.UserPage, d *db.UserDetail) error {
	roles, err := h.roleChoices(c, d.Roles)
	if err != nil {
		return err
	}
	vm.Edit = views.UserForm{Email: d.Email, Name: d.Name, Verified: d.EmailVerified}
	vm.Roles = views.RolesForm{Roles: roles}
	return h.fillSignIn(c, vm, d)
}

// refuseAdmin shows the user page again with 422, after fix has put the
// refused form's values and message in place.
func (h *Handler) refuseAdmin(c echo.Context, fix func(*views.UserPage)) error {
	vm, err := h.userPage(c, views.BanForm{Duration: defaultBanDuration})
	if err != nil {
		return err
	}
	fix(&vm)
	// The address bar shows the user page, not the form's POST address.
	vm.Chrome.CanonicalURL = "/users/" + vm.User.ID
	return h.render(c, http.StatusUnprocessableEntity, views.UserView(vm))
}

// roleChoices lists every role as a checkbox, checked when it is in checked.
func (h *Handler) roleChoices(c echo.Context, checked []string) ([]views.RoleChoice, error) {
	roles, err := h.store.ListRoles(c.Request().Context())
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	out := make([]views.RoleChoice, len(roles))
	for i, r := range roles {
		out[i] = views.RoleChoice{Name: r.Name, Description: r.Description}
		for _, name := range checked {
			if name == r.Name {
				out[i].Checked = true
			}
		}
	}
	return out, nil
}
