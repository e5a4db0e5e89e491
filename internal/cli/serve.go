package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"userpanel/db"
	"userpanel/handlers"
)

// serveGCPercent is the server's GOGC when the environment sets none.
const serveGCPercent = 400

func (a *App) serve(ctx context.Context, args []string) error {
	fs := a.newFlagSet("serve", "[flags]", `
Serve the admin panel over HTTP. The schema is migrated first (safe when
several instances start at once). Stops gracefully on SIGINT or SIGTERM.`)
	dbURL := databaseURLFlag(fs)
	if a.getenv("GOGC") == "" {
		// The server's live heap is a few megabytes, so Go's default (a
		// collection each time the heap doubles) collects every few
		// requests: a fifth of the CPU of the user table under load went to
		// the collector. Four times the live heap is still tens of megabytes.
		debug.SetGCPercent(serveGCPercent)
	}
	listen := fs.String("listen", "127.0.0.1:8080", "`address` to listen on (env LISTEN_ADDR)")
	// The session secret is never a flag: a command line is visible to
	// every user of the machine (ps). It comes from SESSION_SECRET or the
	// file SESSION_SECRET_FILE names.
	proxies := fs.String("trusted-proxies", "", "comma-separated CIDR `ranges` of the proxies in front of the panel, "+
		"whose X-Forwarded-For is believed; empty: the client is the connection's peer (env TRUSTED_PROXIES)")
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
	requestTimeout := fs.Duration("request-timeout", 1500*time.Millisecond,
		"deadline of a page's database work, waiting for a connection included; past it the page is a 503 (env REQUEST_TIMEOUT)")
	exportTimeout := fs.Duration("export-timeout", 10*time.Minute,
		"deadline, and statement_timeout, of a CSV export (env EXPORT_TIMEOUT)")
	connectTimeout := fs.Duration("db-connect-timeout", time.Second,
		"deadline of opening a database connection (env DB_CONNECT_TIMEOUT)")
	statementTimeout := fs.Duration("statement-timeout", 2*time.Second,
		"PostgreSQL's statement_timeout for the panel's queries (env DB_STATEMENT_TIMEOUT)")
	maxConns := fs.Int("db-max-conns", db.DefaultMaxConns(),
		"the most database connections the panel opens: about twice the database's cores (env DB_MAX_CONNS)")
	lockTimeout := fs.Duration("lock-timeout", time.Second,
		"PostgreSQL's lock_timeout: how long a change waits for a locked row (env DB_LOCK_TIMEOUT)")
	drain := fs.Duration("shutdown-drain", 5*time.Second,
		"on SIGTERM, how long to go on serving with /readyz failing, so that a load balancer stops sending (env SHUTDOWN_DRAIN)")
	shutdownTimeout := fs.Duration("shutdown-timeout", 15*time.Second,
		"after the drain, how long the requests in flight get to finish (env SHUTDOWN_TIMEOUT)")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "listen", "LISTEN_ADDR",
		"trusted-proxies", "TRUSTED_PROXIES", "secure-cookies", "SECURE_COOKIES",
		"log-level", "LOG_LEVEL", "log-format", "LOG_FORMAT",
		"request-timeout", "REQUEST_TIMEOUT", "export-timeout", "EXPORT_TIMEOUT",
		"db-connect-timeout", "DB_CONNECT_TIMEOUT", "statement-timeout", "DB_STATEMENT_TIMEOUT",
		"lock-timeout", "DB_LOCK_TIMEOUT", "db-max-conns", "DB_MAX_CONNS", "shutdown-drain", "SHUTDOWN_DRAIN",
		"shutdown-timeout", "SHUTDOWN_TIMEOUT",
		"session-idle-timeout", "SESSION_IDLE_TIMEOUT", "session-max-age", "SESSION_MAX_AGE",
		"metrics-addr", "METRICS_ADDR"); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"request-timeout", *requestTimeout}, {"export-timeout", *exportTimeout}, {"db-connect-timeout", *connectTimeout},
		{"statement-timeout", *statementTimeout}, {"lock-timeout", *lockTimeout}, {"shutdown-drain", *drain},
		{"shutdown-timeout", *shutdownTimeout}} {
		if d.v < 0 {
			return usageErrorf("--%s must not be negative, got %s", d.name, d.v)
		}
	}
	if *maxConns < 1 {
		return usageErrorf("--db-max-conns must be at least 1, got %d", *maxConns)
	}
	logger, err := a.newLogger(*level, *format)
	if err != nil {
		return err
	}
	key, err := a.sessionSecret()
	if err != nil {
		return err
	}
	trusted, err := handlers.ParseTrustedProxies(*proxies)
	if err != nil {
		return usageErrorf("TRUSTED_PROXIES: %v", err)
	}
	switch {
	case len(key) == 0:
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("make a session secret: %w", err)
		}
		key = []byte(hex.EncodeToString(key))
		logger.Warn("neither SESSION_SECRET nor SESSION_SECRET_FILE is set: using a random secret, so sign-ins will not survive a restart")
	case len(key) < handlers.MinSessionSecretLen:
		return usageErrorf("the session secret must be at least %d bytes, got %d (try: openssl rand -hex 32)",
			handlers.MinSessionSecretLen, len(key))
	}

	if *idle <= 0 || *maxAge <= 0 {
		return usageErrorf("the session idle timeout and max age must be positive durations, e.g. 30m and 12h")
	}
	metricsToken := a.getenv("METRICS_TOKEN")
	registry := prometheus.NewRegistry()

	// The schema is migrated over a connection of its own, without the
	// statement limits of the panel's: building an index on a large table
	// takes longer than any page may.
	version, applied, err := a.migrateURL(ctx, *dbURL)
	if err != nil {
		return err
	}
	logger.Info("database ready", "database", redact(*dbURL), "schema_version", version, "migrated", applied)
	store, err := db.OpenWithTimeouts(ctx, *dbURL, db.Timeouts{
		Connect: *connectTimeout, Statement: *statementTimeout, Lock: *lockTimeout, Export: *exportTimeout,
		MaxConns: *maxConns,
	})
	if err != nil {
		return fmt.Errorf("cannot use the database at %s: %w", redact(*dbURL), err)
	}
	defer store.Close()
	if n := db.BreachedPasswords(); n == 0 {
		logger.Warn("built without the breached-password list (run make assets before go build): only a few common passwords are refused")
	}

	var draining atomic.Bool
	panel, err := handlers.New(store, handlers.Options{
		SessionSecret:  key,
		SecureCookies:  *secure,
		Logger:         logger,
		Static:         a.Static,
		RequestTimeout: *requestTimeout,
		ExportTimeout:  *exportTimeout,
		Draining:       &draining,
		TrustedProxies: trusted,

		SessionIdleTimeout: *idle,
		SessionMaxAge:      *maxAge,
		MetricsToken:       metricsToken,
		Metrics:            registry,
	})
	if err != nil {
		return fmt.Errorf("build the panel: %w", err)
	}
	stopMetrics, err := a.serveMetrics(*metricsAddr, handlers.MetricsHandler(registry, metricsToken),
		handlers.RequireBearer(metricsToken, profiles()), metricsToken != "", logger)
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
		WriteTimeout:   max(10*time.Minute, *exportTimeout+30*time.Second),
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
	// Drain: /readyz fails at once, so that a load balancer stops sending
	// new requests, but the listener stays open for those already on their
	// way; answers say Connection: close, so that clients move off.
	draining.Store(true)
	srv.SetKeepAlivesEnabled(false)
	logger.Info("shutting down: draining", "drain", *drain)
	select {
	case <-time.After(*drain):
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shutting down: finishing the requests in flight", "timeout", *shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: requests still in flight after %s: %w", *shutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// sessionSecret reads the session secret from SESSION_SECRET, or from the
// file SESSION_SECRET_FILE names (trailing newlines trimmed); both set is a
// mistake. Empty means none was given.
func (a *App) sessionSecret() ([]byte, error) {
	env, file := a.getenv("SESSION_SECRET"), a.getenv("SESSION_SECRET_FILE")
	switch {
	case env != "" && file != "":
		return nil, usageErrorf("set SESSION_SECRET or SESSION_SECRET_FILE, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read SESSION_SECRET_FILE: %w", err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, usageErrorf("SESSION_SECRET_FILE %s is empty", file)
		}
		return b, nil
	}
	return []byte(env), nil
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
Bring the database to the latest schema version and print it: a new database
gets schema.sql whole, an existing one the numbered migrations it has not had
yet. Safe to run again, and from several places at once: a database already
at this version is left alone.`)
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

// migrateURL opens the database at rawURL, migrates it and closes it.
func (a *App) migrateURL(ctx context.Context, rawURL string) (version int, applied bool, err error) {
	store, err := openStore(ctx, rawURL)
	if err != nil {
		return 0, false, err
	}
	defer store.Close()
	return a.migrateStore(ctx, store)
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
