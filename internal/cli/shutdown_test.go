package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"userpanel/internal/testdb"
)

// TestShutdownUnderLoad builds the binary, serves with it, and sends it
// SIGTERM while clients keep it busy, the way a rolling deploy does: a load
// balancer polls /readyz and stops sending as soon as it fails, and slow
// downloads are in flight. /readyz must fail at once, every request sent
// must get its whole answer (none dropped, none reset), and the process must
// exit 0 once the downloads are done.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	createStaff(t, dbURL, "ada@shutdown.test", "admin", staffPassword)
	const seeded = 20000
	run(t, "", map[string]string{"DATABASE_URL": dbURL}, "seed", "--force", "--users", fmt.Sprint(seeded)).expect(t, exitOK)
	var users int
	if err := openTestStore(t, dbURL).DB().Get(&users, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)

	port := freeTCPPort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	const drain = 1500 * time.Millisecond
	cmd := exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = []string{"DATABASE_URL=" + dbURL, "SESSION_SECRET=" + serverSecret, "LOG_FORMAT=json", "LOG_LEVEL=warn",
		"SHUTDOWN_DRAIN=" + drain.String(), "SHUTDOWN_TIMEOUT=30s", "REQUEST_TIMEOUT=10s"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitHealthy(t, base, exited)

	v := newVisitor(t)
	v.signIn(base, "ada@shutdown.test", staffPassword)

	// The load balancer: polls /readyz, and from its first failure sends
	// nothing more.
	var out atomic.Bool
	var sigterm atomic.Int64 // unix nanoseconds
	lbDone := make(chan time.Duration, 1)
	go func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			resp, err := client.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				out.Store(true)
				if s := sigterm.Load(); s != 0 {
					lbDone <- time.Since(time.Unix(0, s))
				} else {
					lbDone <- -1
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	var (
		mu       sync.Mutex
		failures []string
		answered atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var wg sync.WaitGroup
	// Eight clients on kept-alive connections, each going on until the load
	// balancer takes the instance out.
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Jar: v.client.Jar, Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i := 0; !out.Load(); i++ {
				path := "/users?page=" + fmt.Sprint(1+(w*7+i)%50)
				resp, err := client.Get(base + path)
				if err != nil {
					fail("GET %s: %v", path, err)
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					fail("GET %s: status %d, read error %v", path, resp.StatusCode, err)
					return
				}
				answered.Add(1)
			}
		}()
	}

	time.Sleep(500 * time.Millisecond) // under load
	sigterm.Store(time.Now().UnixNano())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case took := <-lbDone:
		if took < 0 || took > 500*time.Millisecond {
			t.Errorf("/readyz failed %s after SIGTERM, want at once (within 500ms)", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("/readyz still ready 5 s after SIGTERM")
	}

	// Downloads begun during the drain (clients the balancer had already
	// routed), read slowly, so that they are still in flight when the drain
	// ends and the listener closes: each must arrive whole.
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Jar: v.client.Jar, Timeout: 60 * time.Second}
			resp, err := client.Get(base + "/users/export.csv")
			if err != nil {
				fail("export: %v", err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail("export: status %d", resp.StatusCode)
				return
			}
			lines := 0
			r := bufio.NewReaderSize(resp.Body, 4096)
			for {
				_, err := r.ReadString('\n')
				if err == io.EOF {
					break
				}
				if err != nil {
					fail("export cut after %d lines: %v", lines, err)
					return
				}
				lines++
				if lines%1000 == 0 {
					time.Sleep(150 * time.Millisecond) // about 3 s for the whole file
				}
			}
			if want := users + 1; lines != want { // the header, then every user
				fail("export: %d lines, want %d", lines, want)
			}
			if time.Since(time.Unix(0, sigterm.Load())) < drain {
				fail("export done before the drain ended: it was not in flight when the listener closed")
			}
		}()
	}
	wg.Wait()

	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("serve exited with %v, want status 0\n%s", waitErr, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM\n%s", stderr.String())
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d requests answered under load, %d failed", answered.Load(), len(failures))
	if answered.Load() == 0 {
		t.Error("no request was answered: the load did not run")
	}
	// After the drain the port is closed: nobody is left listening.
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		conn.Close()
		t.Error("the port still accepts connections after exit")
	}
}

// buildBinary builds ./userpanel into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "userpanel")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeTCPPort asks the kernel for a free port on 127.0.0.1.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHealthy waits for /healthz to answer 200.
func waitHealthy(t *testing.T, base string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatal("serve exited before it was healthy")
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy after a minute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
