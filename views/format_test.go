package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestThousands(t *testing.T) {
	t.Parallel()
	cases := map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 41234: "41,234",
		1234567: "1,234,567", -1234: "-1,234", 100000: "100,000"}
	for n, want := range cases {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := RangeText(41, 60); got != "41–60" {
		t.Errorf("RangeText = %q", got)
	}
}

// The fragment htmx swaps is the table alone, never a page.
func TestUsersFragmentIsNotAPage(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	table := UsersTable{Rows: []UserRow{{ID: "1", URL: "/users/1", Email: "a@b.test"}}, From: 1, To: 1, Total: 1,
		Headers: map[string]SortHeader{"email": {Key: "email", Label: "Email", URL: "/users?sort=email"}}}
	if err := UsersFragment(table).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Contains(html, "<html") || strings.Contains(html, "<body") || !strings.HasPrefix(html, `<div id="users-table"`) {
		t.Errorf("fragment: %.120s", html)
	}
	if !strings.Contains(html, `hx-swap-oob="true"`) {
		t.Error("the fragment does not carry the form's sort state")
	}
}

func TestRelative(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		d    time.Duration
		want string
	}{
		{-10 * time.Second, "just now"},
		{-5 * time.Minute, "5 min ago"},
		{-3 * time.Hour, "3 h ago"},
		{-47 * time.Hour, "47 h ago"},
		{-72 * time.Hour, "3 d ago"},
		{6 * 24 * time.Hour, "in 6 d"},
		{-90 * 24 * time.Hour, "3 months ago"},
		{-3 * 365 * 24 * time.Hour, "3 years ago"},
	}
	for _, c := range cases {
		if got := relative(now.Add(c.d), now); got != c.want {
			t.Errorf("relative(now%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
