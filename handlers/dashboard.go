package handlers

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// dashboard shows the counts: aggregates only, never a user's details, so
// managers may see it too.
func (h *Handler) dashboard(c echo.Context) error {
	st, err := h.store.Stats(c.Request().Context())
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	canList := currentUser(c).Can(db.ActListUsers)
	vm := views.DashboardPage{
		Chrome:      h.chrome(c, "Dashboard"),
		Total:       st.Total,
		Verified:    st.Verified,
		Unverified:  st.Unverified,
		Banned:      st.Banned,
		Active30:    st.SignedInLast30Days,
		VerifiedPct: percent(st.Verified, st.Total),
		BannedPct:   percent(st.Banned, st.Total),
	}
	for _, r := range st.ByRole {
		rs := views.RoleStat{Role: r.Role, Users: r.Users}
		if canList {
			rs.URL = userListQuery{Role: r.Role, Sort: "created_at", Order: "desc", PerPage: defaultPerPage}.url("/users")
		}
		vm.Roles = append(vm.Roles, rs)
	}
	for _, d := range st.Signups {
		vm.SignupsSum += d.Users
		vm.SignupsMax = max(vm.SignupsMax, d.Users)
	}
	for _, d := range st.Signups {
		height := 0
		if vm.SignupsMax > 0 {
			height = int(d.Users * 100 / vm.SignupsMax)
			if d.Users > 0 && height == 0 {
				height = 1 // a day with signups is never drawn as none
			}
		}
		vm.Signups = append(vm.Signups, views.DayBar{Day: d.Day, Users: d.Users, Height: height})
	}
	return h.render(c, http.StatusOK, views.Dashboard(vm))
}

// percent is part/whole in whole percent, 0 for an empty whole.
func percent(part, whole int64) int {
	if whole <= 0 {
		return 0
	}
	return int((part*100 + whole/2) / whole)
}
