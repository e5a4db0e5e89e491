package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
