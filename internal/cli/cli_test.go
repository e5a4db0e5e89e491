package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// result is what one run of the command line left behind.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command line in process with the given standard input and
// environment (nothing of the real environment leaks in).
func run(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	return runApp(t, context.Background(), nil, stdin, env, args...)
}

func runApp(t *testing.T, ctx context.Context, onListen func(net.Addr), stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	app := &App{
		Schema:   testdb.Schema(t),
		Static:   fstest.MapFS{"app.css": {Data: []byte("body{}")}},
		Stdin:    strings.NewReader(stdin),
		Stdout:   &stdout,
		Stderr:   &stderr,
		Getenv:   func(k string) string { return env[k] },
		onListen: onListen,
	}
	code := app.Run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (r result) expect(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

// openStore opens a second connection to a test database, to check what a
// command left there.
func openTestStore(t *testing.T, url string) *db.Store {
	t.Helper()
	store, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func TestHelp(t *testing.T) {
	t.Parallel()
	t.Run("Overview", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
			r := run(t, "", nil, args...)
			r.expect(t, exitOK)
			for _, c := range commands {
				if !strings.Contains(r.stdout, "  "+c.name+" ") {
					t.Errorf("%v: the overview does not list %s:\n%s", args, c.name, r.stdout)
				}
			}
		}
	})
	t.Run("EachCommand", func(t *testing.T) {
		t.Parallel()
		for _, c := range commands {
			for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}} {
				r := run(t, "", nil, args...)
				r.expect(t, exitOK)
				if !strings.HasPrefix(r.stdout, "Usage: userpanel "+c.name) || !strings.Contains(r.stdout, "-database-url") {
					t.Errorf("%v: usage is\n%s", args, r.stdout)
				}
				if r.stderr != "" {
					t.Errorf("%v: stderr %q", args, r.stderr)
				}
			}
		}
	})
	t.Run("NoCommand", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", nil)
		r.expect(t, exitUsage)
		if !strings.Contains(r.stderr, "Commands:") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
	t.Run("UnknownCommand", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", nil, "frobnicate")
		r.expect(t, exitUsage)
		if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
	t.Run("UnknownFlag", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", nil, "migrate", "--frobnicate")
		r.expect(t, exitUsage)
		if !strings.Contains(r.stderr, "frobnicate") || strings.Contains(r.stderr, "Flags:") || r.stdout != "" {
			t.Errorf("want a one-line hint, got stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("NoDatabase", func(t *testing.T) {
		t.Parallel()
		r := run(t, "", nil, "migrate")
		r.expect(t, exitUsage)
		if !strings.Contains(r.stderr, "DATABASE_URL") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	version, err := db.SchemaVersion(testdb.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := run(t, "", map[string]string{"DATABASE_URL": url}, "migrate")
		r.expect(t, exitOK)
		if want := "schema version " + strconv.Itoa(version); !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q does not say %q", r.stdout, want)
		}
	}
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: the error names the database, not its password.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := run(t, "", nil, "migrate", "--database-url", "postgres://u:hunter2hunter2@"+addr+"/x?sslmode=disable&connect_timeout=2")
	r.expect(t, exitUnavailable)
	if !strings.Contains(r.stderr, addr) || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

const goodPassword = "correct-horse-battery-staple"

func TestCreateUser(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	store := openTestStore(t, url)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		r := run(t, goodPassword+"\nignored second line\n", nil, "create-user", "--database-url", url,
			"--email", "Alice@Example.com", "--name", "Alice Liddell", "--role", "admin", "--role", "support")
		r.expect(t, exitOK)
		if !strings.Contains(r.stdout, "created user Alice@Example.com") {
			t.Errorf("stdout: %s", r.stdout)
		}
		u, err := store.GetUserByEmail(ctx, "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.Name != "Alice Liddell" || !u.EmailVerified || strings.Join(u.Roles, ",") != "admin,support" {
			t.Errorf("created %+v", u)
		}
		// The password is the first line of standard input, without its newline.
		if _, err := store.Authenticate(ctx, "alice@example.com", goodPassword); err != nil {
			t.Errorf("sign in with the piped password: %v", err)
		}
		page, err := store.ListAudit(ctx, db.AuditFilter{TargetID: u.ID, Action: db.ActionCreate})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 1 || page.Entries[0].ActorEmail != "system:cli" {
			t.Errorf("audit rows %+v, want one by system:cli", page.Entries)
		}
	})

	t.Run("ErrUserAlreadyExists", func(t *testing.T) {
		args := []string{"create-user", "--database-url", url, "--role", "manager", "--email", "bob@example.com"}
		run(t, goodPassword, nil, args...).expect(t, exitOK)
		args[len(args)-1] = "BOB@example.com"
		r := run(t, "another-password-entirely\n", nil, args...)
		r.expect(t, exitConflict)
		if !strings.Contains(r.stderr, "a user with this email already exists") {
			t.Errorf("stderr: %s", r.stderr)
		}
		// The first user keeps the first password.
		if _, err := store.Authenticate(ctx, "bob@example.com", goodPassword); err != nil {
			t.Errorf("bob's first password no longer works: %v", err)
		}
		n, err := store.CountUsers(ctx, db.Filter{Query: "bob@"})
		if err != nil || n != 1 {
			t.Errorf("users named bob: %d, %v", n, err)
		}
	})

	t.Run("DatabaseURLFromEnvironment", func(t *testing.T) {
		r := run(t, goodPassword, map[string]string{"DATABASE_URL": url}, "create-user", "--email", "carol@example.com", "--verified=false")
		r.expect(t, exitOK)
		u, err := store.GetUserByEmail(ctx, "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.EmailVerified || len(u.Roles) != 0 {
			t.Errorf("created %+v", u)
		}
	})

	refused := []struct {
		name, stdin string
		args        []string
		code        int
		says        string
	}{
		{"MissingEmail", goodPassword, []string{"--name", "Nobody"}, exitUsage, "--email is required"},
		{"MalformedEmail", goodPassword, []string{"--email", "not-an-email"}, exitInvalid, "invalid email"},
		{"WeakPassword", "short\n", []string{"--email", "dave@example.com"}, exitInvalid, "invalid password: must be at least 12 characters"},
		{"NoPassword", "", []string{"--email", "erin@example.com"}, exitError, "no password on standard input"},
		{"UnknownRole", goodPassword, []string{"--email", "frank@example.com", "--role", "wizard"}, exitInvalid, `unknown role "wizard"`},
		{"ExtraArgument", goodPassword, []string{"--email", "gina@example.com", "admin"}, exitUsage, `unexpected argument "admin"`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.stdin, nil, append([]string{"create-user", "--database-url", url}, tc.args...)...)
			r.expect(t, tc.code)
			if !strings.Contains(r.stderr, tc.says) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.says)
			}
		})
	}
	// None of the refused users exists.
	n, err := store.CountUsers(ctx, db.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d users, want the 3 created", n)
	}
}

