package mysqlnode_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// rowLock holds a row lock on the replica m in an open transaction on its
// own session, so the applier waits when it reaches a change to that row;
// release commits.
type rowLock struct {
	t *testing.T
	c *sql.Conn
}

func lockRow(t *testing.T, m *harness.MariaDB, table string, id int) *rowLock {
	t.Helper()
	c := connAs(t, m, "root", "")
	if _, err := c.ExecContext(callCtx(t), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := c.QueryRowContext(callCtx(t), "SELECT v FROM "+table+" WHERE id = ? FOR UPDATE", id).Scan(&v); err != nil {
		t.Fatalf("lock %s row %d on %s: %v", table, id, m.Addr, err)
	}
	return &rowLock{t: t, c: c}
}

func (l *rowLock) release() error {
	_, err := l.c.ExecContext(context.Background(), "COMMIT")
	return err
}

// twoTables creates harness.a and harness.b with row 1 on the primary of
// tp and waits until every replica applied them.
func twoTables(t *testing.T, tp *harness.MariaDBTopology) {
	t.Helper()
	for _, tbl := range []string{"harness.a", "harness.b"} {
		tp.Primary.Exec(t, "CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
		tp.Primary.Exec(t, "INSERT INTO "+tbl+" VALUES (1, 0)")
	}
	pos := tp.Primary.Variable(t, "gtid_binlog_pos")
	for _, r := range tp.Replicas {
		r.WaitGTID(t, pos)
	}
}

// TestWaitAppliedWhileAdvancing (DESIGN.md §6.5): the applier applies one
// transaction during the first slice and is held on the second; the wait
// goes on because it advanced, reports the applied position between the
// slices (where the caller renews its lease), and returns once everything
// is applied.
func TestWaitAppliedWhileAdvancing(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	p, r := tp.Primary, tp.Replicas[0]
	twoTables(t, tp)
	start := r.Variable(t, "gtid_slave_pos")
	lockA, lockB := lockRow(t, r, "harness.a", 1), lockRow(t, r, "harness.b", 1)
	p.Exec(t, "UPDATE harness.a SET v = 1 WHERE id = 1")
	afterA := p.Variable(t, "gtid_binlog_pos")
	p.Exec(t, "UPDATE harness.b SET v = 1 WHERE id = 1")
	target := p.Variable(t, "gtid_binlog_pos")

	// Release a's row once the wait runs on the server: the applier then
	// advances by one transaction within the first slice.
	released := make(chan error, 1)
	go func() { released <- releaseWhenWaiting(r, lockA) }()

	n := open(t, r)
	const slice = 3 * time.Second
	var seen []string
	err := n.WaitApplied(callCtx(t), target, slice, func(applied string) {
		seen = append(seen, applied)
		if len(seen) == 1 {
			if err := lockB.release(); err != nil {
				t.Errorf("release b's row: %v", err)
			}
		}
	})
	if err := <-released; err != nil {
		t.Fatalf("release a's row: %v", err)
	}
	if err != nil {
		t.Fatalf("%v", err)
	}
	if len(seen) != 1 || seen[0] != afterA {
		t.Errorf("progress saw %q, want once %q (after a's update; started at %q)", seen, afterA, start)
	}
	if got := r.Variable(t, "gtid_slave_pos"); got != target {
		t.Errorf("gtid_slave_pos = %q after WaitApplied, want %q", got, target)
	}
}

// releaseWhenWaiting releases l once a MASTER_GTID_WAIT runs on m.
func releaseWhenWaiting(m *harness.MariaDB, l *rowLock) error {
	db, err := sql.Open("mysql", m.DSN("root", ""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT MASTER_GTID_WAIT%'").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return l.release()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no MASTER_GTID_WAIT ran on %s within %v", m.Addr, waitTimeout)
}

// TestWaitAppliedStalls (DESIGN.md §6.5: fail when the SQL thread stalls):
// an applier held on a lock applies nothing over a whole slice; a stopped
// SQL thread is reported without waiting a slice, unless what is asked is
// applied already; a SQL thread stopped by an error is reported with it.
// Each is ErrStalled, classified Failed (the node answered).
func TestWaitAppliedStalls(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	p, r := tp.Primary, tp.Replicas[0]
	twoTables(t, tp)
	n := open(t, r)
	connect(t, n)
	stalls := func(what string, err error, says string) {
		t.Helper()
		if !errors.Is(err, mysqlnode.ErrStalled) || !strings.Contains(err.Error(), says) || mysqlnode.Classify(err) != mysqlnode.Failed {
			t.Errorf("%s: %v (%v), want a Failed ErrStalled saying %q", what, err, mysqlnode.Classify(err), says)
		}
	}

	// Held on a row lock: running, not advancing.
	before := r.Variable(t, "gtid_slave_pos")
	lock := lockRow(t, r, "harness.a", 1)
	p.Exec(t, "UPDATE harness.a SET v = 2 WHERE id = 1")
	held := p.Variable(t, "gtid_binlog_pos")
	const slice = time.Second
	var seen []string
	var err error
	took := timed(func() {
		err = n.WaitApplied(callCtx(t), held, slice, func(applied string) { seen = append(seen, applied) })
	})
	t.Logf("held applier: %v after %v", err, took)
	stalls("applier held on a lock", err, "applied nothing in 1s")
	if took < slice || len(seen) != 1 || seen[0] != before {
		t.Errorf("held applier: gave up after %v, progress saw %q; want after one slice of %v, %q once", took, seen, slice, before)
	}
	if err := lock.release(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitApplied(callCtx(t), held, slice, nil); err != nil {
		t.Errorf("after the lock is released: %v", err)
	}

	// Stopped: reported without waiting a slice.
	r.Exec(t, "STOP SLAVE SQL_THREAD")
	p.Exec(t, "UPDATE harness.a SET v = 3 WHERE id = 1")
	queued := p.Variable(t, "gtid_binlog_pos")
	const long = 20 * time.Second
	took = timed(func() { err = n.WaitApplied(callCtx(t), queued, long, nil) })
	stalls("SQL thread stopped", err, "SQL thread stopped (applied")
	if took >= long {
		t.Errorf("SQL thread stopped: reported after %v, want before a slice of %v", took, long)
	}
	if err := n.WaitApplied(callCtx(t), held, long, nil); err != nil {
		t.Errorf("a position applied before the SQL thread stopped: %v, want nil", err)
	}

	// Stopped by an error: a row the replica has that the primary then
	// inserts too (the replica's write kept out of its binlog).
	r.StartReplication(t)
	r.WaitGTID(t, queued)
	local := connAs(t, r, "root", "")
	for _, q := range []string{"SET SESSION sql_log_bin=0", "INSERT INTO harness.b VALUES (500, 0)"} {
		if _, err := local.ExecContext(callCtx(t), q); err != nil {
			t.Fatalf("%s on %s: %v", q, r.Addr, err)
		}
	}
	p.Exec(t, "INSERT INTO harness.b VALUES (500, 1)")
	conflict := p.Variable(t, "gtid_binlog_pos")
	harness.Eventually(t, waitTimeout, "the replica's SQL thread stops with 1062", func() error {
		if st := r.ReplicaStatus(t); st["Last_SQL_Errno"] != "1062" {
			return fmt.Errorf("Slave_SQL_Running=%s Last_SQL_Errno=%s", st["Slave_SQL_Running"], st["Last_SQL_Errno"])
		}
		return nil
	})
	err = n.WaitApplied(callCtx(t), conflict, long, nil)
	stalls("SQL thread stopped by an error", err, "error 1062")
}
