package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"userpanel/db"
	"userpanel/views"
)

// The user table's defaults and limits.
const (
	defaultPerPage = 20
	// maxSearchLen is the db's limit: a longer search is cut rather than
	// refused.
	maxSearchLen = db.MaxSearchLen
	// maxPage keeps page*per_page far from overflowing; a page past the end
	// shows the last page anyway.
	maxPage = 1_000_000
)

// perPageChoices are the page sizes the table offers.
var perPageChoices = []int{20, 50, 100}

// userListQuery is the user table's state, exactly as the URL carries it:
// /users?q=&role=&banned=&verified=&sort=&order=&page=&per_page=
type userListQuery struct {
	Q string
	// Role is a role's name, noRole for users who hold none, or "" for any.
	Role string
	// Banned and Verified are "yes", "no" or "" for any.
	Banned   string
	Verified string
	// CreatedFrom and SignedInFrom are UTC days (YYYY-MM-DD): users who
	// signed up, or last signed in, on that day or later.
	CreatedFrom  string
	SignedInFrom string
	// Method is db.MethodPassword or an OAuth provider's name.
	Method  string
	Sort    string
	Order   string
	Page    int
	PerPage int
}

// noRole is the role filter's value for users who hold no role.
const noRole = "none"

// filterKeys are the URL parameters of the table's filter (not its sort or
// page): what "all matching" means, for the bulk form and the export.
var filterKeys = []string{"q", "role", "banned", "verified", "created_from", "signed_in_from", "method"}

// parseUserListQuery reads the table state from query parameters. Nothing
// in it is an error: a malformed or unknown value falls back to its default,
// and an unknown role is ignored. roles are the role names that exist.
func parseUserListQuery(v url.Values, roles []string) userListQuery {
	q := userListQuery{
		Q:        cleanSearch(v.Get("q")),
		Role:     strings.TrimSpace(v.Get("role")),
		Banned:   yesNo(v.Get("banned")),
		Verified: yesNo(v.Get("verified")),
		Sort:     v.Get("sort"),
		Order:    v.Get("order"),
		Page:     1,
		PerPage:  defaultPerPage,

		CreatedFrom:  parseDay(v.Get("created_from")),
		SignedInFrom: parseDay(v.Get("signed_in_from")),
		Method:       cleanMethod(v.Get("method")),
	}
	if !slices.Contains(roles, q.Role) && q.Role != noRole {
		q.Role = ""
	}
	if !db.ValidSort(q.Sort) {
		q.Sort = db.SortCreatedAt
	}
	if q.Order != db.OrderAsc && q.Order != db.OrderDesc {
		q.Order = db.DefaultOrder(q.Sort)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.Get("page"))); err == nil && n > 1 {
		q.Page = min(n, maxPage)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v.Get("per_page"))); err == nil && slices.Contains(perPageChoices, n) {
		q.PerPage = n
	}
	return q
}

// cleanSearch trims the search text and cuts it to what the db accepts, so
// that no search text is ever refused.
func cleanSearch(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxSearchLen {
		s = strings.TrimSpace(string([]rune(s)[:maxSearchLen]))
	}
	return s
}

func yesNo(s string) string {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "yes", "no":
		return s
	}
	return ""
}

func yesNoPtr(s string) *bool {
	switch s {
	case "yes":
		t := true
		return &t
	case "no":
		f := false
		return &f
	}
	return nil
}

// cleanMethod keeps a sign-in method that looks like one (a short word) and
// drops anything else.
func cleanMethod(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return ""
		}
	}
	return s
}

// filter is the query's db.Filter.
func (q userListQuery) filter() db.Filter {
	f := db.Filter{Query: q.Q, Role: q.Role, Banned: yesNoPtr(q.Banned), Verified: yesNoPtr(q.Verified), Method: q.Method}
	if q.Role == noRole {
		f.Role, f.NoRole = "", true
	}
	if t, err := time.Parse(dayLayout, q.CreatedFrom); err == nil {
		f.CreatedFrom = &t
	}
	if t, err := time.Parse(dayLayout, q.SignedInFrom); err == nil {
		f.SignedInFrom = &t
	}
	return f
}

