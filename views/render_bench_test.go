package views

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUsersList renders the user table's page as an admin sees it:
// twenty rows, each with its checkbox and its row actions. It is the
// server's largest share of a /users request (make bench's profiles): run
// it with -benchmem before and after a change to the table's templates.
func BenchmarkUsersList(b *testing.B) {
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	actions := &RowActions{Allowed: true, CSRF: "JpzBF4w3KWa6vU_JtodBZlPDNpFzcjMXFQO4bRHsXMw", Back: "/users",
		Durations: []Option{{"1d", "1 day"}, {"7d", "7 days"}, {"30d", "30 days"}, {"", "Permanently"}}, MaxReason: 500}
	var rows []UserRow
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("fa7ee543-a035-438f-9d09-be4aa9bc%04d", i)
		r := UserRow{ID: id, URL: "/users/" + id, Email: fmt.Sprintf("zoë.o'brien%d@example.org", i),
			Name: fmt.Sprintf("Zoë O'Brien & %d", i), Verified: i%3 != 0, CreatedAt: now.AddDate(0, 0, -i),
			Actions: actions}
		if i%4 == 0 {
			r.LastLoginAt = &now
		}
		if i%7 == 0 {
			r.Banned, r.BannedUntil = true, &now
		}
		if i == 0 {
			r.Roles = []string{"admin"}
		}
		ids = append(ids, id)
		rows = append(rows, r)
	}
	page := UsersPage{
		Chrome: Chrome{Title: "Users", User: &CurrentUser{ID: ids[0], Email: rows[0].Email, Name: "Admin", Roles: []string{"admin"}},
			Nav:  []NavItem{{"Users", "/users", true}, {"Dashboard", "/dashboard", false}, {"Audit log", "/audit", false}},
			CSRF: actions.CSRF, Limits: Limits{SearchMax: 200, ReasonMax: 500}},
		Table: UsersTable{Rows: rows, From: 1, To: 20, Total: 1_000_001, RowActions: true,
			Headers: map[string]SortHeader{"email": {Key: "email", Label: "Email", URL: "/users?sort=email"}},
			Pages: Pagination{NextURL: "/users?page=2", Items: []PageItem{{N: 1, Current: true}, {N: 2, URL: "/users?page=2"},
				{Gap: true}, {N: 50001, URL: "/users?page=50001"}}},
			Bulk: BulkBar{CSRF: actions.CSRF, Actions: []Option{{"ban", "Ban"}, {"unban", "Unban"}}, PageIDs: ids, Back: "/users", Total: 1_000_001}},
		CanCreate: true,
	}
	var buf bytes.Buffer
	ctx := context.Background()
	if err := UsersList(page).Render(ctx, &buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := UsersList(page).Render(ctx, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
