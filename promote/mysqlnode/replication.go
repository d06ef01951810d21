package mysqlnode

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// StopIOThread stops the replica's receiver (STOP SLAVE IO_THREAD / STOP
// REPLICA IO_THREAD), so it takes nothing more from its source and can no
// longer acknowledge for it, while its applier goes on (DESIGN.md §6.1,
// §6.3). The statement returns once the thread has stopped. On a node
// that replicates from no one it does nothing (MariaDB answers with a
// note).
//
// A MariaDB semi-sync replica whose source hangs takes seconds here: it
// connects to the source to kill its binlog dump thread and waits up to
// rpl_semi_sync_slave_kill_conn_timeout (default 5 s; 2.0 s measured with
// a SIGSTOPped source, 1 ms for an asynchronous replica). The statement is
// allowed that much beyond Options.Timeout; ctx still bounds it. A replica
// set to 1 s stops in 1 s; 0 waits without end.
func (n *Node) StopIOThread(ctx context.Context) error {
	err := n.run(ctx, func(f mysqlsql.Flavor) ([]mysqlsql.Stmt, error) {
		s, err := mysqlsql.StopIOThread(f)
		return []mysqlsql.Stmt{s}, err
	})
	if err != nil {
		return fmt.Errorf("stop the IO thread of %s: %w", n.o.Address, err)
	}
	return nil
}

// Promote makes the node a primary (DESIGN.md §6.1, §6.2), in this order:
// stop and reset its replication (STOP SLAVE, RESET SLAVE ALL: it forgets
// its source and relay logs, so call it after WaitApplied), turn on the
// primary side of semi-sync when semi is not nil, and read_only=OFF. Then
// it reads read_only (and super_read_only) back: still ON is an error
// wrapping ErrReadOnly.
//
// semi nil leaves semi-sync as it is: an asynchronous cluster. Otherwise
// mysqlsql.SemiSyncPrimary's settings, Acks 0 being the relaxed variant
// (wait_no_slave=OFF: no replica can acknowledge now). On MySQL 8.0.26+
// with semi.Names unknown, Promote reads which plugin the server runs.
// Every statement is generated, and checked, before the first is sent: a
// bad input changes nothing.
//
// A repeated Promote does the same again and succeeds: STOP and RESET on a
// node without a source do nothing.
func (n *Node) Promote(ctx context.Context, semi *mysqlsql.SemiSync) error {
	if err := n.promote(ctx, semi); err != nil {
		return fmt.Errorf("promote %s: %w", n.o.Address, err)
	}
	return nil
}

func (n *Node) promote(ctx context.Context, semi *mysqlsql.SemiSync) error {
	f, err := n.begin(ctx)
	if err != nil {
		return err
	}
	stmts, err := mysqlsql.StopAndResetReplication(f)
	if err != nil {
		return err
	}
	if semi != nil {
		s := *semi
		if s.Names == mysqlsql.SemiSyncNamesUnknown && f.Kind == probe.FlavorMySQL && f.AtLeast(8, 0, 26) {
			if s.Names, err = n.semiSyncNames(ctx, f); err != nil {
				return err
			}
		}
		on, err := mysqlsql.SemiSyncPrimary(f, s)
		if err != nil {
			return err
		}
		stmts = append(stmts, on...)
	}
	unfence, err := mysqlsql.Unfence(f)
	if err != nil {
		return err
	}
	if err := n.execAll(ctx, append(stmts, unfence...)); err != nil {
		return err
	}
	p, err := n.position(ctx, false)
	if err != nil {
		return fmt.Errorf("read read_only back: %w", err)
	}
	if p.ReadOnly || p.SuperReadOnly {
		return fmt.Errorf("read_only=%t super_read_only=%t after read_only=OFF: %w", p.ReadOnly, p.SuperReadOnly, ErrReadOnly)
	}
	return nil
}

// semiSyncNames reads which semi-sync plugin a MySQL 8.0.26+ server runs.
func (n *Node) semiSyncNames(ctx context.Context, f mysqlsql.Flavor) (mysqlsql.SemiSyncNames, error) {
	s, err := mysqlsql.SemiSyncVariables(f)
	if err != nil {
		return 0, err
	}
	rows, err := n.query(ctx, s.String(), s.SQL(), 0)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, r := range rows {
		if v, ok := r.get("Variable_name"); ok {
			names = append(names, v)
		}
	}
	return mysqlsql.SemiSyncNamesOf(names), nil
}

