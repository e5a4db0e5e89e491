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
	// User is nil for an anonymous visitor.
	User *CurrentUser
	Nav  []NavItem
	// CSRF is the token every form carries in _csrf and htmx sends in
	// X-CSRF-Token.
	CSRF    string
	Assets  Assets
	Flashes []Flash
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
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
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
	// CanModerate shows the ban, unban and sign-out forms.
	CanModerate bool
	Ban         BanForm
	// CanAdmin shows the admin forms: edit, roles and delete.
	CanAdmin bool
	Edit     UserForm
	Roles    RolesForm
	Delete   DeleteForm
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
	Error     string
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
	Active30   int64
	// VerifiedPct and BannedPct are shares of Total, in whole percent.
	VerifiedPct int
	BannedPct   int
	Roles       []RoleStat
	Signups     []DayBar
	SignupsSum  int64
	SignupsMax  int64
	// UsersURL links the counts to the table, for those who may see it.
	UsersURL string
}

// RoleStat is how many users hold one role.
type RoleStat struct {
	Role  string
	Users int64
	// URL lists the role's users, for those who may see the table.
	URL string
}

// DayBar is one day of the signups chart.
type DayBar struct {
	Day   time.Time
	Users int64
	// Height is the bar height in chart units (0..100).
	Height int
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
}