// listParams is the query's db.ListParams.
func (q userListQuery) listParams() db.ListParams {
	return db.ListParams{
		Filter:    q.filter(),
		SortBy:    q.Sort,
		SortOrder: q.Order,
		Limit:     q.PerPage,
		Offset:    (q.Page - 1) * q.PerPage,
	}
}

// filtered reports whether any search or filter is set.
func (q userListQuery) filtered() bool {
	return q.Q != "" || q.Role != "" || q.Banned != "" || q.Verified != "" || q.narrowed()
}

// narrowed reports whether a filter the filter form has no control for is
// set: the dashboard's dates and sign-in methods.
func (q userListQuery) narrowed() bool {
	return q.CreatedFrom != "" || q.SignedInFrom != "" || q.Method != ""
}

// cheapCount reports whether the db answers the total without counting
// rows (trigger-kept totals, and the small partial index of bans). A search
// or a role filter needs a real count, which is fetched separately.
func (q userListQuery) cheapCount() bool { return q.Q == "" && q.Role == "" && !q.narrowed() }

// values encodes the query, leaving out every default, so that one state
// has one URL.
func (q userListQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", q.Q)
	set("role", q.Role)
	set("banned", q.Banned)
	set("verified", q.Verified)
	set("created_from", q.CreatedFrom)
	set("signed_in_from", q.SignedInFrom)
	set("method", q.Method)
	if q.Sort != db.SortCreatedAt {
		v.Set("sort", q.Sort)
	}
	if q.Order != db.DefaultOrder(q.Sort) {
		v.Set("order", q.Order)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage != defaultPerPage {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	return v
}

// url is path with the query's state.
func (q userListQuery) url(path string) string {
	if enc := q.values().Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

func (q userListQuery) withPage(n int) userListQuery { q.Page = n; return q }

// lastPage is the number of the last page of total rows (1 when empty).
func lastPage(total int64, perPage int) int {
	if total <= 0 {
		return 1
	}
	return int(min((total+int64(perPage)-1)/int64(perPage), maxPage))
}

// findUsers loads the page q asks for. A page past the end shows the last
// page instead, and q is corrected to say so. The total is -1 when it would
// cost a real count; it is known for free on a last, short page.
func (h *Handler) findUsers(ctx context.Context, q *userListQuery) (db.ListResult, error) {
	if q.cheapCount() {
		total, err := h.store.CountUsers(ctx, q.filter())
		if err != nil {
			return db.ListResult{}, fmt.Errorf("list users: %w", err)
		}
		q.Page = min(q.Page, lastPage(total, q.PerPage))
		res, err := h.listPage(ctx, *q)
		res.Total = total
		return res, err
	}
	res, err := h.listPage(ctx, *q)
	if err != nil || len(res.Users) > 0 || q.Page == 1 {
		if err == nil && len(res.Users) < q.PerPage {
			res.Total = int64(res.Offset + len(res.Users))
		}
		return res, err
	}
	// Past the end of a search: this rare case pays for one count to find
	// the last page.
	total, err := h.store.CountUsers(ctx, q.filter())
	if err != nil {
		return db.ListResult{}, fmt.Errorf("list users: %w", err)
	}
	q.Page = lastPage(total, q.PerPage)
	res, err = h.listPage(ctx, *q)
	res.Total = total
	return res, err
}

func (h *Handler) listPage(ctx context.Context, q userListQuery) (db.ListResult, error) {
	p := q.listParams()
	p.SkipTotal = true
	res, err := h.store.ListUsers(ctx, p)
	if err != nil {
		return db.ListResult{}, fmt.Errorf("list users: %w", err)
	}
	return res, nil
}

// roleNames lists the roles that exist, for the role filter.
func (h *Handler) roleNames(ctx context.Context) ([]string, error) {
	roles, err := h.store.ListRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Name
	}
	return names, nil
}

// listUsers is the user table: the whole page, or only the table for htmx,
// from the same URL.
func (h *Handler) listUsers(c echo.Context) error {
	ctx := c.Request().Context()
	roles, err := h.roleNames(ctx)
	if err != nil {
		return err
	}
	q := parseUserListQuery(c.QueryParams(), roles)
	res, err := h.findUsers(ctx, &q)
	if err != nil {
		return err
	}
	table := usersTable(q, res)
	if currentUser(c).Can(db.ActExportUsers) {
		table.ExportURL = exportURL(q)
	}
	table.Bulk = h.bulkBar(c, q, res.Total, table.Rows, roles)
	actions := h.rowActions(c, q.url("/users"))
	for i := range table.Rows {
		if a := actions(&res.Users[i]); a != nil {
			table.Rows[i].Actions = a
			table.RowActions = true
		}
	}
	table.BanReasons = banReasons
	if wantsFragment(c) {
		// The address bar shows the canonical URL of what is on screen,
		// including a page moved back from past the end.
		c.Response().Header().Set("HX-Push-Url", pushURL(c, q.url("/users")))
	}
	vm := views.UsersPage{Chrome: h.chrome(c, "Users"), Filters: usersFilters(q, roles), Table: table,
		CanCreate: currentUser(c).Can(db.ActCreateUser)}
	return h.render(c, http.StatusOK, views.UsersList(vm), views.UsersFragment(table))
}

// pushURL is the HX-Push-Url value: the URL, or "false" when the browser
// already shows it, so that retyping a search adds no history entries.
func pushURL(c echo.Context, canonical string) string {
	if cur, err := url.Parse(c.Request().Header.Get("HX-Current-URL")); err == nil && cur.RequestURI() == canonical {
		return "false"
	}
	return canonical
}

// countUsers is the deferred total of a search or role filter: for htmx
// the number and the full pagination; without JavaScript a small page.
func (h *Handler) countUsers(c echo.Context) error {
	ctx := c.Request().Context()
	roles, err := h.roleNames(ctx)
	if err != nil {
		return err
	}
	q := parseUserListQuery(c.QueryParams(), roles)
	total, err := h.store.CountUsers(ctx, q.filter())
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	q.Page = min(q.Page, lastPage(total, q.PerPage))
	vm := views.UsersCount{
		Chrome:  h.chrome(c, "Matching users"),
		Total:   total,
		Pages:   pagination(q, total, false),
		BackURL: q.url("/users"),
	}
	return h.render(c, http.StatusOK, views.UsersCountPage(vm), views.UsersTotal(vm))
}

// userRow is one user as the table shows them.
func userRow(u *db.User) views.UserRow {
	return views.UserRow{
		ID: u.ID, URL: "/users/" + u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles,
		Verified: u.EmailVerified, Banned: u.Banned, BannedUntil: u.BannedUntil,
		CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt,
	}
}

// usersTable builds the table's view-model.
func usersTable(q userListQuery, res db.ListResult) views.UsersTable {
	t := views.UsersTable{
		Rows:     make([]views.UserRow, len(res.Users)),
		Headers:  sortHeaders(q),
		Total:    res.Total,
		CountURL: q.url("/users/count"),
		Pages:    pagination(q, res.Total, len(res.Users) == q.PerPage),
		Filtered: q.filtered(),
	}
	if q.Sort != db.SortCreatedAt {
		t.Sort = q.Sort
	}
	if q.Order != db.DefaultOrder(q.Sort) {
		t.Order = q.Order
	}
	for i := range res.Users {
		t.Rows[i] = userRow(&res.Users[i])
	}
	if len(res.Users) > 0 {
		t.From = res.Offset + 1
		t.To = res.Offset + len(res.Users)
	} else if q.Page > 1 {
		t.FirstPageURL = q.withPage(1).url("/users")
	}
	return t
}

// sortColumns are the sortable columns, by sort key.
var sortColumns = map[string]string{
	db.SortEmail:       "Email",
	db.SortName:        "Name",
	db.SortCreatedAt:   "Created",
	db.SortLastLoginAt: "Last sign-in",
}

// sortHeaders links each sortable column: a click sorts by it in its
// natural order, a click on the sorted column reverses it. A new sort starts
// at page 1.
func sortHeaders(q userListQuery) map[string]views.SortHeader {
	hs := make(map[string]views.SortHeader, len(sortColumns))
	for key, label := range sortColumns {
		next := q.withPage(1)
		h := views.SortHeader{Key: key, Label: label}
		if q.Sort == key {
			h.AriaSort = "ascending"
			next.Order = db.OrderDesc
			if q.Order == db.OrderDesc {
				h.AriaSort = "descending"
				next.Order = db.OrderAsc
			}
		} else {
			next.Sort = key
			next.Order = db.DefaultOrder(key)
		}
		h.URL = next.url("/users")
		hs[key] = h
	}
	return hs
}

// pagination builds previous/next and a window of page numbers around the
// current page. Without a total, the pages up to the current one (and the
// next, when this one is full) are all that is known.
func pagination(q userListQuery, total int64, full bool) views.Pagination {
	var p views.Pagination
	last := q.Page
	hasNext := full
	if total >= 0 {
		last = lastPage(total, q.PerPage)
		hasNext = q.Page < last
	} else if full {
		last = q.Page + 1
	}
	if q.Page > 1 {
		p.PrevURL = q.withPage(q.Page - 1).url("/users")
	}
	if hasNext {
		p.NextURL = q.withPage(q.Page + 1).url("/users")
	}
	const window = 2
	pages := []int{1}
	for n := max(2, q.Page-window); n <= min(last, q.Page+window); n++ {
		pages = append(pages, n)
	}
	if total >= 0 && last > pages[len(pages)-1] {
		pages = append(pages, last)
	}
	for i, n := range pages {
		if i > 0 && n > pages[i-1]+1 {
			p.Items = append(p.Items, views.PageItem{Gap: true})
		}
		p.Items = append(p.Items, views.PageItem{N: n, URL: q.withPage(n).url("/users"), Current: n == q.Page})
	}
	return p
}

// usersFilters is the filter form's view-model.
func usersFilters(q userListQuery, roles []string) views.UsersFilters {
	f := views.UsersFilters{
		Q: q.Q, Role: q.Role, Banned: q.Banned, Verified: q.Verified,
		PerPage:  strconv.Itoa(q.PerPage),
		ClearURL: "/users",
		Active:   q.filtered(),
	}
	if q.Sort != db.SortCreatedAt {
		f.Sort = q.Sort
	}
	if q.Order != db.DefaultOrder(q.Sort) {
		f.Order = q.Order
	}
	for _, r := range roles {
		f.Roles = append(f.Roles, views.Option{Value: r, Label: r})
	}
	f.Roles = append(f.Roles, views.Option{Value: noRole, Label: "no role (plain users)"})
	// The dashboard's filters have no control of their own: they travel as
	// hidden fields, each shown as a chip that removes it.
	for _, x := range []struct{ key, value, label string }{
		{"created_from", q.CreatedFrom, "Signed up since " + q.CreatedFrom},
		{"signed_in_from", q.SignedInFrom, "Signed in since " + q.SignedInFrom},
		{"method", q.Method, "Signs in with " + methodLabel(q.Method)},
	} {
		if x.value == "" {
			continue
		}
		without := q.withPage(1)
		switch x.key {
		case "created_from":
			without.CreatedFrom = ""
		case "signed_in_from":
			without.SignedInFrom = ""
		case "method":
			without.Method = ""
		}
		f.Hidden = append(f.Hidden, views.Hidden{Name: x.key, Value: x.value})
		f.Chips = append(f.Chips, views.FilterChip{Label: x.label, RemoveURL: without.url("/users")})
	}
	for _, n := range perPageChoices {
		s := strconv.Itoa(n)
		f.PerPageOptions = append(f.PerPageOptions, views.Option{Value: s, Label: s})
	}
	return f
}

// methodLabel names a sign-in method for a person.
func methodLabel(m string) string {
	if m == db.MethodPassword {
		return "a password only"
	}
	return m
}
