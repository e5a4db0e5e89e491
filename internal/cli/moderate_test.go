package cli

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// TestModerationCommands: a script bans, unbans, signs out, re-roles and
// deletes a user by email, each time naming its actor, who is in the audit
// log; mistakes are exit status 2 or 1 with a clear line, changing nothing.
func TestModerationCommands(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	sys := db.WithActor(context.Background(), db.SystemActor("test"))
	if _, err := store.DB().Exec(`INSERT INTO users (email, name) VALUES ('target@cli.test', 'Target'), ('keep@cli.test', 'Keep')`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url}
	user := func() *db.User {
		u, err := store.GetUserByEmail(sys, "target@cli.test")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	r := run(t, "", env, "ban", "--email", "TARGET@cli.test", "--reason", "chargeback", "--duration", "7d", "--actor", "ops-bot")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "banned target@cli.test until ") {
		t.Errorf("stdout %q", r.stdout)
	}
	u := user()
	if !u.Banned || u.BanReason != "chargeback" || u.BannedUntil == nil || u.BannedUntil.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("after ban: %+v", u)
	}
	var actor string
	if err := store.DB().Get(&actor, `SELECT actor_email FROM audit_log WHERE action = $1`, db.ActionBan); err != nil || actor != "system:cli:ops-bot" {
		t.Errorf("ban audited as %q (%v)", actor, err)
	}

	run(t, "", env, "unban", "--email", "target@cli.test", "--actor", "ops-bot").expect(t, exitOK)
	if user().Banned {
		t.Error("still banned after unban")
	}
	r = run(t, "", env, "revoke-sessions", "--email", "target@cli.test", "--actor", "ops-bot")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "signed target@cli.test out everywhere") {
		t.Errorf("stdout %q", r.stdout)
	}
	run(t, "", env, "set-roles", "--email", "target@cli.test", "--role", "support", "--role", "manager", "--actor", "ops-bot").expect(t, exitOK)
	if got := strings.Join(user().Roles, ","); got != "manager,support" {
		t.Errorf("roles %q", got)
	}
	run(t, "", env, "set-roles", "--email", "target@cli.test", "--none", "--actor", "ops-bot").expect(t, exitOK)
	if len(user().Roles) != 0 {
		t.Error("--none kept roles")
	}

	// Mistakes.
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"ban", "--email", "target@cli.test", "--reason", "x"}, exitUsage, "--actor is required"},
		{[]string{"ban", "--email", "target@cli.test", "--actor", "a"}, exitInvalid, "reason"},
		{[]string{"ban", "--email", "target@cli.test", "--reason", "x", "--duration", "soon", "--actor", "a"}, exitUsage, "--duration"},
		{[]string{"ban", "--email", "nobody@cli.test", "--reason", "x", "--actor", "a"}, exitNotFound, "no user has the email nobody@cli.test"},
		{[]string{"set-roles", "--email", "target@cli.test", "--actor", "a"}, exitUsage, "--role"},
		{[]string{"set-roles", "--email", "target@cli.test", "--role", "owner", "--actor", "a"}, exitInvalid, "owner"},
		{[]string{"delete", "--actor", "a"}, exitUsage, "--email is required"},
	} {
		before := countAudit(t, store)
		r := run(t, "", env, c.args...)
		r.expect(t, c.code)
		if !strings.Contains(r.stderr, c.says) {
			t.Errorf("%v: stderr %q, want it to say %q", c.args, r.stderr, c.says)
		}
		if countAudit(t, store) != before {
			t.Errorf("%v changed something", c.args)
		}
	}

	run(t, "", env, "delete", "--email", "target@cli.test", "--actor", "ops-bot").expect(t, exitOK)
	if _, err := store.GetUserByEmail(sys, "target@cli.test"); err != db.ErrNotFound {
		t.Errorf("after delete: %v", err)
	}
}

