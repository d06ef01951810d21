package mysqlnode

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/probe/mysqlprobe"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// Defaults for zero Options.
const (
	// DefaultTimeout bounds dialing (with the handshake and the session
	// setup) and each statement, beyond the statement's own server-side
	// wait (Fence's lock wait, WaitApplied's slice), when Options.Timeout is
	// zero.
	DefaultTimeout = time.Second
	// DefaultPoll is the pause between two reads of the server while
	// KillOtherAdminSessions waits for the killed sessions to end and
	// Repoint waits for the threads to run, when Options.Poll is zero. A
	// repoint's threads run about 7 ms after its START here: polls are
	// cheap next to a slower answer.
	DefaultPoll = 5 * time.Millisecond
)

// stopWait is what a statement that stops a replica's IO thread (STOP
// SLAVE [IO_THREAD], STOP REPLICA [IO_THREAD]) may take beyond Timeout: a
// MariaDB semi-sync replica opens a connection to its source to kill its
// binlog dump thread, and waits up to rpl_semi_sync_slave_kill_conn_timeout
// (default 5 s) when the source hangs. Measured with a SIGSTOPped source on
// MariaDB 10.11: 2.0 s with the default, 1.0 s with 1, without end with 0;
// 1 ms for an asynchronous replica.
const stopWait = 5 * time.Second

// The errors of this package, beside the server's (*mysql.MySQLError) and
// the connection's. Classify calls the ones that report what the server
// answered Failed.
var (
	// ErrNoAddress is returned by every call of a Node opened without an
	// Address.
	ErrNoAddress = errors.New("no address")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("node closed")
	// ErrSessionLost: the session failed earlier in the same call (a
	// timeout, a dropped connection); the call stops there rather than
	// run its remaining statements on a new session without the first
	// ones' session settings. The next call connects again.
	ErrSessionLost = errors.New("admin session lost during the call")
	// ErrStalled: WaitApplied gave up because the replica's applier (SQL
	// thread) is stopped, failed, or applied nothing over a whole slice.
	ErrStalled = errors.New("replication applier stalled")
	// ErrReplication: after Repoint a replication thread stopped with an
	// error, or reported one while connecting (Last_IO_Errno,
	// Last_SQL_Errno).
	ErrReplication = errors.New("replication thread error")
	// ErrNotReplicating: the step needs a replica whose threads run (or
	// one at all) and the node is not one.
	ErrNotReplicating = errors.New("not replicating")
	// ErrReadOnly: after Promote's read_only=OFF the node still reports
	// read_only (or super_read_only) ON.
	ErrReadOnly = errors.New("still read-only")
)

// Options say how to reach a node with the admin account.
type Options struct {
	// Address is host:port to dial (after the address map); required.
	Address string
	// Username and Password are the admin account (privileges in doc.go).
	// KillOtherAdminSessions kills the other sessions of Username; Fence
	// never kills them.
	Username, Password string
	// Timeout bounds dialing (handshake and session setup included) and
	// each statement beyond its own server-side wait. Default
	// DefaultTimeout (1 s). A call's ctx bounds the whole call.
	Timeout time.Duration
	// SpareUsers are accounts whose sessions Fence does not kill, beside
	// Username (a DBA's account, a monitoring agent's). Account names
	// without the host part.
	SpareUsers []string
	// Poll is the pause between two reads while KillOtherAdminSessions
	// waits for the killed sessions to end and Repoint waits for the
	// threads. Default DefaultPoll (5 ms).
	Poll time.Duration
}

// Node is the admin session on one MySQL or MariaDB server: one connection
// (a *sql.Conn held from a *sql.DB of at most one), opened by the first
// call, set up with mysqlsql.SessionSetup, and replaced after an error that
// was not the server's answer (the next call dials again). Holding one
// connection is what makes "every session but this one" exact, keeps
// session settings (lock_wait_timeout) where the statements run, and means
// a statement is never sent again on another connection by database/sql.
//
// A Node is for one goroutine at a time: calls must not overlap, and Close
// must not run during a call (cancel the call's ctx instead).
type Node struct {
	o Options

	db     *sql.DB   // nil until the first call
	conn   *sql.Conn // the admin session; nil until needed, and after a connection error
	flavor mysqlsql.Flavor
	closed bool
}

// Open returns the admin node at o.Address. It does no I/O and starts
// nothing: the first call dials.
func Open(o Options) *Node {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	return &Node{o: o}
}

// Address is the address the node dials (Options.Address).
func (n *Node) Address() string { return n.o.Address }

// Close closes the node's session. Later calls return ErrClosed.
func (n *Node) Close() error {
	n.closed = true
	n.drop()
	if n.db == nil {
		return nil
	}
	err := n.db.Close()
	n.db = nil
	if err != nil {
		return fmt.Errorf("close mysql node %s: %w", n.o.Address, err)
	}
	return nil
}

// Flavor is the server's flavor and version (its @@version, read again on
// each new connection: a restarted server may have been upgraded). It
// connects when the node has no session.
func (n *Node) Flavor(ctx context.Context) (mysqlsql.Flavor, error) {
	f, err := n.begin(ctx)
	if err != nil {
		return mysqlsql.Flavor{}, fmt.Errorf("read the flavor of %s: %w", n.o.Address, err)
	}
	return f, nil
}

