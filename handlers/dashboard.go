package handlers

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// dashboard shows the counts: aggregates only, never a user's details, so
// managers may see it too. For admins and support each tile links to the
// user table filtered to exactly the users it counts.
func (h *Handler) dashboard(c echo.Context) error {
	ctx := c.Request().Context()
	rng := db.SignupRange(c.QueryParam("range"))
	if !slices.Contains(db.SignupRanges, rng) {
		rng = db.Range30Days
	}
	st, series, err := h.store.Dashboard(ctx, rng)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	canList := currentUser(c).Can(db.ActListUsers)
	link := func(q userListQuery) string {
		if !canList {
			return ""
		}
		q.Sort, q.Order, q.PerPage = db.SortCreatedAt, db.OrderDesc, defaultPerPage
		return q.url("/users")
	}
	day := func(days int) string { return db.WindowStart(st.Today, days).Format(dayLayout) }

	vm := views.DashboardPage{
		Chrome:      h.chrome(c, "Dashboard"),
		Total:       st.Total,
		Verified:    st.Verified,
		Unverified:  st.Unverified,
		Banned:      st.Banned,
		VerifiedPct: percent(st.Verified, st.Total),
		BannedPct:   percent(st.Banned, st.Total),
		TotalURL:    link(userListQuery{}),
		VerifiedURL: link(userListQuery{Verified: "yes"}),
		BannedURL:   link(userListQuery{Banned: "yes"}),
		Chart:       signupChart(rng, series),
	}
	for _, days := range db.Windows {
		vm.New = append(vm.New, views.StatTile{
			Key: "new-" + strconv.Itoa(days), Label: "New " + windowName(days), Value: st.New[days],
			Note: change(st.New[days], st.NewBefore[days], days), URL: link(userListQuery{CreatedFrom: day(days)}),
		})
		vm.Active = append(vm.Active, views.StatTile{
			Key: "active-" + strconv.Itoa(days), Label: signedInName(days), Value: st.SignedIn[days],
			Note: strconv.Itoa(percent(st.SignedIn[days], st.Total)) + "% of all users",
			URL:  link(userListQuery{SignedInFrom: day(days)}),
		})
	}
	for _, r := range st.ByRole {
		vm.Roles = append(vm.Roles, views.RoleStat{Role: r.Role, Users: r.Users, URL: link(userListQuery{Role: r.Role})})
	}
	vm.Roles = append(vm.Roles, views.RoleStat{Role: "no role (plain users)", Key: noRole, Users: st.NoRole,
		URL: link(userListQuery{Role: noRole})})
	for _, m := range st.ByMethod {
		label := m.Method
		if m.Method == db.MethodPassword {
			label = "password only"
		}
		vm.Methods = append(vm.Methods, views.RoleStat{Role: label, Key: m.Method, Users: m.Users,
			URL: link(userListQuery{Method: m.Method})})
	}
	return h.render(c, http.StatusOK, views.Dashboard(vm))
}

// windowName is a window of days as a tile names it.
func windowName(days int) string {
	if days == 1 {
		return "today"
	}
	return "in the last " + strconv.Itoa(days) + " days"
}

// signedInName is a sign-in window as a tile names it.
func signedInName(days int) string {
	if days == 1 {
		return "Signed in today"
	}
	return "Signed in within " + strconv.Itoa(days) + " days"
}

// change compares a window's count with the window before it: "+12% vs
// the previous 7 days".
func change(now, before int64, days int) string {
	than := "vs yesterday"
	if days > 1 {
		than = "vs the previous " + strconv.Itoa(days) + " days"
	}
	switch {
	case before == 0 && now == 0:
		return "none " + than[3:] + " either"
	case before == 0:
		return "none " + than[3:]
	}
	pct := math.Round(float64(now-before) * 100 / float64(before))
	sign := "+"
	if pct < 0 {
		sign = "−"
		pct = -pct
	}
	if pct == 0 {
		return "the same as " + than[3:]
	}
	return fmt.Sprintf("%s%.0f%% %s (%s)", sign, pct, than, views.Thousands(before))
}

// percent is part/whole in whole percent, 0 for an empty whole.
func percent(part, whole int64) int {
	if whole <= 0 {
		return 0
	}
	return int((part*100 + whole/2) / whole)
}

// The chart's drawing area, in the SVG's own units.
const (
	chartLeft   = 48.0
	chartTop    = 8.0
	chartWidth  = 592.0
	chartHeight = 160.0
)

// signupChart lays out the signups chart: bars, a y-axis with round values
// and gridlines, labels under the first, middle and last bar, and the range
// selector.
func signupChart(rng db.SignupRange, series []db.PeriodCount) views.SignupChart {
	ch := views.SignupChart{Range: string(rng), Width: int(chartLeft + chartWidth), Height: int(chartTop + chartHeight + 22)}
	labels := map[db.SignupRange]string{db.Range30Days: "30 days", db.Range90Days: "90 days", db.RangeYear: "A year, by week",
		db.RangeAll: "All time, by month"}
	for _, r := range db.SignupRanges {
		ch.Ranges = append(ch.Ranges, views.RangeLink{Label: labels[r], URL: "/dashboard?range=" + string(r), Current: r == rng})
	}
	ch.Unit, ch.Title = "day", "Signups per day, last "+labels[rng]
	switch rng {
	case db.RangeYear:
		ch.Unit, ch.Title = "week", "Signups per week, the last 52 weeks"
	case db.RangeAll:
		ch.Unit, ch.Title = "month", "Signups per month, all time"
	}
	var peak int64
	for _, p := range series {
		ch.Sum += p.Users
		peak = max(peak, p.Users)
	}
	ch.Max = peak
	top := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		v := top * int64(i) / 4
		y := chartTop + chartHeight - float64(v)/float64(top)*chartHeight
		ch.Ticks = append(ch.Ticks, views.ChartTick{Label: views.Thousands(v), Y: y})
	}
	n := len(series)
	step := chartWidth / float64(max(n, 1))
	for i, p := range series {
		h := float64(p.Users) / float64(top) * chartHeight
		if p.Users > 0 && h < 1 {
			h = 1 // a period with signups is never drawn as none
		}
		label := p.Start.Format(dayLayout)
		if rng == db.RangeAll {
			label = p.Start.Format("2006-01")
		}
		bar := views.ChartBar{Label: label, Users: p.Users, X: chartLeft + float64(i)*step + step*0.1,
			Width: step * 0.8, Y: chartTop + chartHeight - h, Height: h}
		ch.Bars = append(ch.Bars, bar)
		switch i {
		case 0:
			ch.XLabels = append(ch.XLabels, views.ChartTick{Label: label, Y: chartLeft + float64(i)*step, Anchor: "start"})
		case n - 1:
			ch.XLabels = append(ch.XLabels, views.ChartTick{Label: label, Y: chartLeft + float64(i+1)*step, Anchor: "end"})
		case n / 2:
			ch.XLabels = append(ch.XLabels, views.ChartTick{Label: label, Y: chartLeft + float64(i)*step + step/2, Anchor: "middle"})
		}
	}
	return ch
}

// niceCeil is the top of the y-axis for a peak of v: four gridline steps of
// 1, 2 or 5 times a power of ten, so that the axis reads in round numbers.
func niceCeil(v int64) int64 {
	want := (max(v, 1) + 3) / 4 // the smallest step that reaches v
	for pow := int64(1); ; pow *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*pow >= want {
				return 4 * m * pow
			}
		}
	}
}
