package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveMetrics serves /metrics on addr, a listen address of its own that
// only the monitoring network should reach, and Go's profiles under
// /debug/pprof/ (profile for CPU, heap, goroutine...) behind the same token;
// the returned function stops it.
// With no addr nothing is started, and the log says where metrics are.
func (a *App) serveMetrics(addr string, metrics, profiles http.Handler, hasToken bool, logger *slog.Logger) (func(), error) {
	if addr == "" {
		if hasToken {
			logger.Info("metrics at /metrics on the panel's address, with METRICS_TOKEN as bearer token")
		} else {
			logger.Info("metrics are not served: set METRICS_ADDR, or METRICS_TOKEN to serve them on the panel's address")
		}
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.Handle("GET /debug/pprof/", profiles)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics", "token", hasToken)
	if a.onMetricsListen != nil {
		a.onMetricsListen(ln.Addr())
	}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// profiles serves Go's runtime profiles: the index and every named profile
// (heap, goroutine, mutex...) under /debug/pprof/, a CPU profile at
// /debug/pprof/profile?seconds=N and an execution trace at
// /debug/pprof/trace?seconds=N.
func profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
