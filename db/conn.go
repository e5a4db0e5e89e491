package db

// Opening the pool with real deadlines, and telling an unreachable database
// from a refusal. Over 300 lines because the connection wrappers must pass
// on each optional interface of database/sql/driver, one small method each.

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Timeouts bound how long the database may keep the panel waiting. A zero
// field leaves that bound off.
type Timeouts struct {
	// Connect bounds opening a connection: the TCP connect and PostgreSQL's
	// start-up handshake (lib/pq's connect_timeout).
	Connect time.Duration
	// Statement is the server's statement_timeout of the pool's sessions:
	// PostgreSQL itself ends a statement that runs longer.
	Statement time.Duration
	// Lock is the server's lock_timeout: a statement waiting longer than this
	// for a row or table lock fails instead of queueing.
	Lock time.Duration
	// Export is the statement_timeout of the CSV export's query, which reads
	// the whole table and so gets its own, longer limit.
	Export time.Duration
	// MaxConns is the most connections the pool opens; 0 is
	// DefaultMaxConns.
	MaxConns int
}

// DefaultMaxConns is the pool's size unless told otherwise: twice the
// cores of this machine (the rule of thumb for PostgreSQL's active
// connections, for a database sized like the panel's host), and at least 4.
// More connections than the database has cores do not make it answer more:
// they make it run more statements at once, each slower, and the slowest
// much slower (at 8 requests at once on 2 cores, a pool of 20 gave the user
// page a p99 of 105–131 ms, a pool of 4 26–28 ms, at the same throughput).
func DefaultMaxConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// DefaultConnectTimeout is the connect timeout of Open.
const DefaultConnectTimeout = 2 * time.Second

// probeTimeout bounds the check that a connection still answers before a
// long query (the export) is given it.
const probeTimeout = time.Second

// recordTimeout bounds writing an export's audit row, under the export's
// long deadline.
const recordTimeout = 2 * time.Second

// Open connects to the PostgreSQL database at url (a postgres:// URL) and
// checks that it answers, with DefaultConnectTimeout and no statement limits
// (what the command line's long jobs, migrate and seed, want).
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWithTimeouts(ctx, url, Timeouts{Connect: DefaultConnectTimeout})
}

// OpenWithTimeouts is Open with the given bounds. Settings the URL spells out
// itself (connect_timeout, statement_timeout, lock_timeout) win over t.
//
// Every connection is also given up on when the context of the call using it
// ends: lib/pq then asks the server to cancel the query and waits for its
// answer, which a frozen server (its processes stopped, a stuck disk, a
// network partition) never sends, so the socket is closed under it instead
// (see watchedConn). TCP keepalives find a peer that has vanished from the
// network while a connection sits idle.
func OpenWithTimeouts(ctx context.Context, url string, t Timeouts) (*Store, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	if cfg.ConnectTimeout == 0 && t.Connect > 0 {
		cfg.ConnectTimeout = t.Connect
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	setRuntime := func(name string, d time.Duration) {
		if _, ok := cfg.Runtime[name]; !ok && d > 0 {
			cfg.Runtime[name] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
	setRuntime("statement_timeout", t.Statement)
	setRuntime("lock_timeout", t.Lock)
	// A query with parameters in one round trip (parse, bind and execute
	// sent together) rather than two (lib/pq otherwise waits for the
	// statement's description before it binds): half the waits of every
	// page. []byte parameters then go in binary, which is what the bytea
	// columns they are sent for take; JSON goes as text.
	if !strings.Contains(url, "binary_parameters") {
		cfg.BinaryParameters = true
	}
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	pc.Dialer(keepaliveDialer{d: net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}})
	conn := sqlx.NewDb(sql.OpenDB(watchedConnector{pc}), "postgres")
	n := t.MaxConns
	if n <= 0 {
		n = DefaultMaxConns()
	}
	conn.SetMaxOpenConns(n)
	conn.SetMaxIdleConns(n)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.PingContext(pingCtx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("db: connect: %w", err)
	}
	s := New(conn)
	s.exportTimeout = t.Export
	return s, nil
}

// IsUnavailable reports whether err says the database could not be reached
// or did not answer in time, rather than that it refused the request: the
// panel answers such errors with 503, "try again in a moment".
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code.Class() == "08", // connection_exception
			pqErr.Code == "57P01", pqErr.Code == "57P02", pqErr.Code == "57P03", // shutting down, crashed, starting up
			pqErr.Code == "57014", // query_canceled: statement_timeout, or our cancel
			pqErr.Code == "55P03", // lock_not_available: lock_timeout
			pqErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// keepaliveDialer is lib/pq's dialer with TCP keepalives tuned, and it hands
// the dialled socket to the connection that asked for it (see watchedConnector).
type keepaliveDialer struct{ d net.Dialer }

type socketKey struct{}

// socketSlot receives the socket lib/pq dials for one connection.
type socketSlot struct{ conn net.Conn }

func (k keepaliveDialer) Dial(network, address string) (net.Conn, error) {
	return k.DialContext(context.Background(), network, address)
}

func (k keepaliveDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return k.DialContext(ctx, network, address)
}

func (k keepaliveDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := k.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	// Only a connection's own dial carries a slot; lib/pq's cancel
	// requests dial without one.
	if slot, ok := ctx.Value(socketKey{}).(*socketSlot); ok {
		slot.conn = c
	}
	return &bufferedSocket{Conn: c, r: bufio.NewReaderSize(c, socketReadBuffer)}, nil
}

// socketReadBuffer is how much of the database's answers one read from the
// socket takes.
const socketReadBuffer = 64 << 10

// bufferedSocket reads the database's answers socketReadBuffer at a time:
// lib/pq reads through a buffer of 4 KB, one read from the socket each, and
// a million-row export is some 150 MB of answers.
type bufferedSocket struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedSocket) Read(p []byte) (int, error) { return b.r.Read(p) }

// watchedConnector makes lib/pq connections whose socket is closed when the
// context of the call using them ends before the call does.
type watchedConnector struct{ pq *pq.Connector }

func (w watchedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	slot := &socketSlot{}
	c, err := w.pq.Connect(context.WithValue(ctx, socketKey{}, slot))
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: c, socket: slot.conn}, nil
}

