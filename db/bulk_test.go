package db_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"userpanel/db"
)

// bulkWorld is a small user base with every kind of account a bulk action
// must treat with care: staff, the acting support member, a banned user and
// plain users, some with live sessions.
type bulkWorld struct {
	s       *db.Store
	admin   fixture
	support fixture
	manager fixture
	banned  fixture
	plain   []fixture
}

func newBulkWorld(t *testing.T) bulkWorld {
	t.Helper()
	s := newStore(t)
	w := bulkWorld{s: s}
	w.admin = staff(t, s, "admin@bulk.test", "admin")
	w.support = staff(t, s, "support@bulk.test", "support")
	w.manager = staff(t, s, "manager@bulk.test", "manager")
	w.banned = insertUser(t, s, fixture{Email: "banned.spammer@bulk.test", Name: "Already Banned", Banned: true})
	var fs []fixture
	for i := 0; i < 12; i++ {
		fs = append(fs, fixture{Email: fmt.Sprintf("spammer%02d@bulk.test", i), Name: fmt.Sprintf("Spammer %d", i)})
	}
	w.plain = insertUsers(t, s, fs)
	// Two live sessions each for the first three plain users.
	for _, f := range w.plain[:3] {
		if _, err := s.DB().Exec(`INSERT INTO refresh_tokens (user_id, token_hash, expires_at)
			SELECT $1, sha256((random()::text || g)::bytea), now() + interval '1 day' FROM generate_series(1, 2) g`, f.ID); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func idsOf(fs ...fixture) []string { return fixtureIDs(fs) }

func TestBulkBanByIDs(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	var (
		mu     sync.Mutex
		banned []string
	)
	w.s.On(db.EventUserBanned, func(ev db.EventData) {
		mu.Lock()
		defer mu.Unlock()
		banned = append(banned, ev.Email)
	})
	// The support member selects four spammers, the admin, a manager, an
	// already banned user and themself.
	sel := append(idsOf(w.plain[:4]...), w.admin.ID, w.manager.ID, w.banned.ID, w.support.ID)
	until := time.Now().Add(7 * 24 * time.Hour)
	req := db.BulkRequest{Action: db.BulkBan, Selection: db.Selection{IDs: sel}, Reason: "spam wave", Until: &until}
	ctx := asUser(w.support)

	before := usersSnapshot(t, w.s)
	plan, err := w.s.PreviewBulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if after := usersSnapshot(t, w.s); after != before {
		t.Fatal("the preview changed users")
	}
	if plan.Matching != 8 || plan.Affected != 4 || plan.SkippedTotal() != 4 {
		t.Fatalf("preview: matching %d, affected %d, skipped %d; want 8, 4, 4", plan.Matching, plan.Affected, plan.SkippedTotal())
	}
	wantSkips := map[string]db.SkipReason{
		w.admin.Email: db.SkipStaff, w.manager.Email: db.SkipStaff,
		w.banned.Email: db.SkipAlreadyBanned, w.support.Email: db.SkipSelf,
	}
	checkSkips(t, plan, wantSkips)

	done, err := w.s.Bulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if done.Affected != plan.Affected || done.SkippedTotal() != plan.SkippedTotal() {
		t.Errorf("the action did %+v, the preview said %+v", done, plan)
	}
	checkSkips(t, done, wantSkips)
	if n := countRows(t, w.s, `SELECT count(*) FROM users WHERE banned AND ban_reason = 'spam wave' AND banned_by = $1
		AND session_version = 2`, w.support.ID); n != 4 {
		t.Errorf("%d users banned by the bulk action with their panel sessions ended, want 4", n)
	}
	for _, f := range []fixture{w.admin, w.manager, w.support} {
		if n := countRows(t, w.s, `SELECT count(*) FROM users WHERE id = $1 AND banned`, f.ID); n != 0 {
			t.Errorf("%s was banned although the preview skipped them", f.Email)
		}
	}
	if n := countRows(t, w.s, `SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND user_id = ANY($1::uuid[])`,
		"{"+strings.Join(idsOf(w.plain[:3]...), ",")+"}"); n != 0 {
		t.Errorf("%d sessions of banned users still live", n)
	}
	// One audit row per banned user, with the sessions it ended, and one for
	// the bulk action.
	rows := auditRows(t, w.s)
	var perUser, bulk int
	for _, r := range rows {
		switch r.Action {
		case db.ActionBan:
			perUser++
			d := r.DetailsMap()
			if d["reason"] != "spam wave" || d["until"] == nil || r.ActorEmail != w.support.Email {
				t.Errorf("ban row %+v", r)
			}
			want := 0.0
			if *r.TargetID == w.plain[0].ID {
				want = 2
			}
			if *r.TargetID == w.plain[0].ID && d["sessions_revoked"] != want {
				t.Errorf("sessions_revoked %v, want %v", d["sessions_revoked"], want)
			}
		case db.ActionBulk:
			bulk++
			d := r.DetailsMap()
			if d["action"] != "ban" || d["affected"] != 4.0 || d["skipped"] != 4.0 || d["reason"] != "spam wave" {
				t.Errorf("bulk row details %v", d)
			}
			if got, _ := d["ids"].([]any); len(got) != 8 {
				t.Errorf("bulk row names %d ids, want 8", len(got))
			}
		}
	}
	if perUser != 4 || bulk != 1 {
		t.Errorf("%d ban rows and %d bulk rows, want 4 and 1", perUser, bulk)
	}
	sort.Strings(banned)
	if want := []string{w.plain[0].Email, w.plain[1].Email, w.plain[2].Email, w.plain[3].Email}; fmt.Sprint(banned) != fmt.Sprint(want) {
		t.Errorf("events %v, want one per banned user %v", banned, want)
	}
}

func checkSkips(t *testing.T, plan db.BulkPlan, want map[string]db.SkipReason) {
	t.Helper()
	got := map[string]db.SkipReason{}
	for _, s := range plan.Skipped {
		got[s.Email] = s.Reason
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("skipped %v, want %v", got, want)
	}
}

// TestBulkByFilterAtThatMoment: "all matching the filter" is the filter, not
// the list the preview saw: a user who starts to match between the preview
// and the confirmation is included, one who stopped matching is not.
func TestBulkByFilterAtThatMoment(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	ctx := asUser(w.admin)
	req := db.BulkRequest{Action: db.BulkRevokeSessions, Selection: db.Selection{Filter: &db.Filter{Query: "spammer"}}}
	plan, err := w.s.PreviewBulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Matching != 13 || plan.Affected != 13 || len(plan.Sample) != db.BulkSampleSize {
		t.Fatalf("preview %+v", plan)
	}
	late := insertUser(t, w.s, fixture{Email: "late.spammer@bulk.test"})
	if _, err := w.s.DB().Exec(`UPDATE users SET email = 'reformed@bulk.test', name = 'Reformed' WHERE id = $1`, w.plain[0].ID); err != nil {
		t.Fatal(err)
	}
	done, err := w.s.Bulk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if done.Affected != 13 {
		t.Errorf("affected %d, want 13 (12 still matching + 1 new)", done.Affected)
	}
	// session_version starts at 1; signing out raises it.
	for id, want := range map[string]int{late.ID: 2, w.plain[0].ID: 1, w.plain[1].ID: 2} {
		if got := countRows(t, w.s, `SELECT session_version FROM users WHERE id = $1`, id); got != want {
			t.Errorf("user %s session_version %d, want %d", id, got, want)
		}
	}
	if n := countRows(t, w.s, `SELECT count(*) FROM audit_log WHERE action = $1`, db.ActionRevokeSessions); n != 13 {
		t.Errorf("%d revoke rows, want 13", n)
	}
}

// TestBulkRefused: a refused bulk request changes nothing and writes no
// audit row.
func TestBulkRefused(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	all := &db.Filter{}
	bannedAdmin := insertUser(t, w.s, fixture{Email: "banned.admin@bulk.test", Roles: []string{"admin"}, Banned: true})
	cases := []struct {
		name  string
		ctx   context.Context
		req   db.BulkRequest
		field string // a validation error's field, or "" for ErrForbidden
	}{
		{"SupportDeletes", asUser(w.support), db.BulkRequest{Action: db.BulkDelete, Selection: db.Selection{IDs: idsOf(w.plain...)}}, ""},
		{"SupportGrantsRole", asUser(w.support), db.BulkRequest{Action: db.BulkGrantRole, Role: "admin", Selection: db.Selection{Filter: all}}, ""},
		{"BannedAdmin", asUser(bannedAdmin), db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{Filter: all}}, ""},
		{"ManagerBans", asUser(w.manager), db.BulkRequest{Action: db.BulkBan, Reason: "x", Selection: db.Selection{Filter: all}}, ""},
		{"BanWithoutReason", asUser(w.admin), db.BulkRequest{Action: db.BulkBan, Selection: db.Selection{Filter: all}}, "reason"},
		{"BanReasonTooLong", asUser(w.admin), db.BulkRequest{Action: db.BulkBan, Reason: strings.Repeat("x", db.MaxBanReasonLen+1), Selection: db.Selection{Filter: all}}, "reason"},
		{"UntilInPast", asUser(w.admin), db.BulkRequest{Action: db.BulkBan, Reason: "x", Until: ptr(time.Now().Add(-time.Hour)), Selection: db.Selection{Filter: all}}, "until"},
		{"UnknownAction", asUser(w.admin), db.BulkRequest{Action: "drop_tables", Selection: db.Selection{Filter: all}}, "action"},
		{"UnknownRole", asUser(w.admin), db.BulkRequest{Action: db.BulkGrantRole, Role: "owner", Selection: db.Selection{Filter: all}}, "roles"},
		{"NoSelection", asUser(w.admin), db.BulkRequest{Action: db.BulkUnban}, "selection"},
		{"BothSelections", asUser(w.admin), db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{Filter: all, IDs: idsOf(w.banned)}}, "selection"},
		{"MalformedID", asUser(w.admin), db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{IDs: []string{"1 OR 1=1"}}}, "ids"},
		{"BadSearchText", asUser(w.admin), db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{Filter: &db.Filter{Query: "a\x00"}}}, "q"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := usersSnapshot(t, w.s)
			audits := countRows(t, w.s, `SELECT count(*) FROM audit_log`)
			runs := []func(context.Context, db.BulkRequest) (db.BulkPlan, error){w.s.PreviewBulk, w.s.Bulk}
			if c.field == "reason" || c.field == "until" {
				// The preview is where a ban's reason and end are asked for.
				runs = runs[1:]
			}
			for _, run := range runs {
				_, err := run(c.ctx, c.req)
				if c.field == "" {
					wantErr(t, err, db.ErrForbidden)
				} else {
					wantValidation(t, err, c.field)
				}
			}
			if usersSnapshot(t, w.s) != before || countRows(t, w.s, `SELECT count(*) FROM audit_log`) != audits {
				t.Error("a refused bulk request changed something")
			}
		})
	}
	_, err := w.s.Bulk(context.Background(), db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{Filter: all}})
	wantErr(t, err, db.ErrNoActor)
}

