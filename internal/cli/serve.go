package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"userpanel/db"
	"userpanel/handlers"
)

func (a *App) serve(ctx context.Context, args []string) error {
	fs := a.newFlagSet("serve", "[flags]", `
Serve the admin panel over HTTP. The schema is migrated first (safe when
several instances start at once). Stops gracefully on SIGINT or SIGTERM.`)
	dbURL := databaseURLFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "`address` to listen on (env LISTEN_ADDR)")
	secret := fs.String("session-secret", "", "`secret` of at least 32 bytes that signs and encrypts the session cookie; "+
		"empty makes a random one, and sign-ins end at a restart (env SESSION_SECRET)")
	secure := fs.Bool("secure-cookies", false, "mark cookies Secure, for a panel served over TLS (env SECURE_COOKIES)")
	idle := fs.Duration("session-idle-timeout", db.DefaultSessionIdleTimeout,
		"a panel sign-in ends this `long` after its last request (env SESSION_IDLE_TIMEOUT)")
	maxAge := fs.Duration("session-max-age", db.DefaultSessionMaxAge,
		"a panel sign-in ends this `long` after it began, however busy (env SESSION_MAX_AGE)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics on this `address` of its own; "+
		"without it (and without METRICS_TOKEN) metrics are not served (env METRICS_ADDR). "+
		"The env METRICS_TOKEN, if set, is the bearer token /metrics asks for, on the panel's address too",
	)
	level := fs.String("log-level", "info", "debug, info, warn or error (env LOG_LEVEL)")
	format := fs.String("log-format", "auto", "text, json, or auto: text on a terminal, else json (env LOG_FORMAT)")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "listen", "LISTEN_ADDR",
		"session-secret", "SESSION_SECRET", "secure-cookies", "SECURE_COOKIES",
		"log-level", "LOG_LEVEL", "log-format", "LOG_FORMAT",
		"session-idle-timeout", "SESSION_IDLE_TIMEOUT", "session-max-age", "SESSION_MAX_AGE",
		"metrics-addr", "METRICS_ADDR"); err != nil {
		return err
	}
	logger, err := a.newLogger(*level, *format)
	if err != nil {
		return err
	}
	key := []byte(*secret)
	switch {
	case len(key) == 0:
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("make a session secret: %w", err)
		}
		key = []byte(hex.EncodeToString(key))
		logger.Warn("SESSION_SECRET is not set: using a random one, so sign-ins will not survive a restart")
	case len(key) < handlers.MinSessionSecretLen:
		return usageErrorf("the session secret must be at least %d bytes, got %d (try: openssl rand -hex 32)",
			handlers.MinSessionSecretLen, len(key))
	}

	if *idle <= 0 || *maxAge <= 0 {
		return usageErrorf("the session idle timeout and max age must be positive durations, e.g. 30m and 12h")
	}
	metricsToken := a.getenv("METRICS_TOKEN")
	registry := prometheus.NewRegistry()

	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	version, applied, err := a.migrateStore(ctx, store)
	if err != nil {
		return err
	}
	logger.Info("database ready", "database", redact(*dbURL), "schema_version", version, "migrated", applied)

	panel, err := handlers.New(store, handlers.Options{
		SessionSecret: key,
		SecureCookies: *secure,
		Logger:        logger,
		Static:        a.Static,

		SessionIdleTimeout: *idle,
		SessionMaxAge:      *maxAge,
		MetricsToken:       metricsToken,
		Metrics:            registry,
	})
	if err != nil {
		return fmt.Errorf("build the panel: %w", err)
	}
	stopMetrics, err := a.serveMetrics(*metricsAddr, handlers.MetricsHandler(registry, metricsToken), metricsToken != "", logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := &http.Server{
		Handler:           panel,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Long enough for the CSV export of a million users, which streams.
		WriteTimeout:   10 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("serving the panel", "url", "http://"+ln.Addr().String()+"/")
	if a.onListen != nil {
		a.onListen(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing the requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// newLogger makes the slog logger that serve logs to, on standard error.
func (a *App) newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("unknown log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var w io.Writer = a.Stderr
	switch strings.ToLower(format) {
	case "auto":
		if _, tty := isTerminal(a.Stderr); tty {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("unknown log format %q: use text, json or auto", format)
}

func (a *App) migrate(ctx context.Context, args []string) error {
	fs := a.newFlagSet("migrate", "[flags]", `
Apply schema.sql to the database and print the schema version. Safe to run
again, and from several places at once: a database already at this version
is left alone.`)
	dbURL := databaseURLFlag(fs)
	if err := a.parse(fs, args, "database-url", "DATABASE_URL"); err != nil {
		return err
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	version, applied, err := a.migrateStore(ctx, store)
	if err != nil {
		return err
	}
	if applied {
		fmt.Fprintf(a.Stdout, "migrated the database to schema version %d\n", version)
	} else {
		fmt.Fprintf(a.Stdout, "the database is at schema version %d already\n", version)
	}
	return nil
}

// migrateStore applies the schema and returns the version the database is at.
func (a *App) migrateStore(ctx context.Context, store *db.Store) (version int, applied bool, err error) {
	applied, err = db.Migrate(ctx, store.DB().DB, a.Schema)
	if err != nil {
		return 0, false, err
	}
	version, err = db.CurrentSchemaVersion(ctx, store.DB().DB)
	if err != nil {
		return 0, false, err
	}
	return version, applied, nil
}
