// Package views holds the panel's templ components. Every component takes a
// view-model defined in this file and built by a handler: views never see a
// database handle, a request or a db type, so that what a page shows is
// decided in one place.
package views

import "time"

// Assets are the URLs of the static files every page links, each carrying a
// content hash so that they can be cached for a long time.
type Assets struct {
	PicoCSS string
	AppCSS  string
	HTMX    string
	AppJS   string
	Icon    string
}

// CurrentUser is the signed-in staff member, as the layout shows them.
type CurrentUser struct {
	ID    string
	Email string
	Name  string
	Roles []string
}

// NavItem is one link of the navigation bar.
type NavItem struct {
	Label  string
	Href   string
	Active bool
}

// Flash is a one-time message shown at the top of the next page, such as
// "user banned".
type Flash struct {
	// Kind is "success" or "error".
	Kind    string
	Message string
}

// Chrome is what the layout needs around every page.
type Chrome struct {
	Title string
	// Limits are the Store's input limits, for the forms' maxlength.
	Limits Limits
	// User is nil for an anonymous visitor.
	User *CurrentUser
	Nav  []NavItem
	// CSRF is the token every form carries in _csrf and htmx sends in
	// X-CSRF-Token.
	CSRF    string
	Assets  Assets
	Flashes []Flash
	// CanonicalURL is the page's own address when it answers a refused
	// form's POST: app.js puts it in the address bar, so that a reload
	// shows the page rather than posting again.
	CanonicalURL string
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Chrome
	Email string
	// Next is the local path to go to after signing in.
	Next  string
	Error string
}

// ErrorPage is the designed 4xx/5xx page.
type ErrorPage struct {
	Chrome
	Status  int
	Heading string
	Message string
	// RequestID is shown on 5xx pages so that a report can be matched to the log.
	RequestID string
}

