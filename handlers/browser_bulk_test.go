package handlers_test

import (
	"fmt"
	"strings"
	"testing"
)

// textOf waits until ok accepts the text of sel (waitTimeout at most),
// reading it through a reader of its own.
func (p *panel) textOf(sel string, ok func(string) bool) string {
	p.t.Helper()
	return waitRead(p, reader[string]{fmt.Sprintf("() => text(q(%q))", sel)}, "the text of "+sel, ok)
}

// TestBrowserBulkBanAndRowActions: an admin ticks two rows of a search, bans
// them from the preview with a reason, comes back to the same table with the
// message, then lifts one ban from its row in place, without a page load,
// and bans again from the row's menu, whose form arrives when it opens.
func TestBrowserBulkBanAndRowActions(t *testing.T) {
	t.Parallel()
	p := newPanel(t, "bulk")
	p.signIn(adminEmail)
	p.open("/users?q=zephyr&sort=email&order=asc&banned=no")
	first := p.waitTable("the unbanned Zephyrs", func(s tablePage) bool { return len(s.IDs) >= 3 })
	targets := first.IDs[:2]

	p.click(`tr#row-` + targets[0] + ` input[data-testid="row-select"]`)
	p.click(`tr#row-` + targets[1] + ` input[data-testid="row-select"]`)
	p.choose(`select[data-testid="bulk-action"]`, "Ban")
	p.screenshot("selected")
	p.click(`button[data-testid="bulk-selected"]`)
	p.waitHead("the preview", func(s pageHead) bool { return s.H1 == "This will ban 2 users" })
	p.screenshot("preview")
	p.typeText(`input[data-testid="bulk-reason"]`, "Spam", false)
	p.click(`button[data-testid="bulk-confirm"]`)
	back := p.waitTable("the same table again", func(s tablePage) bool {
		return s.path() == "/users" && s.query("q") == "zephyr" && s.query("banned") == "no" && s.HasTable
	})
	if got := p.textOf(`[data-testid="flash"]`, func(s string) bool { return s != "" }); got != "Banned 2 users for 24 hours and signed them out everywhere." {
		t.Errorf("flash %q", got)
	}
	for _, id := range targets {
		for _, shown := range back.IDs {
			if shown == id {
				t.Errorf("banned user %s still listed under banned=no", id)
			}
		}
	}

	// Row unban, in place: the banned list, then the row's Unban button.
	p.open("/users?q=zephyr&sort=email&order=asc&banned=yes")
	p.waitTable("the banned Zephyrs", func(s tablePage) bool { return len(s.IDs) >= 2 })
	p.setMarker(7)
	p.click(`tr#row-` + targets[0] + ` button[data-testid="row-unban"]`)
	p.textOf(`tr#row-`+targets[0]+` [data-testid="user-banned"]`, func(s string) bool { return !strings.Contains(s, "Banned") })
	if got := p.textOf(`#flashes [data-testid="flash"]`, func(s string) bool { return s != "" }); !strings.HasPrefix(got, "Unbanned ") {
		t.Errorf("flash %q", got)
	}
	if s := p.waitHead("the same page", func(pageHead) bool { return true }); s.Marker == nil || *s.Marker != 7 {
		t.Error("the row unban reloaded the page; it should swap the row only")
	}
	p.screenshot("row_unbanned")

	// Row ban, in place: the menu fetches its form when it opens; the
	// reason is typed, the duration chosen, and the row shows the ban.
	p.click(`tr#row-` + targets[0] + ` summary[data-testid="row-ban-open"]`)
	p.typeText(`tr#row-`+targets[0]+` input[data-testid="row-ban-reason"]`, "Chargeback", false)
	p.choose(`tr#row-`+targets[0]+` select[data-testid="row-ban-duration"]`, "7 days")
	p.click(`tr#row-` + targets[0] + ` button[data-testid="row-ban"]`)
	p.textOf(`tr#row-`+targets[0]+` [data-testid="user-banned"]`, func(s string) bool { return strings.Contains(s, "Banned") })
	if got := p.textOf(`#flashes [data-testid="flash"]`, func(s string) bool { return strings.HasPrefix(s, "Banned ") }); !strings.Contains(got, "for 7 days") {
		t.Errorf("flash %q", got)
	}
	if s := p.waitHead("the same page", func(pageHead) bool { return true }); s.Marker == nil || *s.Marker != 7 {
		t.Error("the row ban reloaded the page; it should swap the row only")
	}
	p.noPageErrors()
}
