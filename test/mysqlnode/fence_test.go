package mysqlnode_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestFenceStopsApplicationWrites (DESIGN.md §6.1, §6.4): Fence turns
// read_only on and kills the application's sessions, sparing its own
// account's and the spared ones'. Afterwards the application account and
// a SUPER-only account get error 1290; on MariaDB 10.11 accounts with READ
// ONLY ADMIN (the harness's admin and root: ALL PRIVILEGES) still write,
// which this test pins so that a server that changes it is noticed.
func TestFenceStopsApplicationWrites(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	m.Exec(t, "SET GLOBAL read_only=OFF")
	m.Exec(t, "CREATE DATABASE harness")
	createApp(t, m)
	m.Exec(t, "CREATE USER 'dba'@'127.0.0.1' IDENTIFIED BY 'dbapass'")
	m.Exec(t, "GRANT SELECT, INSERT ON harness.* TO 'dba'@'127.0.0.1'")
	m.Exec(t, "CREATE USER 'superonly'@'127.0.0.1' IDENTIFIED BY 'superpass'")
	m.Exec(t, "GRANT SUPER, INSERT ON *.* TO 'superonly'@'127.0.0.1'")

	appConn := connAs(t, m, appUser, appPassword)
	if err := insert(t, appConn, 1, "before"); err != nil {
		t.Fatalf("app insert before the fence: %v", err)
	}
	dbaConn := connAs(t, m, "dba", "dbapass")
	otherAdmin := connAs(t, m, harness.MariaDBAdminUser, harness.MariaDBAdminPassword)
	appIDs := sessionIDs(t, m, appUser)

	// root is spared too: the test's own reads run as root.
	n := open(t, m, "dba", "root")
	connect(t, n)
	var res mysqlnode.FenceResult
	var err error
	took := timed(func() { res, err = n.Fence(callCtx(t), time.Second) })
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("fence (read_only=ON, list and kill %d session): %v", res.Killed, took)
	if !res.Fenced || res.Blocked || res.Killed != len(appIDs) {
		t.Errorf("fence = %+v, want fenced, not blocked, %d killed (the app's sessions %v)", res, len(appIDs), appIDs)
	}
	if m.Variable(t, "read_only") != "1" {
		t.Error("read_only is not ON after Fence")
	}
	harness.Eventually(t, waitTimeout, "the app's sessions are gone", func() error {
		if ids := sessionIDs(t, m, appUser); len(ids) != 0 {
			return fmt.Errorf("app sessions %v", ids)
		}
		return nil
	})
	if err := appConn.PingContext(callCtx(t)); err == nil {
		t.Error("the app's session still answers after Fence")
	}
	for name, c := range map[string]interface{ PingContext(context.Context) error }{"spared dba": dbaConn, "other admin": otherAdmin} {
		if err := c.PingContext(callCtx(t)); err != nil {
			t.Errorf("%s session killed by Fence: %v", name, err)
		}
	}

	for i, w := range []struct {
		user, password string
		want           uint16 // 0: the write succeeds
	}{
		{appUser, appPassword, 1290},
		{"superonly", "superpass", 1290},                            // 10.11: SUPER no longer bypasses read_only
		{harness.MariaDBAdminUser, harness.MariaDBAdminPassword, 0}, // ALL PRIVILEGES has READ ONLY ADMIN
		{"root", "", 0}, // so does root
	} {
		err := insert(t, dbAs(t, m, w.user, w.password), 100+i, "after fence by "+w.user)
		if errno(err) != w.want {
			t.Errorf("insert as %s on the fenced node: %v, want error %d (0: accepted)", w.user, err, w.want)
		}
	}

	// Fencing a fenced node: the sessions the writes above left idle are
	// killed, nothing else.
	victims := append(sessionIDs(t, m, appUser), sessionIDs(t, m, "superonly")...)
	if res, err := n.Fence(callCtx(t), time.Second); err != nil || !res.Fenced || res.Blocked || res.Killed != len(victims) {
		t.Errorf("second fence = %+v, %v; want fenced, %d killed (app and superonly sessions %v)", res, err, len(victims), victims)
	}
}

// TestFenceBlockedBySemiSyncWait (DESIGN.md §6.1, §6.2): a primary whose
// replicas stopped their IO threads holds an application commit waiting
// for an acknowledgement; read_only=ON queues behind it. Fence reports
// Blocked after the lock wait, kills the waiting session, and fences on
// the retry. The killed commit's outcome is unknown to its client: the
// row is committed on the old primary, on no replica.
func TestFenceBlockedBySemiSyncWait(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})
	p := tp.Primary
	createApp(t, p)
	pos := p.Variable(t, "gtid_binlog_pos")
	for _, r := range tp.Replicas {
		r.WaitGTID(t, pos)
		r.Exec(t, "STOP SLAVE IO_THREAD")
	}
	p.WaitSemiSyncClients(t, 0)

	app := connAs(t, p, appUser, appPassword)
	done := make(chan error, 1)
	go func() {
		_, err := app.ExecContext(context.Background(), "INSERT INTO harness.t VALUES (42, 'waits for an ack')")
		done <- err
	}()
	harness.Eventually(t, waitTimeout, "the app's commit waits for a semi-sync ack", func() error {
		if got := p.Status(t, "Rpl_semi_sync_master_wait_sessions"); got != "1" {
			return fmt.Errorf("Rpl_semi_sync_master_wait_sessions = %q, want 1", got)
		}
		return nil
	})
	state := p.QueryString(t, "SELECT STATE FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'INSERT%'", appUser)

	n := open(t, p)
	connect(t, n)
	const lockWait = time.Second
	var res mysqlnode.FenceResult
	var err error
	took := timed(func() { res, err = n.Fence(callCtx(t), lockWait) })
	t.Logf("blocked fence: %+v in %v (lock wait %v; the app session was in state %q)", res, took, lockWait, state)
	if err != nil {
		t.Fatalf("%v", err)
	}
	if !res.Blocked || !res.Fenced || res.Killed != 1 {
		t.Errorf("fence = %+v, want blocked, then fenced, 1 session killed", res)
	}
	if took < lockWait {
		t.Errorf("fence took %v, less than the lock wait %v it must have waited", took, lockWait)
	}
	select {
	case err := <-done:
		t.Logf("the waiting insert returned: %v", err)
		if err == nil {
			t.Error("the killed insert reported success")
		}
	case <-time.After(waitTimeout):
		t.Fatal("the killed insert never returned")
	}
	if p.Variable(t, "read_only") != "1" {
		t.Error("read_only is not ON after the blocked Fence")
	}
	if err := insert(t, dbAs(t, p, appUser, appPassword), 43, "after fence"); errno(err) != 1290 {
		t.Errorf("app insert after the fence: %v, want 1290", err)
	}
	// Unknown outcome (notes/mariadb.md §6.16): committed here, on no replica.
	if got := count(t, p, "harness.t WHERE id = 42"); got != 1 {
		t.Errorf("the killed insert's row on the old primary: %d rows, want 1 (committed without an ack)", got)
	}
	for _, r := range tp.Replicas {
		if got := count(t, r, "harness.t WHERE id = 42"); got != 0 {
			t.Errorf("the killed insert's row on replica %s: %d rows, want 0", r.Addr, got)
		}
	}
}
