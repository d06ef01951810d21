package mysqlnode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// erLockWaitTimeout is the server's error when read_only=ON could not take
// the global read lock within lock_wait_timeout.
const erLockWaitTimeout = 1205

// FenceResult says what Fence did.
type FenceResult struct {
	// Fenced: read_only=ON (and on MySQL super_read_only=ON) took effect.
	Fenced bool
	// Blocked: the first read_only=ON gave up after lockWait (error 1205):
	// commits held the global read lock it needs, typically commits
	// waiting for a semi-sync acknowledgement that will not come, so the
	// self-fence was holding (DESIGN.md §6.2); a long write statement
	// would do the same. The application sessions were then killed and
	// read_only=ON tried once more.
	Blocked bool
	// Killed counts the application sessions killed.
	Killed int
}

// Fence makes the node refuse writes (DESIGN.md §6.1, §6.4): SET SESSION
// lock_wait_timeout to lockWait (whole seconds, 1 s to 1 min), SET GLOBAL
// read_only=ON (MySQL: super_read_only=ON too), then KILL CONNECTION of
// every application session: every session but this one, the server's
// threads, the binlog dumps that feed replicas, and the sessions of
// Username and SpareUsers. read_only stops new writes; the kill makes
// clients reconnect, to the new primary once the route moved.
//
// When read_only=ON fails with error 1205 after lockWait (Blocked), the
// commits holding it are usually waiting for a semi-sync acknowledgement:
// Fence kills the application sessions, which ends those waits (their
// transactions then commit locally without an acknowledgement: unknown
// outcome for their clients, errant on this node, DESIGN.md §6.6), and
// tries read_only=ON once more. A second 1205 is returned as the error,
// with Blocked set and Fenced false.
//
// The session keeps lock_wait_timeout = lockWait afterwards: later
// statements of this Node that wait for a metadata lock give up as soon.
//
// Who can still write after Fence: the replication applier, and on MariaDB
// accounts with READ ONLY ADMIN (part of ALL PRIVILEGES; SUPER alone is
// not enough since 10.11); on MySQL none but the applier (super_read_only).
func (n *Node) Fence(ctx context.Context, lockWait time.Duration) (FenceResult, error) {
	res, err := n.fence(ctx, lockWait)
	if err != nil {
		return res, fmt.Errorf("fence %s: %w", n.o.Address, err)
	}
	return res, nil
}

func (n *Node) fence(ctx context.Context, lockWait time.Duration) (FenceResult, error) {
	var res FenceResult
	f, err := n.begin(ctx)
	if err != nil {
		return res, err
	}
	stmts, err := mysqlsql.Fence(f, lockWait)
	if err != nil {
		return res, err
	}
	// Every statement is generated before the first is sent: a bad spared
	// account name fails here, not after read_only=ON.
	apps, err := mysqlsql.AppSessions(f, append([]string{n.o.Username}, n.o.SpareUsers...))
	if err != nil {
		return res, err
	}
	// stmts[0] sets lock_wait_timeout; the rest are the read_only ones.
	if err := n.exec(ctx, stmts[0], 0); err != nil {
		return res, err
	}
	err = n.readOnly(ctx, stmts[1:], lockWait)
	var serverErr *mysql.MySQLError
	if errors.As(err, &serverErr) && serverErr.Number == erLockWaitTimeout {
		res.Blocked = true
		k, kerr := n.killSessions(ctx, apps)
		res.Killed += k
		if kerr != nil {
			return res, fmt.Errorf("%w; then kill the application sessions: %w", err, kerr)
		}
		if err2 := n.readOnly(ctx, stmts[1:], lockWait); err2 != nil {
			return res, fmt.Errorf("gave up after %v (%w); killed %d application sessions; tried again: %w", lockWait, err, k, err2)
		}
	} else if err != nil {
		return res, err
	}
	res.Fenced = true
	k, err := n.killSessions(ctx, apps)
	res.Killed += k
	if err != nil {
		return res, fmt.Errorf("read-only, then kill the application sessions: %w", err)
	}
	return res, nil
}

// readOnly runs the read_only statements, each allowed lockWait on the
// server.
func (n *Node) readOnly(ctx context.Context, stmts []mysqlsql.Stmt, lockWait time.Duration) error {
	for _, s := range stmts {
		if err := n.exec(ctx, s, lockWait); err != nil {
			return err
		}
	}
	return nil
}