func (w watchedConnector) Driver() driver.Driver { return w.pq.Driver() }

// watchedConn is a lib/pq connection whose every call is watched: when the
// call's context ends first, the socket is closed, so that a read from a
// server that never answers fails at once; the connection is then reported
// bad and the pool drops it. It forwards each interface lib/pq's connection
// implements, so database/sql uses it exactly as it would lib/pq's.
type watchedConn struct {
	driver.Conn
	socket net.Conn
	killed atomic.Bool
}

// watch closes the socket when ctx ends; the returned stop ends the watch.
func (c *watchedConn) watch(ctx context.Context) (stop func()) {
	if c.socket == nil || ctx.Done() == nil {
		return func() {}
	}
	var once sync.Once
	unwatch := context.AfterFunc(ctx, func() {
		once.Do(func() {
			c.killed.Store(true)
			_ = c.socket.Close()
		})
	})
	return func() { unwatch() }
}

func (c *watchedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	defer c.watch(ctx)()
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	// A COPY (lib/pq's copyin) takes its rows through the legacy Exec and
	// stays as it is; a statement proper is watched.
	_, execs := st.(driver.StmtExecContext)
	_, queries := st.(driver.StmtQueryContext)
	if !execs || !queries {
		return st, nil
	}
	return &watchedStmt{Stmt: st, conn: c}, nil
}

// watchedStmt is a prepared statement whose runs are watched as the
// connection's own calls are (Store.prepared keeps some for good).
type watchedStmt struct {
	driver.Stmt
	conn *watchedConn
}

func (s *watchedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer s.conn.watch(ctx)()
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *watchedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	stop := s.conn.watch(ctx)
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		stop()
		return nil, err
	}
	return &watchedRows{Rows: rows, stop: stop}, nil
}

func (s *watchedStmt) CheckNamedValue(nv *driver.NamedValue) error {
	return s.conn.CheckNamedValue(nv)
}

func (c *watchedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	defer c.watch(ctx)()
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *watchedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	stop := c.watch(ctx)
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		stop()
		return nil, err
	}
	// The rows are read after QueryContext returns: the watch lasts until
	// they are closed.
	return &watchedRows{Rows: rows, stop: stop}, nil
}

func (c *watchedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	// database/sql rolls a transaction back when its context ends; with a
	// frozen server that rollback would wait for ever, so the watch lasts
	// until the transaction ends.
	stop := c.watch(ctx)
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		stop()
		return nil, err
	}
	return &watchedTx{Tx: tx, stop: stop}, nil
}

func (c *watchedConn) Ping(ctx context.Context) error {
	defer c.watch(ctx)()
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *watchedConn) ResetSession(ctx context.Context) error {
	if c.killed.Load() {
		return driver.ErrBadConn
	}
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *watchedConn) IsValid() bool {
	return !c.killed.Load() && c.Conn.(driver.Validator).IsValid()
}

func (c *watchedConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// watchedRows ends its connection's watch when closed.
type watchedRows struct {
	driver.Rows
	stop func()
}

// The optional interfaces of lib/pq's rows, forwarded so that
// database/sql's ColumnTypes and multiple result sets keep working.

func (r *watchedRows) HasNextResultSet() bool {
	return r.Rows.(driver.RowsNextResultSet).HasNextResultSet()
}

func (r *watchedRows) NextResultSet() error { return r.Rows.(driver.RowsNextResultSet).NextResultSet() }

func (r *watchedRows) ColumnTypeScanType(i int) reflect.Type {
	return r.Rows.(driver.RowsColumnTypeScanType).ColumnTypeScanType(i)
}

func (r *watchedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.Rows.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(i)
}

func (r *watchedRows) ColumnTypeLength(i int) (int64, bool) {
	return r.Rows.(driver.RowsColumnTypeLength).ColumnTypeLength(i)
}

func (r *watchedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.Rows.(driver.RowsColumnTypePrecisionScale).ColumnTypePrecisionScale(i)
}

func (r *watchedRows) Close() error {
	err := r.Rows.Close()
	r.stop()
	return err
}

// watchedTx ends its connection's watch when it commits or rolls back.
type watchedTx struct {
	driver.Tx
	stop func()
}

func (t *watchedTx) Commit() error {
	defer t.stop()
	return t.Tx.Commit()
}

func (t *watchedTx) Rollback() error {
	defer t.stop()
	return t.Tx.Rollback()
}
