package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// TestExitStatus: each code of db.Error has an exit status of its own,
// wrapped or not, and an unreachable database is apart from a refusal.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("userpanel: doing it: %w", err) }
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"OK", nil, exitOK},
		{"Help", flag.ErrHelp, exitOK},
		{"Usage", usageErrorf("--email is required"), exitUsage},
		{"Interrupted", wrap(context.Canceled), exitError},
		{"Other", errors.New("disk full"), exitError},
		{"Internal", &db.Error{Code: db.EInternal, Message: "internal error"}, exitError},
		{"ErrNotFound", wrap(db.ErrNotFound), exitNotFound},
		{"NoUser", noUser("nobody@example.com"), exitNotFound},
		{"ErrUserAlreadyExists", wrap(db.ErrUserAlreadyExists), exitConflict},
		{"ErrActorGone", db.ErrActorGone, exitConflict},
		{"ValidationError", wrap(&db.ValidationError{Field: "email", Reason: "is not an email address"}), exitInvalid},
		{"ErrForbidden", wrap(db.ErrForbidden), exitForbidden},
		{"ErrLastAdmin", wrap(db.ErrLastAdmin), exitProtected},
		{"ErrSelf", db.ErrSelf, exitProtected},
		{"Unavailable", wrap(context.DeadlineExceeded), exitUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := exitStatus(c.err); got != c.want {
				t.Errorf("exitStatus(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
	// Every status is distinct, so that a script can tell them apart.
	seen := map[int]string{}
	for name, s := range map[string]int{"ok": exitOK, "error": exitError, "usage": exitUsage, "not found": exitNotFound,
		"conflict": exitConflict, "invalid": exitInvalid, "forbidden": exitForbidden, "protected": exitProtected,
		"unavailable": exitUnavailable} {
		if other, ok := seen[s]; ok {
			t.Errorf("%s and %s share exit status %d", name, other, s)
		}
		seen[s] = name
	}
}

// TestExitStatusProtected: taking the admin role from the only admin who
// can sign in is refused with the protected status, and changes nothing.
// (The other codes are checked where their commands are: not found and
// invalid in TestModerationCommands, conflict in TestCreateUser, unavailable
// in TestMigrateUnreachableDatabase. The command line acts as the operator,
// whom the policy allows everything, so no command answers forbidden.)
func TestExitStatusProtected(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	testdb.AddUser(t, store, "only.admin@cli.test", "Only Admin", db.RoleAdmin)
	before := countAudit(t, store)
	r := run(t, "", map[string]string{"DATABASE_URL": url}, "set-roles", "--email", "only.admin@cli.test", "--none", "--actor", "ops")
	r.expect(t, exitProtected)
	if !strings.Contains(r.stderr, "last active admin") {
		t.Errorf("stderr %q", r.stderr)
	}
	u, err := store.GetUserByEmail(context.Background(), "only.admin@cli.test")
	if err != nil || !u.HasRole(db.RoleAdmin) || countAudit(t, store) != before {
		t.Errorf("after the refusal: %+v, %v, audit rows %d -> %d", u, err, before, countAudit(t, store))
	}
}