// Repoint makes the node replicate from src, positioned by GTID
// (mysqlsql.Repoint: STOP, CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos
// / CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1, START), then
// reads its default channel every Options.Poll until both threads run and
// the IO thread is connected. It returns an error wrapping ErrReplication
// as soon as either thread reports an error (Last_IO_Errno: 2003 the
// source is unreachable, 1045 the replication account is refused, 1236 the
// source lacks the transactions the node asks for; Last_SQL_Errno), and
// when ctx ends first an error with the last state seen.
//
// src pointing at the node's own Address is refused before any I/O.
func (n *Node) Repoint(ctx context.Context, src mysqlsql.Source) error {
	to := net.JoinHostPort(src.Host, strconv.Itoa(src.Port))
	if err := n.repoint(ctx, src, to); err != nil {
		return fmt.Errorf("repoint %s to %s: %w", n.o.Address, to, err)
	}
	return nil
}

func (n *Node) repoint(ctx context.Context, src mysqlsql.Source, to string) error {
	if to == n.o.Address {
		return fmt.Errorf("the source is the node itself: %w", mysqlsql.ErrInvalid)
	}
	if err := n.run(ctx, func(f mysqlsql.Flavor) ([]mysqlsql.Stmt, error) { return mysqlsql.Repoint(f, src) }); err != nil {
		return err
	}
	var last Channel
	err := pollUntil(ctx, n.o.Poll, func() (bool, error) {
		cs, err := n.channels(ctx, n.flavor)
		if err != nil {
			return false, err
		}
		c, ok := Position{Channels: cs}.Channel()
		if !ok {
			return false, fmt.Errorf("no replication channel after START: %w", ErrReplication)
		}
		last = c
		return replicating(c)
	})
	if err != nil {
		return fmt.Errorf("wait for the replication threads (last IO %s, SQL running %t, IO state %q): %w",
			last.IO, last.SQLRunning, last.IOStatus, err)
	}
	return nil
}

// replicating says whether a channel's threads run and its receiver is
// connected, or fails with ErrReplication when a thread reports an error.
func replicating(c Channel) (bool, error) {
	switch {
	case c.LastIOErrno != 0:
		return false, fmt.Errorf("IO thread error %d: %s: %w", c.LastIOErrno, c.LastIOError, ErrReplication)
	case c.LastSQLErrno != 0:
		return false, fmt.Errorf("SQL thread error %d: %s: %w", c.LastSQLErrno, c.LastSQLError, ErrReplication)
	}
	return c.IO == probe.IORunning && c.SQLRunning, nil
}

// SetHeartbeat sets how often the replica's source sends a heartbeat when
// idle (DESIGN.md §5.4: the steward keeps it at most 1 s; a whole number
// of milliseconds, 1 ms to mysqlsql.MaxHeartbeat). On MariaDB that is STOP
// SLAVE, CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD, START SLAVE; on MySQL
// only the receiver stops (mysqlsql.SetHeartbeat).
//
// Because the START starts what the STOP stopped, it refuses (ErrNotReplicating)
// a node without a default channel, or whose IO thread is stopped or SQL
// thread is not running: starting them would undo a failover's STOP SLAVE
// IO_THREAD; restarting stopped threads is a repair of its own.
func (n *Node) SetHeartbeat(ctx context.Context, period time.Duration) error {
	if err := n.setHeartbeat(ctx, period); err != nil {
		return fmt.Errorf("set the replication heartbeat of %s to %v: %w", n.o.Address, period, err)
	}
	return nil
}

func (n *Node) setHeartbeat(ctx context.Context, period time.Duration) error {
	f, err := n.begin(ctx)
	if err != nil {
		return err
	}
	stmts, err := mysqlsql.SetHeartbeat(f, period, false)
	if err != nil {
		return err
	}
	p, err := n.position(ctx, false)
	if err != nil {
		return err
	}
	c, ok := p.Channel()
	switch {
	case !ok:
		return fmt.Errorf("no replication channel: %w", ErrNotReplicating)
	case c.IO == probe.IOStopped || !c.SQLRunning:
		return fmt.Errorf("replication threads not running (IO %s, SQL running %t): %w", c.IO, c.SQLRunning, ErrNotReplicating)
	}
	return n.execAll(ctx, stmts)
}

// run generates a step's statements for the server's flavor and runs them
// in order.
func (n *Node) run(ctx context.Context, gen func(mysqlsql.Flavor) ([]mysqlsql.Stmt, error)) error {
	f, err := n.begin(ctx)
	if err != nil {
		return err
	}
	stmts, err := gen(f)
	if err != nil {
		return err
	}
	return n.execAll(ctx, stmts)
}