var generatedPassword = regexp.MustCompile(`password: (\S+)`)

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FirstAdminWithGeneratedPassword", func(t *testing.T) {
		t.Parallel()
		url := testdb.URL(t)
		store := openTestStore(t, url)
		env := map[string]string{"DATABASE_URL": url, "LISTEN_ADDR": "127.0.0.1:9999"}
		r := run(t, "", env, "ensure-admin")
		r.expect(t, exitOK)
		m := generatedPassword.FindStringSubmatch(r.stdout)
		if m == nil || !strings.Contains(r.stdout, defaultAdminEmail) || !strings.Contains(r.stdout, "http://127.0.0.1:9999/login") {
			t.Fatalf("stdout does not say how to sign in:\n%s", r.stdout)
		}
		if _, err := store.Authenticate(ctx, defaultAdminEmail, m[1]); err != nil {
			t.Errorf("sign in with the printed password: %v", err)
		}
		// Again: the admin is listed, no new password is made.
		r = run(t, "", env, "ensure-admin")
		r.expect(t, exitOK)
		if generatedPassword.MatchString(r.stdout) || !strings.Contains(r.stdout, "Admins: "+defaultAdminEmail) {
			t.Errorf("second run said:\n%s", r.stdout)
		}
		if n, _ := store.CountUsers(ctx, db.Filter{}); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})

	t.Run("FromEnvironment", func(t *testing.T) {
		t.Parallel()
		url := testdb.URL(t)
		store := openTestStore(t, url)
		env := map[string]string{"DATABASE_URL": url, "ADMIN_EMAIL": "root@example.org", "ADMIN_PASSWORD": goodPassword}
		r := run(t, "", env, "ensure-admin")
		r.expect(t, exitOK)
		if generatedPassword.MatchString(r.stdout) {
			t.Errorf("printed a password although ADMIN_PASSWORD was set:\n%s", r.stdout)
		}
		if _, err := store.Authenticate(ctx, "root@example.org", goodPassword); err != nil {
			t.Fatalf("sign in with ADMIN_PASSWORD: %v", err)
		}
		// A different ADMIN_PASSWORD later does not change the password.
		env["ADMIN_PASSWORD"] = "a-different-password-now"
		r = run(t, "", env, "ensure-admin")
		r.expect(t, exitOK)
		if !strings.Contains(r.stdout, "not applied") {
			t.Errorf("stdout: %s", r.stdout)
		}
		if _, err := store.Authenticate(ctx, "root@example.org", goodPassword); err != nil {
			t.Errorf("the password changed: %v", err)
		}
	})

	t.Run("GrantsAdminToExistingUser", func(t *testing.T) {
		t.Parallel()
		url := testdb.URL(t)
		store := openTestStore(t, url)
		run(t, goodPassword, nil, "create-user", "--database-url", url, "--email", "sam@example.com", "--role", "support").expect(t, exitOK)
		r := run(t, "", map[string]string{"DATABASE_URL": url, "ADMIN_EMAIL": "sam@example.com"}, "ensure-admin")
		r.expect(t, exitOK)
		u, err := store.GetUserByEmail(ctx, "sam@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(u.Roles, ",") != "admin,support" {
			t.Errorf("roles %v, want admin and support", u.Roles)
		}
	})

	t.Run("WeakAdminPassword", func(t *testing.T) {
		t.Parallel()
		url := testdb.URL(t)
		r := run(t, "", map[string]string{"DATABASE_URL": url, "ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD": "short"}, "ensure-admin")
		r.expect(t, exitInvalid)
		if !strings.Contains(r.stderr, "ADMIN_PASSWORD must be at least 12 characters") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
}

func TestServe(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan result, 1)
	env := map[string]string{"DATABASE_URL": url, "SESSION_SECRET": strings.Repeat("s", 32), "LOG_LEVEL": "warn", "SHUTDOWN_DRAIN": "0"}
	go func() {
		done <- runApp(t, ctx, func(a net.Addr) { addrs <- a }, "", env, "serve", "--listen", "127.0.0.1:0")
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case r := <-done:
		t.Fatalf("serve stopped early: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	// Cancelling the context is what SIGTERM does: a graceful stop, status 0.
	cancel()
	select {
	case r := <-done:
		r.expect(t, exitOK)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		says string
	}{
		{"ShortSessionSecret", map[string]string{"SESSION_SECRET": "too-short"}, "at least 32 bytes"},
		{"UnknownLogLevel", map[string]string{"LOG_LEVEL": "loud"}, `unknown log level "loud"`},
		{"MalformedSecureCookies", map[string]string{"SECURE_COOKIES": "maybe"}, `SECURE_COOKIES="maybe"`},
		{"BothSecrets", map[string]string{"SESSION_SECRET": strings.Repeat("s", 32), "SESSION_SECRET_FILE": "/x"}, "not both"},
		{"MalformedTrustedProxies", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"}, `"proxy.example"`},
		{"MalformedIdleTimeout", map[string]string{"SESSION_IDLE_TIMEOUT": "soon"}, `SESSION_IDLE_TIMEOUT="soon"`},
		{"ZeroMaxAge", map[string]string{"SESSION_MAX_AGE": "0s"}, "must be positive durations"},
		{"NoConnections", map[string]string{"DB_MAX_CONNS": "0"}, "--db-max-conns must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
			r := run(t, "", tc.env, "serve")
			r.expect(t, exitUsage)
			if !strings.Contains(r.stderr, tc.says) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.says)
			}
		})
	}
}
