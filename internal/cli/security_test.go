package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"userpanel/db"
	"userpanel/internal/testdb"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"postgres://ann:s3cret@db.example:5432/app?sslmode=disable", "postgres://ann:xxxxx@db.example:5432/app?sslmode=disable"},
		{"postgresql://ann@db.example/app?password=s3cret&sslmode=require", "postgresql://ann@db.example/app?password=xxxxx&sslmode=require"},
		{"host=db.example user=ann password=s3cret dbname=app", "host=db.example user=ann password=xxxxx dbname=app"},
		{"host=db.example password = 's3 cr\\'et' dbname=app", "host=db.example password = xxxxx dbname=app"},
		{"PASSWORD=s3cret host=h", "PASSWORD=xxxxx host=h"},
		{"host=db.example dbname=app", "host=db.example dbname=app"},
	}
	for _, c := range cases {
		got := redact(c.in)
		if got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, "s3") {
			t.Errorf("redact(%q) = %q still holds the password", c.in, got)
		}
	}
}

// TestOpenStoreRedactsKeyValue: the error of a database that cannot be
// reached names it without its password, in the key=value form too.
func TestOpenStoreRedactsKeyValue(t *testing.T) {
	t.Parallel()
	r := run(t, "", map[string]string{"DATABASE_URL": "host=127.0.0.1 port=1 user=nobody password=hunter2-secret dbname=none sslmode=disable connect_timeout=2"}, "migrate")
	r.expect(t, exitUnavailable)
	if strings.Contains(r.stderr, "hunter2") || !strings.Contains(r.stderr, "password=xxxxx") {
		t.Errorf("stderr %q: want the password redacted", r.stderr)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	env := map[string]string{"DATABASE_URL": url}
	run(t, "first-password-of-ann\n", env, "create-user", "--email", "ann@example.com", "--role", "admin").expect(t, exitOK)
	store := openTestStore(t, url)
	ctx := context.Background()
	before, _ := store.GetUserByEmail(ctx, "ann@example.com")

	t.Run("OK", func(t *testing.T) {
		r := run(t, "second-password-of-ann\n", env, "set-password", "--email", "ANN@example.com", "--must-change")
		r.expect(t, exitOK)
		if _, err := store.Authenticate(ctx, "ann@example.com", "second-password-of-ann"); err != nil {
			t.Fatalf("sign in with the new password: %v", err)
		}
		u, _ := store.GetUserByEmail(ctx, "ann@example.com")
		if !u.MustChangePassword || u.SessionVersion == before.SessionVersion {
			t.Errorf("must change %v, session version %d -> %d: want a required change and sessions ended",
				u.MustChangePassword, before.SessionVersion, u.SessionVersion)
		}
		page, err := store.ListAudit(ctx, db.AuditFilter{Action: db.ActionPasswordSet, TargetID: u.ID})
		if err != nil || len(page.Entries) != 1 || page.Entries[0].ActorEmail != "system:cli" {
			t.Fatalf("audit rows %+v, %v: want one user.password_set by system:cli", page.Entries, err)
		}
	})
	t.Run("Breached", func(t *testing.T) {
		r := run(t, "administrator\n", env, "set-password", "--email", "ann@example.com")
		r.expect(t, exitInvalid)
		if !strings.Contains(r.stderr, "invalid password") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		r := run(t, "third-password-of-ann\n", env, "set-password", "--email", "nobody@example.com")
		r.expect(t, exitNotFound)
		if !strings.Contains(r.stderr, "no user has the email nobody@example.com") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("NoEmail", func(t *testing.T) {
		run(t, "x\n", env, "set-password").expect(t, exitUsage)
	})
}

// TestServeReadsSecretFile: the secret comes from SESSION_SECRET_FILE, and
// --session-secret is no flag any more.
func TestServeReadsSecretFile(t *testing.T) {
	t.Parallel()
	r := run(t, "", map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, "serve", "--session-secret", strings.Repeat("s", 32))
	r.expect(t, exitUsage)

	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "SESSION_SECRET_FILE": file}, "serve")
	r.expect(t, exitUsage)
	if !strings.Contains(r.stderr, "at least 32 bytes") {
		t.Errorf("a short secret file: %q", r.stderr)
	}

	if err := os.WriteFile(file, []byte(strings.Repeat("f", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := testdb.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan result, 1)
	env := map[string]string{"DATABASE_URL": url, "SESSION_SECRET_FILE": file, "LOG_LEVEL": "warn"}
	go func() {
		done <- runApp(t, ctx, func(a net.Addr) { addrs <- a }, "", env, "serve", "--listen", "127.0.0.1:0")
	}()
	select {
	case addr := <-addrs:
		resp, err := http.Get("http://" + addr.String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	case r := <-done:
		t.Fatalf("serve stopped early: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	cancel()
	r = <-done
	r.expect(t, exitOK)
	if strings.Contains(r.stderr, "random secret") {
		t.Errorf("serve did not use the file's secret: %s", r.stderr)
	}
}
