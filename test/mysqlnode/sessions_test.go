package mysqlnode_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestKillOtherAdminSessions (DESIGN.md §5.6): the new holder kills every
// other session of the admin account (another sentinel's node, an idle
// one, one running a statement) and waits until they are gone; not its own
// session, which keeps its id, nor another account's. The other
// sentinel's node answers its next call on a new session.
func TestKillOtherAdminSessions(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	ours := open(t, m)
	connect(t, ours)
	ourIDs := sessionIDs(t, m, harness.MariaDBAdminUser)

	other := open(t, m)
	connect(t, other)
	idle := connAs(t, m, harness.MariaDBAdminUser, harness.MariaDBAdminPassword)
	busy := connAs(t, m, harness.MariaDBAdminUser, harness.MariaDBAdminPassword)
	if err := idle.PingContext(callCtx(t)); err != nil {
		t.Fatal(err)
	}
	slept := make(chan error, 1)
	go func() {
		_, err := busy.ExecContext(context.Background(), "SELECT SLEEP(600)")
		slept <- err
	}()
	harness.Eventually(t, waitTimeout, "the admin's SLEEP runs", func() error {
		if got := count(t, m, "information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'"); got != 1 {
			return fmt.Errorf("%d sessions sleeping", got)
		}
		return nil
	})
	root := connAs(t, m, "root", "")
	if err := root.PingContext(callCtx(t)); err != nil {
		t.Fatal(err)
	}
	before := sessionIDs(t, m, harness.MariaDBAdminUser)
	if len(ourIDs) != 1 || len(before) != 4 {
		t.Fatalf("admin sessions: ours %v, all %v; want 1 and 4", ourIDs, before)
	}

	var killed int
	var err error
	took := timed(func() { killed, err = ours.KillOtherAdminSessions(callCtx(t)) })
	if err != nil || killed != 3 {
		t.Fatalf("KillOtherAdminSessions = %d, %v; want 3 (the other node, the idle and the busy session)", killed, err)
	}
	t.Logf("kill 3 other admin sessions and wait for them to end: %v", took)
	// It waited: nothing but our session is left, at once.
	if after := sessionIDs(t, m, harness.MariaDBAdminUser); !slices.Equal(after, ourIDs) {
		t.Errorf("admin sessions right after the kill: %v, want only ours %v", after, ourIDs)
	}
	select {
	case err := <-slept:
		if err == nil {
			t.Error("the killed SLEEP returned without an error")
		}
	case <-time.After(waitTimeout):
		t.Error("the killed SLEEP never returned")
	}
	if err := root.PingContext(callCtx(t)); err != nil {
		t.Errorf("root's session was killed: %v", err)
	}
	if _, err := ours.Position(callCtx(t)); err != nil {
		t.Errorf("our node after the kill: %v", err)
	}
	if got := sessionIDs(t, m, harness.MariaDBAdminUser); !slices.Equal(got, ourIDs) {
		t.Errorf("admin sessions after our next call: %v, want our same session %v (never reconnected)", got, ourIDs)
	}

	// The other node notices its session was closed before sending on it
	// and opens a new one (if the close had not reached it yet, the call
	// would fail as Unreachable and the next one reconnect).
	if _, err := other.Position(callCtx(t)); err != nil {
		t.Logf("the other node's first call after the kill: %v (%v)", err, mysqlnode.Classify(err))
		if mysqlnode.Classify(err) != mysqlnode.Unreachable {
			t.Errorf("the other node's first call after the kill: %v, want success or unreachable", err)
		}
		if _, err := other.Position(callCtx(t)); err != nil {
			t.Errorf("the other node's second call after the kill: %v", err)
		}
	}
	now := sessionIDs(t, m, harness.MariaDBAdminUser)
	if len(now) != 2 || now[0] != ourIDs[0] || slices.Contains(before, now[1]) {
		t.Errorf("admin sessions after the other node's call: %v, want ours %v and a new one (not in %v)", now, ourIDs, before)
	}
	if killed, err := ours.KillOtherAdminSessions(callCtx(t)); err != nil || killed != 1 {
		t.Errorf("second KillOtherAdminSessions = %d, %v; want 1 (the other node's new session)", killed, err)
	}
}

// TestKillOtherAdminSessionsDropsPendingStatement (DESIGN.md §5.6): an old
// holder's write that has not run yet (held behind a table lock) never
// runs once the new holder's KillOtherAdminSessions has returned, even when
// the lock goes away at once.
func TestKillOtherAdminSessionsDropsPendingStatement(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	m.Exec(t, "CREATE DATABASE harness")
	createApp(t, m)
	ours := open(t, m)
	connect(t, ours)

	root := connAs(t, m, "root", "")
	if _, err := root.ExecContext(callCtx(t), "LOCK TABLES harness.t WRITE"); err != nil {
		t.Fatal(err)
	}
	old := connAs(t, m, harness.MariaDBAdminUser, harness.MariaDBAdminPassword)
	done := make(chan error, 1)
	go func() {
		_, err := old.ExecContext(context.Background(), "INSERT INTO harness.t VALUES (1, 'old holder')")
		done <- err
	}()
	harness.Eventually(t, waitTimeout, "the old holder's insert waits for the lock", func() error {
		if got := count(t, m, "information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO harness.t%' AND STATE LIKE 'Waiting for%lock'"); got != 1 {
			return fmt.Errorf("%d inserts waiting", got)
		}
		return nil
	})
	if killed, err := ours.KillOtherAdminSessions(callCtx(t)); err != nil || killed != 1 {
		t.Fatalf("KillOtherAdminSessions = %d, %v; want 1", killed, err)
	}
	if _, err := root.ExecContext(callCtx(t), "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, m, "harness.t"); got != 0 {
		t.Errorf("rows after the kill and the unlock: %d, want 0 (the old holder's insert must never land)", got)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the old holder's insert reported success")
		}
	case <-time.After(waitTimeout):
		t.Error("the old holder's insert never returned")
	}
	if got := count(t, m, "harness.t"); got != 0 {
		t.Errorf("rows once the old holder's insert returned: %d, want 0", got)
	}
}