// UsersPage is the user table with its search and filter form.
type UsersPage struct {
	Chrome
	Filters UsersFilters
	Table   UsersTable
	// CanCreate shows the New user button.
	CanCreate bool
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

// Limits are the input limits the Store enforces (db/limits.go).
type Limits struct {
	PasswordMin, PasswordMax, EmailMax, NameMax, SearchMax, ReasonMax int
}

// UsersFilters is the state of the search and filter form.
type UsersFilters struct {
	Q        string
	Role     string
	Banned   string
	Verified string
	// Sort and Order travel as hidden fields, so that a new search keeps the
	// sort; they are empty when they hold the default.
	Sort           string
	Order          string
	PerPage        string
	Roles          []Option
	PerPageOptions []Option
	// ClearURL is the unfiltered table; Active says whether any filter is set.
	ClearURL string
	Active   bool
	// Hidden carries the filters that have no control (from the dashboard),
	// and Chips shows each with a link that removes it.
	Hidden []Hidden
	Chips  []FilterChip
}

// FilterChip is a filter set from elsewhere, shown with a way to remove it.
type FilterChip struct {
	Label     string
	RemoveURL string
}

// UsersTable is the unit htmx swaps: the rows, the sort headers, the range
// and the pagination.
type UsersTable struct {
	Rows []UserRow
	// Headers holds the sortable columns by sort key.
	Headers map[string]SortHeader
	// From and To are the 1-based positions of the first and last row shown.
	From int
	To   int
	// Total is the number of matches, or -1 while it is being counted
	// separately (a search or a role filter); CountURL fetches it.
	Total    int64
	CountURL string
	Pages    Pagination
	// Sort and Order are sent out of band to the filter form's hidden fields,
	// so that the next search keeps the sort chosen in the table; they are
	// empty when they hold the default.
	Sort  string
	Order string
	// Filtered says whether a search or a filter is set, for the empty state.
	Filtered bool
	// FirstPageURL is set when a page past the end is empty.
	FirstPageURL string
	// ExportURL downloads the filtered, sorted list as CSV; set for admins only.
	ExportURL string
	// Bulk is the bulk action form above the rows.
	Bulk BulkBar
	// RowActions says the table has a column of row actions.
	RowActions bool
	// BanReasons are the ready-made reasons the rows' ban forms offer.
	BanReasons []string
}

// BulkBar is the user table's bulk action form: the rows' checkboxes belong
// to it, and it carries the table's filter for "all matching".
type BulkBar struct {
	CSRF    string
	Actions []Option
	// Roles are offered for granting and removing; empty when the viewer
	// has no role actions.
	Roles []Option
	// Filter holds the table's filter as hidden fields.
	Filter []Hidden
	// PageIDs are the ids of the rows shown, for "select all on this page".
	PageIDs []string
	// Back is the table URL the action returns to.
	Back string
	// Total is how many users match the filter, or -1 while unknown.
	Total int64
}

// Hidden is a hidden form field.
type Hidden struct {
	Name  string
	Value string
}

// BulkPreview is the page between choosing a bulk action and confirming it.
type BulkPreview struct {
	Chrome
	Action string
	// Heading is the preview's sentence: "This will ban 312 users".
	Heading  string
	Matching int
	Affected int
	Missing  int
	// Sample lists the first users to be changed; More is how many others.
	Sample []BulkUserRow
	More   int
	// Skipped lists users left alone with why; SkippedMore is how many more.
	Skipped      []BulkUserRow
	SkippedTotal int
	SkippedMore  int
	// Error is what to fix before confirming.
	Error   string
	BackURL string
	// Hidden repeats the selection in the confirmation form.
	Hidden []Hidden
	// The action's parameters, refilled.
	IsBan     bool
	Reason    string
	Reasons   []string
	MaxReason int
	Duration  string
	Durations []Option
	NeedsRole bool
	Role      string
	Roles     []Option
	// Danger marks an action that is hard to undo (its button is red).
	Danger bool
}

// BulkUserRow is a user a preview names.
type BulkUserRow struct {
	Email string
	Name  string
	URL   string
	// Why is the reason a skipped user is left alone.
	Why string
}

// UserRow is one user in the table.
type UserRow struct {
	ID          string
	URL         string
	Email       string
	Name        string
	Roles       []string
	Verified    bool
	Banned      bool
	BannedUntil *time.Time
	CreatedAt   time.Time
	LastLoginAt *time.Time
	// Actions are the row's ban, unban and sign-out forms; nil when the
	// viewer may not take them on this user.
	Actions *RowActions
}

// RowActions is what the row's moderation forms carry.
type RowActions struct {
	// Allowed is false for a user the viewer may not act on: the cell is
	// empty.
	Allowed bool
	CSRF    string
	// Back is the table URL the forms return to without JavaScript.
	Back string
	// BanFormURL is where the row's ban menu fetches its form when it
	// opens (GET /users/{id}/ban, row=1 and Back).
	BanFormURL string
	// Durations and Reasons are the ban form's choices.
	Durations []Option
	Reasons   []string
	MaxReason int
}

// RowUpdate is the htmx answer of a row action: the row as it is now, and
// the flash message, sent out of band.
type RowUpdate struct {
	Row        UserRow
	Selectable bool
	Flashes    []Flash
}

// SortHeader is a sortable column heading.
type SortHeader struct {
	Key   string
	Label string
	URL   string
	// AriaSort is "ascending", "descending" or "" for an unsorted column.
	AriaSort string
}

// Pagination is the previous/next and numbered page links.
type Pagination struct {
	PrevURL string
	NextURL string
	Items   []PageItem
}

// PageItem is one numbered page link, the current page, or a gap ("…").
type PageItem struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

// UsersCount is the deferred total of a search, with the pagination it
// makes possible.
type UsersCount struct {
	Chrome
	Total int64
	Pages Pagination
	// BackURL is the table the count belongs to.
	BackURL string
}

// UserPage is everything about one user.
type UserPage struct {
	Chrome
	User     UserDetail
	Sessions []SessionRow
	OAuth    []OAuthRow
	Audit    []AuditRow
	// AuditMore says the user has older audit rows than those shown.
	AuditMore bool
	// AuditLogURL opens the full audit log filtered to this user; empty
	// when the viewer may not read the audit log.
	AuditLogURL string
	// CanSeeAudit shows the user's audit history.
	CanSeeAudit bool
	// CanBan, CanUnban and CanRevokeSessions show the moderation forms.
	CanBan, CanUnban, CanRevokeSessions bool
	Ban                                 BanForm
	// CanEdit, CanSetRoles and CanDelete show the admin forms.
	CanEdit, CanSetRoles, CanDelete bool
	Edit                            UserForm
	Roles                           RolesForm
	Delete                          DeleteForm
	// SignIn is the sign-in lock and password forms (admins only).
	SignIn SignInState
	// BackURL returns to the user table.
	BackURL string
}

// UserDetail is the profile part of the user page.
type UserDetail struct {
	ID            string
	Email         string
	Name          string
	Roles         []string
	Verified      bool
	HasPassword   bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   *time.Time
	Banned        bool
	BanReason     string
	BannedAt      *time.Time
	BannedUntil   *time.Time
	BannedByEmail string
	BannedByURL   string
	// BanExpired says a ban is on record but its end has passed.
	BanExpired bool
}

// SessionRow is one of the user's application sessions.
type SessionRow struct {
	UserAgent string
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
	// State is "active", "expired" or "revoked".
	State string
}

// OAuthRow is one linked OAuth identity.
type OAuthRow struct {
	Provider       string
	ProviderUserID string
	Email          string
	CreatedAt      time.Time
}

// AuditRow is one audit log entry about the user.
type AuditRow struct {
	At         time.Time
	ActorEmail string
	Action     string
	// Details is a short readable summary of the change.
	Details string
}

// BanForm is the ban form's state, refilled after a refused submission.
type BanForm struct {
	Reason    string
	Duration  string
	Durations []Option
	// Reasons are ready-made reasons offered beside the free text.
	Reasons []string
	Error   string
}

// NewUserPage is the admin's form that creates a user.
type NewUserPage struct {
	Chrome
	Form UserForm
}

// UserForm is the create and edit form's state, refilled after a refused
// submission. It never holds a password: a refused form asks for it again.
type UserForm struct {
	Email    string
	Name     string
	Verified bool
	// Roles are the create form's role checkboxes.
	Roles []RoleChoice
	// Errors holds the message shown next to each refused field, by field
	// name (email, name, password, roles).
	Errors map[string]string
}

// RoleChoice is one role checkbox.
type RoleChoice struct {
	Name        string
	Description string
	Checked     bool
}

// RolesForm is the user page's role checkboxes.
type RolesForm struct {
	Roles []RoleChoice
	Error string
}

// DeleteForm is the user page's delete form: the admin types the user's
// email to confirm.
type DeleteForm struct {
	Confirm string
	Error   string
}

// DashboardPage is the counts dashboard: aggregates only.
type DashboardPage struct {
	Chrome
	Total      int64
	Verified   int64
	Unverified int64
	Banned     int64
	// VerifiedPct and BannedPct are shares of Total, in whole percent.
	VerifiedPct int
	BannedPct   int
	// TotalURL, VerifiedURL and BannedURL open the users a tile counts;
	// empty for those who may not see the table.
	TotalURL    string
	VerifiedURL string
	BannedURL   string
	// New and Active are the sign-up and sign-in tiles, one per window.
	New    []StatTile
	Active []StatTile
	// Roles counts users per role, plain users last; Methods per way of
	// signing in.
	Roles   []RoleStat
	Methods []RoleStat
	Chart   SignupChart
}

// StatTile is one number of the dashboard.
type StatTile struct {
	// Key names the tile for tests (data-testid "stat-" + Key).
	Key   string
	Label string
	Value int64
	// Note is the comparison or share under the number.
	Note string
	// URL opens the users counted; empty when the viewer may not.
	URL string
}

// SignupChart is the signups chart, laid out in the SVG's units.
type SignupChart struct {
	Range  string
	Ranges []RangeLink
	Title  string
	// Unit is day, week or month: what one bar counts.
	Unit          string
	Width, Height int
	Bars          []ChartBar
	// Ticks are the y-axis values with their heights; XLabels the dates
	// under some bars, with their x positions (in Y).
	Ticks   []ChartTick
	XLabels []ChartTick
	Sum     int64
	Max     int64
}

// RangeLink is one choice of the chart's range selector.
type RangeLink struct {
	Label   string
	URL     string
	Current bool
}

// ChartBar is one period of the chart.
type ChartBar struct {
	Label               string
	Users               int64
	X, Y, Width, Height float64
}

// ChartTick is a labelled position on an axis.
type ChartTick struct {
	Label string
	Y     float64
	// Anchor is the SVG text-anchor of a date label: start, middle or end.
	Anchor string
}

// RoleStat is how many users hold one role.
type RoleStat struct {
	Role string
	// Key names the row for tests when Role is a phrase ("none", "password").
	Key   string
	Users int64
	// URL lists the role's users, for those who may see the table.
	URL string
}

// SignInState is the admin's part of the user page about signing in: a
// lock on the account, and the forms that lift it and set a password.
type SignInState struct {
	// LockedUntil is when the account's sign-in lock ends; nil when it is
	// not locked.
	LockedUntil *time.Time
	// MustChangePassword says the user must choose a new password at their
	// next sign-in.
	MustChangePassword bool
	// Self is the admin's own page: their password is changed on /account.
	Self     bool
	Password PasswordForm
}

// PasswordForm is a form that sets a password: the values to refill (never
// the passwords themselves) and the message of a refusal by its field.
type PasswordForm struct {
	MustChange bool
	Errors     map[string]string
	// MinLen and MaxLen bound the new password, from db.
	MinLen, MaxLen int
}

// AccountPage is the signed-in staff member's own page.
type AccountPage struct {
	Chrome
	Email string
	Name  string
	Roles []string
	// MustChangePassword says an admin asked for a new password: the panel
	// shows nothing else until it is chosen.
	MustChangePassword bool
	PasswordChangedAt  *time.Time
	Password           PasswordForm
	// Changed says the password was just changed.
	Changed bool
	// Sessions are the staff member's panel sign-ins (account.templ).
	Sessions AccountSessionsView
}
