package mysqlnode

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/imsentinel/imsentinel/promote/mysqlsql"
)

// WaitApplied waits until the node has applied every transaction of gtids
// (DESIGN.md §6.5: the candidate's relay log is applied before it is
// promoted; wait for what it received, its channel's GTIDIOPos or
// RetrievedGTIDSet). It waits on the server in slices of poll
// (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET, mysqlsql.WaitApplied),
// and between two slices reads the applied position (Position.Applied) and
// the default channel's SQL thread, and calls progress with the applied
// position, if progress is not nil: the caller renews its lease there.
//
// It returns nil once gtids is applied, also when the SQL thread is
// stopped by then. Otherwise it returns an error wrapping ErrStalled when
// the node has no replication channel, when the SQL thread is stopped (the
// error names its last error, Last_SQL_Errno and Last_SQL_Error, if any;
// a thread already stopped at the start is reported at once, without
// waiting a slice), or when the applied position did not change over a
// whole slice while the thread ran (blocked on a lock, a delayed replica).
// A single transaction that takes longer than poll to apply looks the same,
// so poll must exceed the longest apply time the caller will wait for.
// When ctx leaves too little time for another slice (Options.Timeout is
// kept for the reads), it returns an error wrapping
// context.DeadlineExceeded, naming the last applied position.
//
// poll must be positive and at most an hour; gtids must read as a GTID set
// of the server's flavor (mysqlsql.ErrInvalid otherwise, before any wait).
func (n *Node) WaitApplied(ctx context.Context, gtids string, poll time.Duration, progress func(applied string)) error {
	if err := n.waitApplied(ctx, gtids, poll, progress); err != nil {
		return fmt.Errorf("wait until %s has applied %q: %w", n.o.Address, gtids, err)
	}
	return nil
}

func (n *Node) waitApplied(ctx context.Context, gtids string, poll time.Duration, progress func(string)) error {
	f, err := n.begin(ctx)
	if err != nil {
		return err
	}
	if _, err := mysqlsql.WaitApplied(f, gtids, poll); err != nil {
		return err // a bad set or slice, before any wait
	}
	before, err := n.applier(ctx)
	if err != nil {
		return err
	}
	// A stopped applier applies nothing: look once whether gtids is
	// applied already, then report it.
	slice, watching := poll, before.running()
	if !watching {
		slice = time.Millisecond
	}
	for {
		s := slice
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl) - n.o.Timeout; left < s {
				s = left
			}
		}
		if s < time.Millisecond {
			return fmt.Errorf("no time left for another wait (applied %q): %w", before.applied, context.DeadlineExceeded)
		}
		reached, err := n.waitSlice(ctx, f, gtids, s)
		if err != nil {
			return err
		}
		if reached {
			return nil
		}
		now, err := n.applier(ctx)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(now.applied)
		}
		if err := stalled(before, now, s, watching); err != nil {
			return err
		}
		before, slice, watching = now, poll, true
	}
}

// waitSlice runs one server-side wait of s and says whether gtids is
// applied.
func (n *Node) waitSlice(ctx context.Context, f mysqlsql.Flavor, gtids string, s time.Duration) (bool, error) {
	w, err := mysqlsql.WaitApplied(f, gtids, s)
	if err != nil {
		return false, err
	}
	rows, err := n.query(ctx, w.String(), w.SQL(), s)
	if err != nil {
		return false, err
	}
	v, null, err := oneValue(rows)
	if err != nil {
		return false, fmt.Errorf("%s: %w", w, err)
	}
	var x int64
	if !null {
		if x, err = strconv.ParseInt(v, 10, 64); err != nil {
			return false, fmt.Errorf("%s: result %q is not an integer", w, v)
		}
	}
	r, err := mysqlsql.ReadWait(f, x, null)
	if err != nil {
		return false, err
	}
	return r == mysqlsql.WaitReached, nil
}

// oneValue is the single column of the single row of a result; null when
// it is NULL.
func oneValue(rows []row) (v string, null bool, err error) {
	if len(rows) != 1 {
		return "", false, fmt.Errorf("%d rows, want 1", len(rows))
	}
	if len(rows[0]) > 1 {
		return "", false, fmt.Errorf("%d columns, want 1", len(rows[0]))
	}
	for _, v := range rows[0] {
		return v, false, nil
	}
	return "", true, nil // the only column was NULL
}

// applier is what WaitApplied watches between slices.
type applier struct {
	applied string
	channel Channel
	ok      bool // the node has a default channel
}

func (a applier) running() bool { return a.ok && a.channel.SQLRunning }

func (n *Node) applier(ctx context.Context) (applier, error) {
	p, err := n.position(ctx, false)
	if err != nil {
		return applier{}, err
	}
	c, ok := p.Channel()
	return applier{applied: p.Applied(), channel: c, ok: ok}, nil
}

// stalled judges the applier after a slice of length s that did not reach
// the wanted position: an error wrapping ErrStalled when it has no channel,
// its SQL thread is stopped, or (when watching: it ran at the slice's
// start) its applied position did not move.
func stalled(before, now applier, s time.Duration, watching bool) error {
	switch {
	case !now.ok:
		return fmt.Errorf("no replication channel: nothing applies (applied %q): %w", now.applied, ErrStalled)
	case !now.channel.SQLRunning && now.channel.LastSQLErrno != 0:
		return fmt.Errorf("SQL thread stopped with error %d: %s (applied %q): %w",
			now.channel.LastSQLErrno, now.channel.LastSQLError, now.applied, ErrStalled)
	case !now.channel.SQLRunning:
		return fmt.Errorf("SQL thread stopped (applied %q): %w", now.applied, ErrStalled)
	case watching && now.applied == before.applied:
		return fmt.Errorf("SQL thread running but applied nothing in %v (applied %q, SQL thread state %q): %w",
			s, now.applied, now.channel.SQLState, ErrStalled)
	}
	return nil
}