// begin starts a call: it checks that the session is still open (a local,
// non-blocking look at the socket: a session the server closed, by a kill
// or a restart, is replaced before anything is sent on it), connects when
// there is none, and returns the server's flavor. Only begin connects:
// within a call a lost session ends the call (ErrSessionLost).
func (n *Node) begin(ctx context.Context) (mysqlsql.Flavor, error) {
	switch {
	case n.closed:
		return mysqlsql.Flavor{}, ErrClosed
	case n.o.Address == "":
		return mysqlsql.Flavor{}, ErrNoAddress
	}
	if n.conn != nil {
		// database/sql closes the connection when this returns
		// driver.ErrBadConn.
		err := n.conn.Raw(func(dc any) error {
			if r, ok := dc.(driver.SessionResetter); ok {
				return r.ResetSession(ctx)
			}
			return nil
		})
		if err != nil {
			n.drop()
		}
	}
	if n.conn == nil {
		if err := n.connect(ctx); err != nil {
			return mysqlsql.Flavor{}, err
		}
	}
	return n.flavor, nil
}

// connect opens and sets up the session: dial, SELECT @@version, then
// SessionSetup's statements, all within Timeout.
func (n *Node) connect(ctx context.Context) error {
	if n.db == nil {
		cfg := mysql.NewConfig()
		cfg.Net = "tcp"
		cfg.Addr = n.o.Address
		cfg.User = n.o.Username
		cfg.Passwd = n.o.Password
		cfg.Timeout = n.o.Timeout
		// No ReadTimeout: a wait on the server (MASTER_GTID_WAIT, the lock
		// wait of read_only=ON) is longer than Timeout. Each statement's
		// ctx bounds it instead; when ctx ends the driver closes the
		// connection. The handshake too is bounded by ctx only.
		cfg.Logger = &mysql.NopLogger{} // the driver logs every dropped connection otherwise
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return fmt.Errorf("mysql config: %w", err)
		}
		n.db = sql.OpenDB(c)
		n.db.SetMaxOpenConns(1)
		n.db.SetMaxIdleConns(1)
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout)
	defer cancel()
	conn, err := n.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT @@version").Scan(&version); err != nil {
		closeBad(conn)
		return fmt.Errorf("connect: select @@version: %w", err)
	}
	f, err := mysqlsql.ParseFlavor(version)
	if err == nil {
		err = f.Supported()
	}
	if err != nil {
		closeBad(conn)
		return fmt.Errorf("connect: %w", err)
	}
	setup, err := mysqlsql.SessionSetup(f)
	if err != nil {
		closeBad(conn)
		return fmt.Errorf("connect: %w", err)
	}
	for _, s := range setup {
		if _, err := conn.ExecContext(ctx, s.SQL()); err != nil {
			closeBad(conn)
			return fmt.Errorf("connect: %s: %w", s, err)
		}
	}
	n.conn, n.flavor = conn, f
	return nil
}

// closeBad closes a connection that must not be used again: the pool
// discards it instead of keeping it idle.
func closeBad(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// drop forgets the session; the next call connects again.
func (n *Node) drop() {
	if n.conn != nil {
		closeBad(n.conn)
		n.conn = nil
	}
}

// failed drops the session after an error that was not the server's answer
// (a timeout, a dropped or killed connection, the ctx), so the next call
// dials a new one.
func (n *Node) failed(err error) {
	var serverErr *mysql.MySQLError
	if err != nil && (!errors.As(err, &serverErr) || killedErr(serverErr.Number)) {
		n.drop()
	}
}

// killedErr: the server ended the session itself.
func killedErr(code uint16) bool {
	const (
		erServerShutdown   = 1053
		erConnectionKilled = 1927
	)
	return code == erServerShutdown || code == erConnectionKilled
}

// exec runs one statement, bounded by ctx and by Timeout beyond wait (the
// statement's own server-side wait). The error names the statement (its
// password redacted).
func (n *Node) exec(ctx context.Context, s mysqlsql.Stmt, wait time.Duration) error {
	if n.conn == nil {
		return fmt.Errorf("%s: %w", s, ErrSessionLost)
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout+wait)
	defer cancel()
	_, err := n.conn.ExecContext(ctx, s.SQL())
	if err != nil {
		n.failed(err)
		return fmt.Errorf("%s: %w", s, err)
	}
	return nil
}

// execAll runs statements in order, stopping at the first error. A STOP of
// replication threads may take stopWait beyond Timeout.
func (n *Node) execAll(ctx context.Context, stmts []mysqlsql.Stmt) error {
	for _, s := range stmts {
		var wait time.Duration
		if strings.HasPrefix(s.SQL(), "STOP ") {
			wait = stopWait
		}
		if err := n.exec(ctx, s, wait); err != nil {
			return err
		}
	}
	return nil
}

// row is one result row read by column name; a NULL column is absent.
type row map[string]string

// query runs one query (no secrets in it) and reads every row by column
// name, bounded as exec is. An error starts with what (the statement, or a
// shorter name for a long one).
func (n *Node) query(ctx context.Context, what, q string, wait time.Duration) ([]row, error) {
	if n.conn == nil {
		return nil, fmt.Errorf("%s: %w", what, ErrSessionLost)
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.Timeout+wait)
	defer cancel()
	out, err := mysqlprobe.ReadRows[row](ctx, n.conn, q)
	if err != nil {
		n.failed(err)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// pollUntil calls f every interval until it reports done or fails, or ctx
// ends (then it returns ctx's error; the caller says what it saw last).
func pollUntil(ctx context.Context, every time.Duration, f func() (bool, error)) error {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		done, err := f()
		switch {
		case err != nil:
			return err
		case done:
			return nil
		}
		t.Reset(every)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
