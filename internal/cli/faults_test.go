package cli

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"userpanel/internal/testpg"
)

// The bars the issue sets for a database outage.
const (
	// outageAnswerWithin is how fast every page must answer 503, and
	// /readyz fail, while the database is down or frozen.
	outageAnswerWithin = 2 * time.Second
	// recoverWithin is how soon after the database returns the panel must
	// serve again, by itself.
	recoverWithin = 5 * time.Second
)

// TestDatabaseOutage runs the panel against a PostgreSQL cluster of the
// test's own, then stops it (pg_ctl stop -m fast) and freezes it (SIGSTOP of
// every server process, as a stuck disk or a network partition looks), and
// checks what an operator was promised: every page is the designed 503 page
// within 2 seconds, /readyz fails as fast, /healthz stays up, the server
// does not exit or leak goroutines, and it serves again within 5 seconds of
// the database coming back.
func TestDatabaseOutage(t *testing.T) {
	cluster := testpg.Start(t)
	cluster.CreateDatabase("userpanel")
	dbURL := cluster.URL("userpanel")
	run(t, "", map[string]string{"DATABASE_URL": dbURL}, "migrate").expect(t, exitOK)
	adminID := createStaff(t, dbURL, "ada@outage.test", "admin", staffPassword)
	srv := startServer(t, dbURL, nil)
	v := newVisitor(t)
	v.signIn(srv.URL, "ada@outage.test", staffPassword)

	pages := []string{"/users", "/users?q=ada&sort=email", "/users/" + adminID, "/dashboard", "/audit",
		"/users/count", "/users/export.csv", "/audit/export.csv"}
	for _, p := range pages {
		if got := v.get(srv.URL + p); got.status != http.StatusOK {
			t.Fatalf("GET %s before the outage: status %d, want 200", p, got.status)
		}
	}
	goroutinesBefore := runtime.NumGoroutine()

	faults := []struct {
		name          string
		fault, resume func()
	}{
		{"Stopped", cluster.Stop, cluster.StartServer},
		{"Frozen", cluster.Freeze, cluster.Thaw},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			f.fault()
			resumed := false
			defer func() {
				if !resumed {
					f.resume()
				}
			}()
			// Twice the pool's 20 connections at once, so that waiting for a
			// connection is bounded too, not only the query on one.
			checkConcurrently(t, 40, func(i int) {
				p := pages[i%len(pages)]
				got := v.get(srv.URL + p)
				if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "cannot reach its database") {
					t.Errorf("GET %s: status %d, want the 503 page\n%.200s", p, got.status, got.body)
				}
				if got.took > outageAnswerWithin {
					t.Errorf("GET %s: answered in %s, want within %s", p, got.took.Round(time.Millisecond), outageAnswerWithin)
				}
			})
			// A change is refused the same way, and changes nothing.
			got := v.post(srv.URL, "/users/"+adminID, nil)
			if got.status != http.StatusServiceUnavailable || got.took > outageAnswerWithin {
				t.Errorf("POST /users/{id}: status %d in %s, want 503 within %s", got.status, got.took, outageAnswerWithin)
			}
			if got := v.get(srv.URL + "/readyz"); got.status != http.StatusServiceUnavailable || got.took > outageAnswerWithin {
				t.Errorf("GET /readyz: status %d in %s, want 503 within %s", got.status, got.took, outageAnswerWithin)
			}
			if got := v.get(srv.URL + "/healthz"); got.status != http.StatusOK {
				t.Errorf("GET /healthz: status %d, want 200", got.status)
			}

			f.resume()
			resumed = true
			back := time.Now()
			for {
				got := v.get(srv.URL + "/users")
				if got.status == http.StatusOK {
					t.Logf("serving again %s after the database returned", time.Since(back).Round(time.Millisecond))
					break
				}
				if time.Since(back) > recoverWithin {
					t.Fatalf("GET /users %s after the database returned: status %d, want 200", recoverWithin, got.status)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, p := range append(pages, "/readyz") {
				if got := v.get(srv.URL + p); got.status != http.StatusOK {
					t.Errorf("GET %s after recovery: status %d, want 200", p, got.status)
				}
			}
			if !srv.running() {
				t.Fatal("the server exited during the outage")
			}
			wantGoroutinesBack(t, goroutinesBefore)
		})
	}
}

// checkConcurrently runs check(0..n-1) at once and waits for all.
func checkConcurrently(t *testing.T, n int, check func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check(i)
		}()
	}
	wg.Wait()
}

// wantGoroutinesBack waits a few seconds for the process's goroutines to
// come back to about what they were before the outage: requests, lib/pq's
// cancel requests and dead connections must all have ended. A handful more
// is allowed for idle HTTP connections and the pool's own.
func wantGoroutinesBack(t *testing.T, before int) {
	t.Helper()
	const slack = 15
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := runtime.NumGoroutine()
		if now <= before+slack {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines after recovery, %d before the outage: a leak?\n%s", now, before, fmt.Sprint(string(buf[:n])))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
