package mysqlnode

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// session is one row of the process list that AppSessions and UserSessions
// return.
type session struct {
	ID      uint64
	User    string
	Host    string
	Command string
}

func (s session) String() string {
	return fmt.Sprintf("%d (%s@%s, %s)", s.ID, s.User, s.Host, s.Command)
}

// sessionsOf reads the rows of AppSessions or UserSessions. The binlog
// dump threads that feed replicas are left out: they run as the
// replication account, which may be the admin one, and killing them would
// cut the replicas off (and their semi-sync acknowledgements). AppSessions
// leaves them out already; UserSessions does not.
func sessionsOf(rows []row) ([]session, error) {
	var out []session
	for _, r := range rows {
		c := cols{r: r}
		s := session{ID: c.uint64("ID"), User: c.str("USER"), Host: c.str("HOST"), Command: c.str("COMMAND")}
		c.need("ID")
		if err := c.err(); err != nil {
			return nil, fmt.Errorf("read the process list: %w", err)
		}
		if s.ID == 0 || strings.HasPrefix(s.Command, "Binlog Dump") {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// KillOtherAdminSessions ends every other session of the admin account
// (Options.Username) on the node but this one, then waits until they are
// gone from the process list, and returns how many it killed (DESIGN.md
// §5.6). A new lease holder calls it before its first write on the node:
// another sentinel's statement still in flight or queued (behind a lock, a
// slow network) then never lands after this holder's. It waits because a
// killed session may outlive the KILL: a statement the server is running
// is aborted at its next check, and only then is the session gone (MySQL's
// manual; MariaDB 10.11 had removed them by the next look here).
//
// It kills by account, because MySQL sessions have no name: every session
// of Username is another sentinel's (or a prober using the admin account,
// which reconnects). Binlog dump threads, which feed replicas, are spared
// even when the replication account is the admin one. A session gone
// between the list and the kill is not counted. When ctx ends before the
// killed sessions are gone it returns the count and an error naming them.
func (n *Node) KillOtherAdminSessions(ctx context.Context) (int, error) {
	killed, err := n.killOtherAdminSessions(ctx)
	if err != nil {
		return killed, fmt.Errorf("kill the other sessions of %q on %s: %w", n.o.Username, n.o.Address, err)
	}
	return killed, nil
}

func (n *Node) killOtherAdminSessions(ctx context.Context) (int, error) {
	f, err := n.begin(ctx)
	if err != nil {
		return 0, err
	}
	list, err := mysqlsql.UserSessions(f, []string{n.o.Username})
	if err != nil {
		return 0, err
	}
	others, err := n.sessions(ctx, list)
	if err != nil {
		return 0, err
	}
	gone, err := n.kill(ctx, others)
	if err != nil {
		return len(gone), err
	}
	// Wait until every killed session has left the process list.
	var left []session
	err = pollUntil(ctx, n.o.Poll, func() (bool, error) {
		now, err := n.sessions(ctx, list)
		if err != nil {
			return false, err
		}
		left = left[:0]
		for _, s := range now {
			if slices.Contains(gone, s.ID) {
				left = append(left, s)
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		return len(gone), fmt.Errorf("wait for the killed sessions %v to end: %w", left, err)
	}
	return len(gone), nil
}

// sessions runs a process-list statement and reads its rows.
func (n *Node) sessions(ctx context.Context, list mysqlsql.Stmt) ([]session, error) {
	rows, err := n.query(ctx, "list the sessions", list.SQL(), 0)
	if err != nil {
		return nil, err
	}
	return sessionsOf(rows)
}

// kill ends sessions with KILL CONNECTION and returns the ids it killed;
// one already gone (error 1094) is skipped.
func (n *Node) kill(ctx context.Context, ss []session) ([]uint64, error) {
	const erNoSuchThread = 1094
	var killed []uint64
	for _, s := range ss {
		k, err := mysqlsql.Kill(n.flavor, s.ID)
		if err != nil {
			return killed, err
		}
		err = n.exec(ctx, k, 0)
		var serverErr *mysql.MySQLError
		switch {
		case errors.As(err, &serverErr) && serverErr.Number == erNoSuchThread:
		case err != nil:
			return killed, fmt.Errorf("session %s: %w", s, err)
		default:
			killed = append(killed, s.ID)
		}
	}
	return killed, nil
}

// killSessions kills the sessions a process-list statement lists
// (Fence: mysqlsql.AppSessions) and returns how many it killed.
func (n *Node) killSessions(ctx context.Context, list mysqlsql.Stmt) (int, error) {
	ss, err := n.sessions(ctx, list)
	if err != nil {
		return 0, err
	}
	killed, err := n.kill(ctx, ss)
	return len(killed), err
}
