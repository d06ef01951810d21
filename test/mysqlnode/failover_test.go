package mysqlnode_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/test/harness"
)

// semiSync is the self-fence of DESIGN.md §6.2 as the harness's servers
// run it: a day's timeout, one acknowledgement.
func semiSync() *mysqlsql.SemiSync { return &mysqlsql.SemiSync{Timeout: 24 * time.Hour, Acks: 1} }

// TestFailoverSteps runs an unplanned failover of a semi-sync 1+2 topology
// step by step in the order of DESIGN.md §6.1, the primary still alive:
// kill other sentinels' sessions, stop both replicas' IO threads, fence the
// old primary, wait for the candidate's relay log, promote it, repoint the
// other replica. Then the new primary takes writes that the repointed
// replica acknowledges and applies, every row written before is there, and
// the old primary refuses the application.
func TestFailoverSteps(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})
	old, r0, r1 := tp.Primary, tp.Replicas[0], tp.Replicas[1]
	createApp(t, old)
	app := dbAs(t, old, appUser, appPassword)
	const rows = 100
	for i := range rows {
		if err := insert(t, app, i, "before"); err != nil {
			t.Fatalf("insert %d on the primary: %v", i, err)
		}
	}
	pos := old.Variable(t, "gtid_binlog_pos")

	nOld, n0, n1 := open(t, old), open(t, r0), open(t, r1)
	for _, n := range []*mysqlnode.Node{nOld, n0, n1} {
		connect(t, n)
		if k, err := n.KillOtherAdminSessions(callCtx(t)); err != nil || k != 0 {
			t.Fatalf("KillOtherAdminSessions on %s = %d, %v; want 0 (no other sentinel)", n.Address(), k, err)
		}
	}

	var took = map[string]time.Duration{}
	took["stop IO threads"] = timed(func() {
		for _, n := range []*mysqlnode.Node{n0, n1} {
			if err := n.StopIOThread(callCtx(t)); err != nil {
				t.Fatalf("%v", err)
			}
		}
	})
	var fence mysqlnode.FenceResult
	took["fence"] = timed(func() {
		var err error
		if fence, err = nOld.Fence(callCtx(t), time.Second); err != nil {
			t.Fatalf("%v", err)
		}
	})
	if !fence.Fenced || fence.Blocked {
		t.Errorf("fence of the old primary = %+v, want fenced, not blocked", fence)
	}
	if err := insert(t, app, rows, "after fence"); errno(err) != 1290 {
		t.Errorf("app insert on the fenced old primary: %v, want error 1290 (read_only)", err)
	}

	p0, err := n0.Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	c0, ok := p0.Channel()
	if !ok || c0.IO != probe.IOStopped || !c0.SQLRunning || c0.GTIDIOPos != pos {
		t.Fatalf("candidate after STOP SLAVE IO_THREAD: %+v, want IO stopped, SQL running, received %s", c0, pos)
	}
	took["wait applied"] = timed(func() {
		if err := n0.WaitApplied(callCtx(t), c0.GTIDIOPos, time.Second, nil); err != nil {
			t.Fatalf("%v", err)
		}
	})
	took["promote"] = timed(func() {
		if err := n0.Promote(callCtx(t), semiSync()); err != nil {
			t.Fatalf("%v", err)
		}
	})
	took["repoint"] = timed(func() {
		if err := n1.Repoint(callCtx(t), source(r0)); err != nil {
			t.Fatalf("%v", err)
		}
	})
	t.Logf("latencies (connected, no backlog): %s", latencies(took, "stop IO threads", "fence", "wait applied", "promote", "repoint"))

	p0, err = n0.Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if p0.ReadOnly || len(p0.Channels) != 0 {
		t.Errorf("promoted node: read_only=%v channels=%+v, want writable with no channel", p0.ReadOnly, p0.Channels)
	}
	for v, want := range map[string]string{"rpl_semi_sync_master_enabled": "1", "rpl_semi_sync_master_wait_no_slave": "1",
		"rpl_semi_sync_master_wait_point": "AFTER_SYNC", "rpl_semi_sync_master_timeout": "86400000"} {
		if got := r0.Variable(t, v); got != want {
			t.Errorf("%s on the promoted node = %q, want %q", v, got, want)
		}
	}
	p1, err := n1.Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if c1, _ := p1.Channel(); c1.Source != r0.Addr || c1.IO != probe.IORunning || !c1.SQLRunning || !c1.UsingGTID {
		t.Errorf("repointed replica's channel: %+v, want %s, both threads running, GTID", c1, r0.Addr)
	}

	// The repointed replica acknowledges: a write on the new primary
	// returns (it would wait a day otherwise) and reaches it.
	r0.WaitSemiSyncClients(t, 1)
	yes := r0.Status(t, "Rpl_semi_sync_master_yes_tx")
	newApp := dbAs(t, r0, appUser, appPassword)
	if err := insert(t, newApp, rows, "after failover"); err != nil {
		t.Fatalf("app insert on the new primary: %v", err)
	}
	if got := r0.Status(t, "Rpl_semi_sync_master_yes_tx"); got == yes {
		t.Errorf("Rpl_semi_sync_master_yes_tx stayed %s: the write was not acknowledged by a replica", got)
	}
	r1.WaitGTID(t, r0.Variable(t, "gtid_binlog_pos"))
	for _, m := range []*harness.MariaDB{r0, r1} {
		if got := count(t, m, "harness.t"); got != rows+1 {
			t.Errorf("rows on %s = %d, want %d (every row written before, and the new one)", m.Addr, got, rows+1)
		}
	}
	if got := count(t, old, "harness.t"); got != rows {
		t.Errorf("rows on the old primary = %d, want %d", got, rows)
	}
	if old.Variable(t, "read_only") != "1" {
		t.Error("the old primary is writable again")
	}

	// Promote again: nothing to stop or reset, same settings, still writable.
	if err := n0.Promote(callCtx(t), semiSync()); err != nil {
		t.Errorf("second promote: %v", err)
	}
	if err := insert(t, newApp, rows+1, "after second promote"); err != nil {
		t.Errorf("app insert after the second promote: %v", err)
	}
}

