package handlers

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"userpanel/db"
)

func TestCSVSafe(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                  "",
		"Ada":               "Ada",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1 555":            "'+1 555",
		"-2+3":              "'-2+3",
		"@SUM(A1)":          "'@SUM(A1)",
		"\tcmd":             "'\tcmd",
		"\rcmd":             "'\rcmd",
		"a=b":               "a=b",
		"ada@panel.test":    "ada@panel.test",
		"'already quoted":   "'already quoted",
	} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// readCSV parses an export.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, body)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(exportHeader, ",") {
		t.Fatalf("CSV header %v, want %v", recs, exportHeader)
	}
	return recs[1:]
}

func TestExportUsersCSV(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	s := p.addStaff()
	p.seedTable(180)
	evil := p.addUser("evil@panel.test", "=HYPERLINK(\"http://x\",\"y\")", "support")
	admin := p.signedIn(adminEmail)

	cases := map[string]string{
		"All":            "",
		"SearchByEmail":  "q=member&sort=email",
		"BannedNameDesc": "banned=yes&sort=name&order=desc",
		"RoleLastLogin":  "role=support&sort=last_login_at&order=asc",
		"Verified":       "verified=no&sort=created_at&order=asc",
	}
	roles, err := p.store.ListRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var roleNames []string
	for _, r := range roles {
		roleNames = append(roleNames, r.Name)
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			pg := admin.get("/users/export.csv?" + raw)
			wantStatus(t, "GET export.csv?"+raw, pg, http.StatusOK)
			if ct := pg.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := pg.header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="users-\d{8}-\d{6}\.csv"$`).MatchString(cd) {
				t.Errorf("Content-Disposition %q", cd)
			}
			if cc := pg.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			recs := readCSV(t, pg.body)

			// The same rows, in the same order, as the table walked page by page.
			v, _ := url.ParseQuery(raw)
			q := parseUserListQuery(v, roleNames)
			lp := q.listParams()
			lp.Limit = 100
			var want []db.User
			for lp.Offset = 0; ; lp.Offset += lp.Limit {
				res, err := p.store.ListUsers(context.Background(), lp)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, res.Users...)
				if len(res.Users) < lp.Limit {
					break
				}
			}
			if len(recs) != len(want) {
				t.Fatalf("%d CSV rows, want %d", len(recs), len(want))
			}
			for i, u := range want {
				if got := strings.Join(recs[i], "|"); got != strings.Join(exportRecord(asExported(u)), "|") {
					t.Fatalf("row %d = %s, want %s", i, got, strings.Join(exportRecord(asExported(u)), "|"))
				}
			}
		})
	}

	t.Run("Columns", func(t *testing.T) {
		until := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
		if err := p.store.BanUser(db.WithActor(context.Background(), db.Actor{ID: s.admin, Email: adminEmail}),
			evil, "-1 formula", &until); err != nil {
			t.Fatal(err)
		}
		pg := admin.get("/users/export.csv?q=evil%40panel")
		wantStatus(t, "GET export.csv?q=evil", pg, http.StatusOK)
		recs := readCSV(t, pg.body)
		if len(recs) != 1 {
			t.Fatalf("rows %v", recs)
		}
		r := recs[0]
		want := []string{evil, "evil@panel.test", `'=HYPERLINK("http://x","y")`, "support", "true", "true", "'-1 formula", "2030-05-06T07:08:09Z"}
		for i, w := range want {
			if r[i] != w {
				t.Errorf("column %s = %q, want %q", exportHeader[i], r[i], w)
			}
		}
		if _, err := time.Parse(time.RFC3339, r[8]); err != nil || !strings.HasSuffix(r[8], "Z") {
			t.Errorf("created_at %q is not RFC 3339 UTC", r[8])
		}
		if r[9] != "" {
			t.Errorf("last_login_at %q, want empty (never signed in)", r[9])
		}
	})

	t.Run("Empty", func(t *testing.T) {
		pg := admin.get("/users/export.csv?q=no-such-user-anywhere")
		wantStatus(t, "GET empty export", pg, http.StatusOK)
		if recs := readCSV(t, pg.body); len(recs) != 0 {
			t.Fatalf("rows %v", recs)
		}
	})

	t.Run("Audited", func(t *testing.T) {
		before, err := p.store.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionExport, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		pg := admin.get("/users/export.csv?q=member&banned=yes&sort=email")
		wantStatus(t, "GET export", pg, http.StatusOK)
		_ = readCSV(t, pg.body)
		after, err := p.store.ListAudit(context.Background(), db.AuditFilter{Action: db.ActionExport, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Entries) != len(before.Entries)+1 {
			t.Fatalf("%d export rows, want %d", len(after.Entries), len(before.Entries)+1)
		}
		e := after.Entries[0]
		if e.ActorEmail != adminEmail || e.ActorID == nil || *e.ActorID != s.admin {
			t.Errorf("audit actor %+v", e)
		}
		d := e.DetailsMap()
		f, _ := d["filters"].(map[string]any)
		// Written before the first byte, when the count is not known.
		if f["q"] != "member" || f["banned"] != "yes" || f["sort"] != "email" {
			t.Errorf("audit details %v, want the filters", d)
		}
	})

	// An export whose audit row cannot be written sends no data.
	t.Run("RefusedWithoutAudit", func(t *testing.T) {
		if _, err := p.store.DB().Exec(`CREATE FUNCTION refuse_export() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
			CREATE TRIGGER refuse_export BEFORE INSERT ON audit_log FOR EACH ROW
			WHEN (NEW.action = 'users.export') EXECUTE FUNCTION refuse_export()`); err != nil {
			t.Fatal(err)
		}
		defer p.store.DB().Exec(`DROP TRIGGER refuse_export ON audit_log`) //nolint:errcheck
		pg := admin.get("/users/export.csv?q=member")
		wantStatus(t, "GET export without audit", pg, http.StatusInternalServerError)
		if strings.Contains(pg.body, "member") || pg.header.Get("Content-Disposition") != "" {
			t.Errorf("data left without its audit row: %q", pg.body)
		}
	})

	t.Run("ExportLink", func(t *testing.T) {
		pg := admin.get("/users?q=member&banned=yes&sort=email&page=2&per_page=50")
		wantStatus(t, "GET /users", pg, http.StatusOK)
		href, _ := pg.doc.Find(`a[data-testid="export-csv"]`).Attr("href")
		if href != "/users/export.csv?banned=yes&q=member&sort=email" {
			t.Errorf("export link %q", href)
		}
		sup := p.signedIn(supportEmail).get("/users?q=member")
		wantStatus(t, "GET /users as support", sup, http.StatusOK)
		if sup.has(`[data-testid="export-csv"]`) {
			t.Error("support sees the export link")
		}
	})
}

func TestExportUsersAccess(t *testing.T) {
	t.Parallel()
	p := newTestPanel(t)
	p.addStaff()
	for _, email := range []string{supportEmail, managerEmail} {
		pg := p.signedIn(email).get("/users/export.csv")
		wantStatus(t, "GET export as "+email, pg, http.StatusForbidden)
	}
	pg := p.browser().get("/users/export.csv?q=a")
	wantStatus(t, "GET export anonymous", pg, http.StatusSeeOther)
	if loc := pg.header.Get("Location"); loc != toLogin("/users/export.csv?q=a") {
		t.Errorf("Location %q", loc)
	}
	var n int
	if err := p.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE action = $1`, db.ActionExport); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d export audit rows after refused exports", n)
	}
}

// asExported is what the export has of a user the list shows.
func asExported(u db.User) db.ExportedUser {
	return db.ExportedUser{ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, EmailVerified: u.EmailVerified,
		Banned: u.Banned, BanReason: u.BanReason, BannedUntil: u.BannedUntil, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
}
