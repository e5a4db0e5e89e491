// Package db is userpanel's Go API for managing users: every query and every
// change lives here, and the web panel and the command line are two clients
// of the same Store.
//
// Every change takes its actor from the context (see WithActor), writes its
// audit row in the same transaction, and fires its event after the commit.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Store is the user-management API over one PostgreSQL database.
type Store struct {
	db *sqlx.DB

	mu       sync.RWMutex
	handlers map[Event][]func(EventData)

	// now is the clock BanUser checks "until" against (time.Now).
	now func() time.Time

	// hashes bounds the password hashes computed at once (throttle.go).
	hashes *hashGate
	// throttleSweeps counts sign-in attempts, to sweep old throttle rows
	// now and then.
	throttleSweeps atomic.Uint64

	// exportTimeout is the statement_timeout of the exports' queries; zero
	// leaves the session's own.
	exportTimeout time.Duration

	// stmts are the prepared statements of prepared, by query text.
	stmts sync.Map
	// roles is what ListRoles read, once.
	roles atomic.Pointer[[]Role]
}

// New wraps an open connection pool (driver "postgres") in a Store.
func New(conn *sqlx.DB) *Store {
	return &Store{db: conn, handlers: map[Event][]func(EventData){}, now: time.Now,
		hashes: newHashGate(runtime.GOMAXPROCS(0) / 2)}
}

// prepared returns query as a prepared statement, made on first use. It is
// for the few fixed statements that every page runs (the session, the
// dashboard), whose planning costs more than their run: PostgreSQL keeps
// their plan. database/sql prepares it again on each new connection, so a
// restarted database is no matter. Never for a query whose best plan depends
// on its arguments (a search pattern), which a kept plan could not follow.
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("db: prepare: %w", err)
	}
	if old, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return old.(*sqlx.Stmt), nil
	}
	return st, nil
}

// DB returns the underlying pool, for health checks and tools.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("db: ping: %w", err)
	}
	return nil
}

// withTx runs fn in a transaction, commits it, then fires the events fn
// queued — only after a successful commit.
func (s *Store) withTx(ctx context.Context, fn func(tx *sqlx.Tx, ev *pending) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var ev pending
	if err := fn(tx, &ev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	s.fire(ev)
	return nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23505"
}

// validText reports whether PostgreSQL can hold s as text: valid UTF-8 with
// no NUL byte. Anything else makes the server refuse the whole statement, so
// input is checked with this first and refused as input, never as a
// database error (a 500).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// validID reports whether id looks like a UUID, so that a malformed id is
// ErrNotFound rather than a database error.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, r := range id {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// notFound maps sql.ErrNoRows to ErrNotFound and wraps anything else.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return fmt.Errorf("db: %s: %w", what, err)
}
