package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serveMetrics serves /metrics on addr, a listen address of its own that
// only the monitoring network should reach; the returned function stops it.
// With no addr nothing is started, and the log says where metrics are.
func (a *App) serveMetrics(addr string, metrics http.Handler, hasToken bool, logger *slog.Logger) (func(), error) {
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