func countAudit(t *testing.T, store *db.Store) int {
	t.Helper()
	var n int
	if err := store.DB().Get(&n, `SELECT count(*) FROM audit_log`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBulkCommand: without --yes a preview that changes nothing; with it one
// transaction over the filter's users, the skipped ones named.
func TestBulkCommand(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	if _, err := store.DB().Exec(`INSERT INTO users (email, name)
		SELECT 'spam' || g || '@wave.test', 'Spam' FROM generate_series(1, 30) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DB().Exec(`UPDATE users SET banned = true, ban_reason = 'x' WHERE email = 'spam1@wave.test'`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url, "USERPANEL_ACTOR": "cleanup-script"}
	banned := func() int {
		var n int
		if err := store.DB().Get(&n, `SELECT count(*) FROM users WHERE banned`); err != nil {
			t.Fatal(err)
		}
		return n
	}

	r := run(t, "", env, "bulk", "--action", "ban", "--q", "@wave.test", "--reason", "spam wave", "--duration", "30d")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "preview (nothing changed; add --yes to act): ban would change 29 of 30 selected users, 1 skipped") ||
		!strings.Contains(r.stdout, "skipped: spam1@wave.test (already banned)") {
		t.Errorf("preview:\n%s", r.stdout)
	}
	if banned() != 1 {
		t.Fatal("the preview banned users")
	}
	r = run(t, "", env, "bulk", "--action", "ban", "--q", "@wave.test", "--reason", "spam wave", "--duration", "30d", "--yes")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "ban: 29 of 30 selected users changed, 1 skipped") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if banned() != 30 {
		t.Errorf("%d banned, want 30", banned())
	}
	var actor string
	if err := store.DB().Get(&actor, `SELECT actor_email FROM audit_log WHERE action = $1`, db.ActionBulk); err != nil || actor != "system:cli:cleanup-script" {
		t.Errorf("bulk audited as %q (%v)", actor, err)
	}

	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"bulk", "--action", "unban"}, exitUsage, "select users"},
		{[]string{"bulk", "--action", "unban", "--all", "--ids", "x"}, exitUsage, "not both"},
		{[]string{"bulk", "--action", "unban", "--banned", "maybe"}, exitUsage, "--banned"},
		{[]string{"bulk", "--action", "explode", "--all", "--yes"}, exitInvalid, "action"},
		{[]string{"bulk", "--action", "ban", "--all", "--yes"}, exitInvalid, "reason"},
	} {
		r := run(t, "", env, c.args...)
		r.expect(t, c.code)
		if !strings.Contains(r.stderr, c.says) {
			t.Errorf("%v: stderr %q, want %q", c.args, r.stderr, c.says)
		}
	}
	if banned() != 30 {
		t.Error("a refused bulk command changed something")
	}
}

// TestExportCommand: the CSV on standard output holds exactly the users the
// filter names, in the table's order, formula-safe, and the export is in the
// audit log with its actor.
func TestExportCommand(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	if _, err := store.DB().Exec(`INSERT INTO users (email, name, email_verified) VALUES
		('b@export.test', '=cmd()', true), ('a@export.test', 'Ann', true), ('c@other.test', 'Cid', false)`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url}
	r := run(t, "", env, "export", "--q", "@export.test", "--sort", "email", "--actor", "auditor")
	r.expect(t, exitOK)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][1] != "email" || recs[1][1] != "a@export.test" || recs[2][1] != "b@export.test" {
		t.Fatalf("records %v", recs)
	}
	if recs[2][2] != "'=cmd()" {
		t.Errorf("name %q: a formula must be defused", recs[2][2])
	}
	var actor string
	if err := store.DB().Get(&actor, `SELECT actor_email FROM audit_log WHERE action = $1`, db.ActionExport); err != nil || actor != "system:cli:auditor" {
		t.Errorf("export audited as %q (%v)", actor, err)
	}
	run(t, "", env, "export", "--actor", "x", "--sort", "height").expect(t, exitUsage)
	run(t, "", env, "export", "--banned", "maybe", "--actor", "x").expect(t, exitUsage)
	run(t, "", env, "export").expect(t, exitUsage)
}
