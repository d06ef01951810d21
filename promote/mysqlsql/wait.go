package mysqlsql

import (
	"fmt"
	"time"
)

// maxWait is this package's bound on WaitApplied's timeout: a wait runs
// under a lease of seconds (DESIGN.md §5.6).
const maxWait = time.Hour

// WaitApplied waits, on the candidate, until every transaction of gtids
// has been applied, or timeout has passed (DESIGN.md §6.5: the relay log
// is applied before the candidate is promoted). The query returns one
// integer column; ReadWait interprets it.
//
//   - MariaDB: SELECT MASTER_GTID_WAIT(gtids, timeout) waits until
//     gtid_slave_pos has, per domain named in gtids, the same or a higher
//     sequence number: 0 when reached, -1 on timeout. The candidate's
//     received position (Gtid_IO_Pos) is what to wait for
//     (notes/mariadb.md §5). An empty list returns 0 at once (measured on
//     10.11); a NULL or negative timeout would wait forever, which this
//     package never sends.
//   - MySQL: SELECT WAIT_FOR_EXECUTED_GTID_SET(gtids, timeout) waits until
//     gtids is a subset of gtid_executed: 0 when reached, 1 on timeout,
//     an error otherwise (a malformed set). Timeout 0 would mean no
//     timeout; the value is read as a real number (fractions work).
//
// Neither function looks at the replication threads: a stopped or failing
// SQL thread makes the wait time out, so wait in slices and check that the
// SQL thread advances between them (issue 6, §6.5).
//
// gtids is checked to hold only the characters of a GTID set of the
// flavor. timeout must be positive and at most an hour; it is rounded up
// to whole milliseconds.
func WaitApplied(f Flavor, gtids string, timeout time.Duration) (Stmt, error) {
	c, err := begin("wait for the relay log to be applied", f)
	if err != nil {
		return Stmt{}, err
	}
	c.add(checkGTIDs(f, gtids))
	if timeout <= 0 || timeout > maxWait {
		c.add(fmt.Sprintf("timeout %v is outside (0, %v]: 0 or less would wait forever", timeout, maxWait))
	}
	if err := c.err(); err != nil {
		return Stmt{}, err
	}
	t := (timeout + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	fn := "WAIT_FOR_EXECUTED_GTID_SET"
	if f.mariadb() {
		fn = "MASTER_GTID_WAIT"
	}
	return stmt(fmt.Sprintf("SELECT %s(%s, %s)", fn, mustQuote(gtids), seconds(t)),
		fmt.Sprintf("wait up to %v until the candidate has applied what it received", t)), nil
}

// WaitResult is what a WaitApplied query said. The zero value is unknown.
type WaitResult uint8

const (
	WaitUnknown WaitResult = iota
	// WaitReached: every transaction of the set is applied.
	WaitReached
	// WaitTimedOut: the timeout passed first.
	WaitTimedOut
)

func (r WaitResult) String() string {
	switch r {
	case WaitReached:
		return "reached"
	case WaitTimedOut:
		return "timed out"
	}
	return "unknown"
}

// ReadWait interprets the integer a WaitApplied query returned (null: the
// column was NULL). MariaDB answers 0 or -1, MySQL 0 or 1; anything else,
// NULL included, is an error: the wait did not happen as asked.
func ReadWait(f Flavor, value int64, null bool) (WaitResult, error) {
	timedOut := int64(1)
	if f.mariadb() {
		timedOut = -1
	}
	switch {
	case null:
		return WaitUnknown, fmt.Errorf("read the GTID wait on %s: NULL (the position was not read as a GTID list)", f)
	case value == 0:
		return WaitReached, nil
	case value == timedOut:
		return WaitTimedOut, nil
	}
	return WaitUnknown, fmt.Errorf("read the GTID wait on %s: unexpected result %d", f, value)
}