// TestBulkLastAdmin: deleting or demoting every admin who can sign in is
// refused for each of them, whoever asks, while the rest goes ahead; an admin
// who cannot sign in does not count.
func TestBulkLastAdmin(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	second := staff(t, w.s, "admin2@bulk.test", "admin")
	if _, err := w.s.DB().Exec(`UPDATE users SET password_hash = NULL WHERE id = $1`, second.ID); err != nil {
		t.Fatal(err)
	}
	cli := db.WithActor(context.Background(), db.SystemActor("cli"))
	req := db.BulkRequest{Action: db.BulkRemoveRole, Role: "admin", Selection: db.Selection{Filter: &db.Filter{Role: "admin"}}}
	plan, err := w.s.Bulk(cli, req)
	if err != nil {
		t.Fatal(err)
	}
	// The admin without a password loses the role; the one who can sign in
	// is the last, and keeps it.
	checkSkips(t, plan, map[string]db.SkipReason{w.admin.Email: db.SkipLastAdmin})
	if plan.Affected != 1 {
		t.Errorf("affected %d, want 1", plan.Affected)
	}
	if n := countRows(t, w.s, `SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'admin'`); n != 1 {
		t.Errorf("%d admins left, want 1", n)
	}
	// Deleting everyone: the last admin stays, everyone else goes.
	plan, err = w.s.Bulk(cli, db.BulkRequest{Action: db.BulkDelete, Selection: db.Selection{Filter: &db.Filter{}}})
	if err != nil {
		t.Fatal(err)
	}
	checkSkips(t, plan, map[string]db.SkipReason{w.admin.Email: db.SkipLastAdmin})
	if n := countRows(t, w.s, `SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users left, want the last admin", n)
	}
	if n := countRows(t, w.s, `SELECT count(*) FROM audit_log WHERE action = $1`, db.ActionDelete); n != plan.Affected {
		t.Errorf("%d delete rows for %d deletions", n, plan.Affected)
	}
	// An admin deleting by filter skips themself.
	w2 := newBulkWorld(t)
	plan, err = w2.s.Bulk(asUser(w2.admin), db.BulkRequest{Action: db.BulkDelete, Selection: db.Selection{Filter: &db.Filter{}}})
	if err != nil {
		t.Fatal(err)
	}
	checkSkips(t, plan, map[string]db.SkipReason{w2.admin.Email: db.SkipSelf})
}

// TestBulkAllOrNothing: a bulk action that fails part-way (here a trigger
// refuses the audit row of one user, as a crash or a kill would stop it)
// leaves nothing done.
func TestBulkAllOrNothing(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	if _, err := w.s.DB().Exec(`
		CREATE FUNCTION refuse_spammer07() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.target_email = 'spammer07@bulk.test' THEN RAISE EXCEPTION 'the disk is full'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_spammer07 BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_spammer07();`); err != nil {
		t.Fatal(err)
	}
	before := usersSnapshot(t, w.s)
	_, err := w.s.Bulk(asUser(w.admin), db.BulkRequest{Action: db.BulkBan, Reason: "spam",
		Selection: db.Selection{Filter: &db.Filter{Query: "spammer"}}})
	if err == nil {
		t.Fatal("the bulk ban succeeded although an audit row failed")
	}
	if usersSnapshot(t, w.s) != before {
		t.Error("a failed bulk ban left some users banned")
	}
	if n := countRows(t, w.s, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Errorf("%d audit rows after a failed bulk action", n)
	}
}

// TestBulkRolesAndUnban covers the remaining actions' effects and audit rows.
func TestBulkRolesAndUnban(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	ctx := asUser(w.admin)
	plan, err := w.s.Bulk(ctx, db.BulkRequest{Action: db.BulkGrantRole, Role: "manager",
		Selection: db.Selection{IDs: append(idsOf(w.plain[:2]...), w.manager.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	checkSkips(t, plan, map[string]db.SkipReason{w.manager.Email: db.SkipHasRole})
	if n := countRows(t, w.s, `SELECT count(*) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name = 'manager'`); n != 3 {
		t.Errorf("%d managers, want 3", n)
	}
	var d string
	if err := w.s.DB().Get(&d, `SELECT details::text FROM audit_log WHERE action = $1 AND target_id = $2`, db.ActionRoles, w.plain[0].ID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, `"added": ["manager"]`) {
		t.Errorf("roles row details %s", d)
	}
	plan, err = w.s.Bulk(ctx, db.BulkRequest{Action: db.BulkUnban, Selection: db.Selection{IDs: idsOf(w.banned, w.plain[5])}})
	if err != nil {
		t.Fatal(err)
	}
	checkSkips(t, plan, map[string]db.SkipReason{w.plain[5].Email: db.SkipNotBanned})
	if n := countRows(t, w.s, `SELECT count(*) FROM users WHERE banned`); n != 0 {
		t.Errorf("%d still banned", n)
	}
	// Ids of users deleted since the selection are counted, not an error.
	gone := insertUser(t, w.s, fixture{Email: "gone@bulk.test"})
	if _, err := w.s.DB().Exec(`DELETE FROM users WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	plan, err = w.s.Bulk(ctx, db.BulkRequest{Action: db.BulkRevokeSessions, Selection: db.Selection{IDs: idsOf(gone, w.plain[6])}})
	if err != nil || plan.Missing != 1 || plan.Affected != 1 {
		t.Errorf("plan %+v, err %v; want 1 missing, 1 affected", plan, err)
	}
}