// latencies prints the measured steps in order.
func latencies(took map[string]time.Duration, order ...string) string {
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%s %.1fms", k, float64(took[k].Microseconds())/1000))
	}
	return strings.Join(parts, ", ")
}

// TestPromoteRelaxed: a new primary with no replica left gets the relaxed
// self-fence (Acks 0, wait_no_slave=OFF, DESIGN.md §6.2) and takes a write
// at once instead of waiting the semi-sync timeout.
func TestPromoteRelaxed(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	r0 := tp.Replicas[0]
	createApp(t, tp.Primary)
	r0.WaitGTID(t, tp.Primary.Variable(t, "gtid_binlog_pos"))
	tp.Primary.Kill(t)

	n := open(t, r0)
	if err := n.Promote(callCtx(t), &mysqlsql.SemiSync{Timeout: 24 * time.Hour, Acks: 0}); err != nil {
		t.Fatalf("%v", err)
	}
	if got := r0.Variable(t, "rpl_semi_sync_master_wait_no_slave"); got != "0" {
		t.Errorf("rpl_semi_sync_master_wait_no_slave = %q, want 0 (relaxed)", got)
	}
	var err error
	took := timed(func() { err = insert(t, dbAs(t, r0, appUser, appPassword), 1, "no replica") })
	if err != nil || took > nodeTimeout {
		t.Errorf("app insert on a relaxed new primary without replicas: %v after %v, want at once", err, took)
	}
}

// TestPromoteAsync: semi nil (an asynchronous cluster) leaves semi-sync
// off; a node that replicates from no one is promoted all the same.
func TestPromoteAsync(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	n := open(t, m)
	if m.Variable(t, "read_only") != "1" {
		t.Fatal("a fresh node is writable: the harness's nodes start read_only")
	}
	for i := range 2 {
		if err := n.Promote(callCtx(t), nil); err != nil {
			t.Fatalf("promote %d: %v", i+1, err)
		}
	}
	if m.Variable(t, "read_only") != "0" || m.Variable(t, "rpl_semi_sync_master_enabled") != "0" {
		t.Errorf("after promote(nil): read_only=%s rpl_semi_sync_master_enabled=%s, want 0 and 0",
			m.Variable(t, "read_only"), m.Variable(t, "rpl_semi_sync_master_enabled"))
	}
}
