package db_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// TestAuditFilters checks each filter of the audit log against rows whose
// answer is known: the date range (Since included, Until excluded), hiding
// sign-ins, a target given as an id or as part of an email, and the exact
// total beside a short page.
func TestAuditFilters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	target := insertUser(t, s, fixture{Email: "kept.target@example.com", Name: "Kept"})
	// Seven days of rows, one of each kind a day, at noon UTC.
	for d := 1; d <= 7; d++ {
		at := time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC)
		for _, action := range []string{db.ActionLogin, db.ActionBan, db.ActionLogout} {
			if _, err := s.DB().Exec(`INSERT INTO audit_log (at, actor_email, action, target_id, target_email, details)
				VALUES ($1, 'ops@example.com', $2, $3, $4, '{}')`, at, action, target.ID, target.Email); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.DB().Exec(`INSERT INTO audit_log (at, actor_email, action, target_email, details)
		VALUES ('2026-03-04 08:00Z', 'other@example.com', 'user.update', 'someone.else@example.com', '{}')`); err != nil {
		t.Fatal(err)
	}
	day := func(d int) *time.Time { t := time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC); return &t }

	cases := []struct {
		name  string
		f     db.AuditFilter
		total int64
	}{
		{"All", db.AuditFilter{}, 22},
		{"Range", db.AuditFilter{Since: day(2), Until: day(5)}, 10}, // days 2, 3, 4 (+ the update on the 4th)
		{"RangeEndExcluded", db.AuditFilter{Since: day(7), Until: day(8)}, 3},
		{"HideSignIns", db.AuditFilter{HideSignIns: true}, 8},
		{"TargetID", db.AuditFilter{Target: target.ID}, 21},
		{"TargetIDUpperCase", db.AuditFilter{Target: strings.ToUpper(target.ID)}, 21},
		{"TargetEmail", db.AuditFilter{Target: "ELSE@"}, 1},
		{"Everything", db.AuditFilter{Actor: "ops@", Action: db.ActionBan, Target: "kept", Since: day(3), Until: day(6)}, 3},
		{"BadTargetID", db.AuditFilter{TargetID: "not-an-id"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.Limit = 2
			page, err := s.ListAudit(sysCtx(), f)
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != c.total {
				t.Errorf("Total = %d, want %d", page.Total, c.total)
			}
			if want := min(int(c.total), 2); len(page.Entries) != want {
				t.Errorf("%d entries, want %d", len(page.Entries), want)
			}
			if page.HasMore != (c.total > 2) {
				t.Errorf("HasMore = %v with total %d", page.HasMore, c.total)
			}
			for _, e := range page.Entries {
				if f.HideSignIns && (e.Action == db.ActionLogin || e.Action == db.ActionLogout) {
					t.Errorf("sign-in row %v with HideSignIns", e)
				}
				if f.Since != nil && e.At.Before(*f.Since) || f.Until != nil && !e.At.Before(*f.Until) {
					t.Errorf("row at %v outside [%v, %v)", e.At, f.Since, f.Until)
				}
			}
		})
	}
}

// TestExportAudit checks that the export of the audit log is itself on
// record before any row is read (its own row is the newest the export
// sees), that it streams every matching row newest first, and that a refused
// filter records nothing.
func TestExportAudit(t *testing.T) {
	t.Parallel()
	t.Run("NoExportTimeout", func(t *testing.T) {
		t.Parallel()
		testExportAudit(t, newStore(t))
	})
	// The export's own statement_timeout is set before the audit row is
	// written, without taking the read's snapshot then.
	t.Run("ExportTimeout", func(t *testing.T) {
		t.Parallel()
		s, err := db.OpenWithTimeouts(context.Background(), testdb.URL(t), db.Timeouts{Export: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		testExportAudit(t, s)
	})
}

func testExportAudit(t *testing.T, s *db.Store) {
	admin := staff(t, s, "admin@example.com", "admin")
	for i := 1; i <= 30; i++ {
		if _, err := s.DB().Exec(`INSERT INTO audit_log (at, actor_email, action, target_email, details)
			VALUES (timestamptz '2026-01-01Z' + $1 * interval '1 minute', 'system:test', 'user.update', $2, '{}')`,
			i, fmt.Sprintf("row%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []db.AuditEntry
	err := s.ExportAudit(asUser(admin), db.AuditFilter{}, "", func(e db.AuditEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 31 {
		t.Fatalf("%d rows, want 30 and the export's own", len(got))
	}
	if got[0].Action != db.ActionAuditExport || got[0].ActorEmail != admin.Email {
		t.Errorf("the newest row is %+v, want the export's own audit row", got[0])
	}
	for i := 1; i < len(got); i++ {
		if want := fmt.Sprintf("row%d@example.com", 31-i); got[i].TargetEmail != want {
			t.Fatalf("row %d = %s, want %s (newest first)", i, got[i].TargetEmail, want)
		}
	}

	before := countRows(t, s, `SELECT count(*) FROM audit_log`)
	err = s.ExportAudit(asUser(admin), db.AuditFilter{Actor: "a\x00b"}, "actor=a%00b", func(db.AuditEntry) error { return nil })
	wantValidation(t, err, "actor")
	if after := countRows(t, s, `SELECT count(*) FROM audit_log`); after != before {
		t.Errorf("a refused export wrote %d audit rows", after-before)
	}
	if err := s.ExportAudit(sysCtx(), db.AuditFilter{Action: db.ActionBan}, "action=user.ban", func(db.AuditEntry) error { return nil }); err != nil {
		t.Errorf("a system actor's export: %v", err)
	}
}
