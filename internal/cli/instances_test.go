package cli

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"userpanel/internal/testdb"
)

const staffPassword = "Correct-Horse-Battery-9"

// TestTwoInstances runs two servers on different ports against one database,
// as a deployment scaled out behind a load balancer does: the session, its
// end and a ban all live in the database, so each instance sees what the
// other did at the next request. (A check that sign-in throttling counts the
// attempts made on both belongs here too: start a third visitor and fail
// sign-ins on a and b in turn.)
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	createStaff(t, dbURL, "ada@two.test", "admin", staffPassword)
	supportID := createStaff(t, dbURL, "sam@two.test", "support", staffPassword)
	a := startServer(t, dbURL, nil)
	b := startServer(t, dbURL, nil)

	t.Run("SessionMadeOnOneWorksOnTheOther", func(t *testing.T) {
		v := newVisitor(t)
		v.signIn(a.URL, "ada@two.test", staffPassword)
		if got := v.get(b.URL + "/users"); got.status != http.StatusOK {
			t.Fatalf("GET /users on b with a's session: status %d, want 200", got.status)
		}
	})

	t.Run("SignOutOnOneEndsItOnTheOther", func(t *testing.T) {
		v := newVisitor(t)
		v.signIn(a.URL, "ada@two.test", staffPassword)
		// A copy of the cookie, as a second tab or a stolen cookie would
		// keep it: sign-out must end it on the server, not only in the jar.
		copyJar := newVisitor(t)
		u, _ := url.Parse(a.URL)
		copyJar.client.Jar.SetCookies(u, v.client.Jar.Cookies(u))
		if got := copyJar.get(b.URL + "/users"); got.status != http.StatusOK {
			t.Fatalf("copy of the session on b before sign-out: status %d, want 200", got.status)
		}
		if got := v.post(b.URL, "/logout", nil); got.status != http.StatusSeeOther {
			t.Fatalf("POST /logout on b: status %d, want 303", got.status)
		}
		wantSignedOut(t, "the copy on a after signing out on b", copyJar.get(a.URL+"/users"))
	})

	t.Run("BanOnOneLocksOutOnTheOther", func(t *testing.T) {
		admin := newVisitor(t)
		admin.signIn(a.URL, "ada@two.test", staffPassword)
		support := newVisitor(t)
		support.signIn(b.URL, "sam@two.test", staffPassword)
		if got := support.get(b.URL + "/users"); got.status != http.StatusOK {
			t.Fatalf("support on b before the ban: status %d, want 200", got.status)
		}
		got := admin.post(a.URL, "/users/"+supportID+"/ban", url.Values{"reason": {"two instances"}, "duration": {"permanent"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("ban on a: status %d, want 303\n%.300s", got.status, got.body)
		}
		wantSignedOut(t, "the banned user's next request on b", support.get(b.URL+"/users"))
	})

	t.Run("ThrottleCountsAttemptsOnBoth", func(t *testing.T) {
		createStaff(t, dbURL, "mia@two.test", "manager", staffPassword)
		v := newVisitor(t)
		// Five wrong passwords, taking turns between the two instances.
		for i := 0; i < 5; i++ {
			base := []string{a.URL, b.URL}[i%2]
			got := v.post(base, "/login", url.Values{"email": {"mia@two.test"}, "password": {"not-the-password-" + strconv.Itoa(i)}})
			if got.status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d on %s: status %d, want 401", i+1, base, got.status)
			}
		}
		// The lock holds on both, even for the right password.
		for _, base := range []string{a.URL, b.URL} {
			got := v.post(base, "/login", url.Values{"email": {"mia@two.test"}, "password": {staffPassword}})
			if got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "Too many attempts") {
				t.Fatalf("the right password on %s after 5 failures spread over both: status %d, want 429\n%.300s", base, got.status, got.body)
			}
		}
	})
}
