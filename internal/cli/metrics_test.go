package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"userpanel/internal/testdb"
)

// Metrics on an address of their own (METRICS_ADDR), and on the panel's
// address only with the bearer token (METRICS_TOKEN).
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	panelAddr, metricsAddr := make(chan net.Addr, 1), make(chan net.Addr, 1)
	env := map[string]string{"DATABASE_URL": url, "SESSION_SECRET": strings.Repeat("s", 32), "LOG_LEVEL": "warn",
		"METRICS_ADDR": "127.0.0.1:0", "METRICS_TOKEN": "metrics-token-4711"}
	var stderr bytes.Buffer
	app := &App{
		Schema: testdb.Schema(t), Static: fstest.MapFS{"app.css": {Data: []byte("body{}")}},
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
		Getenv:          func(k string) string { return env[k] },
		onListen:        func(a net.Addr) { panelAddr <- a },
		onMetricsListen: func(a net.Addr) { metricsAddr <- a },
	}
	done := make(chan int, 1)
	go func() { done <- app.Run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}) }()
	var panel, metrics net.Addr
	for panel == nil || metrics == nil {
		select {
		case panel = <-panelAddr:
		case metrics = <-metricsAddr:
		case code := <-done:
			t.Fatalf("serve stopped early: %d\n%s", code, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start listening")
		}
	}
	get := func(addr net.Addr, auth string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String()+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), "userpanel_http_requests_total") {
			t.Errorf("%s/metrics: no panel metrics in %.200s", addr, body)
		}
		return resp.StatusCode
	}
	// A request to the panel first, so that its counter exists.
	if resp, err := http.Get("http://" + panel.String() + "/login"); err == nil {
		resp.Body.Close()
	}
	for _, addr := range []net.Addr{panel, metrics} {
		if code := get(addr, ""); code != http.StatusUnauthorized {
			t.Errorf("%s/metrics without a token: %d, want 401", addr, code)
		}
		if code := get(addr, "Bearer nope"); code != http.StatusUnauthorized {
			t.Errorf("%s/metrics with a wrong token: %d, want 401", addr, code)
		}
		if code := get(addr, "Bearer metrics-token-4711"); code != http.StatusOK {
			t.Errorf("%s/metrics with the token: %d, want 200", addr, code)
		}
	}
	// Go's profiles are on the metrics address, behind the same token, and
	// not on the panel's address at all.
	profile := func(addr net.Addr, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	if code, _ := profile(metrics, "/debug/pprof/heap", ""); code != http.StatusUnauthorized {
		t.Errorf("profiles without a token: %d, want 401", code)
	}
	if code, body := profile(metrics, "/debug/pprof/", "Bearer metrics-token-4711"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("profile index with the token: %d %.200s", code, body)
	}
	if code, body := profile(metrics, "/debug/pprof/profile?seconds=1", "Bearer metrics-token-4711"); code != http.StatusOK || len(body) == 0 {
		t.Errorf("CPU profile with the token: %d, %d bytes", code, len(body))
	}
	if code, _ := profile(panel, "/debug/pprof/heap", "Bearer metrics-token-4711"); code == http.StatusOK {
		t.Errorf("profiles on the panel's address: %d", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("serve exited %d\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
