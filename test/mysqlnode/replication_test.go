package mysqlnode_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestPosition reads a primary and a replica of a semi-sync 1+1 topology.
func TestPosition(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	p, r := tp.Primary, tp.Replicas[0]
	pos := p.Variable(t, "gtid_binlog_pos")

	pp, err := open(t, p).Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if pp.ServerID != 1 || pp.ReadOnly || len(pp.Channels) != 0 || pp.GTIDBinlogPos != pos || pp.Flavor.String() == "unknown" {
		t.Errorf("primary's position = %+v, want server 1, writable, no channel, binlog at %s", pp, pos)
	}
	rp, err := open(t, r).Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	c, ok := rp.Channel()
	if rp.ServerID != 2 || !rp.ReadOnly || rp.Applied() != pos || rp.GTIDSlavePos != pos || !ok {
		t.Errorf("replica's position = %+v, want server 2, read-only, applied %s, a default channel", rp, pos)
	}
	if c.Source != p.Addr || c.IO != probe.IORunning || !c.SQLRunning || c.GTIDIOPos != pos || !c.UsingGTID ||
		c.HeartbeatPeriod != time.Second || c.SourceServerID != 1 || c.SQLState == "" {
		t.Errorf("replica's channel = %+v, want %s, both threads, received %s, GTID, heartbeat 1s, source server 1, a SQL state", c, p.Addr, pos)
	}
}

// TestRepointReportsThreadErrors: a repoint to a source that refuses the
// connection (2003) or the replication account (1045) returns
// ErrReplication naming the error as soon as the IO thread reports it; a
// repoint to a good source afterwards succeeds (START SLAVE cleared the
// error) and replicates.
func TestRepointReportsThreadErrors(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{Async: true})
	p, r := tp.Primary, tp.Replicas[0]
	dead := harness.StartMariaDB(t, 3, harness.MariaDBOptions{Async: true})
	dead.Kill(t)
	n := open(t, r)

	badPassword := source(p)
	badPassword.Password = "wrong"
	for _, c := range []struct {
		name  string
		err   error
		errno string
	}{
		{"nothing listens", n.Repoint(callCtx(t), source(dead)), "error 2003"},
		{"wrong password", n.Repoint(callCtx(t), badPassword), "error 1045"},
	} {
		t.Logf("repoint, %s: %v", c.name, c.err)
		if !errors.Is(c.err, mysqlnode.ErrReplication) || !strings.Contains(c.err.Error(), c.errno) || mysqlnode.Classify(c.err) != mysqlnode.Failed {
			t.Errorf("repoint, %s: %v, want a Failed ErrReplication naming %s", c.name, c.err, c.errno)
		}
	}

	var err error
	took := timed(func() { err = n.Repoint(callCtx(t), source(p)) })
	if err != nil {
		t.Fatalf("repoint to the primary after the errors: %v", err)
	}
	t.Logf("repoint (STOP, CHANGE MASTER, START, until both threads run): %v", took)
	p.Exec(t, "INSERT INTO harness.marker VALUES (2, 'after repoint')")
	r.WaitGTID(t, p.Variable(t, "gtid_binlog_pos"))
	if got := count(t, r, "harness.marker"); got != 2 {
		t.Errorf("marker rows on the repointed replica: %d, want 2", got)
	}
}

// TestSetHeartbeat (DESIGN.md §5.4): the replica's heartbeat period is set
// and its threads run again; on a replica whose IO thread a failover
// stopped it is refused, and the IO thread stays stopped.
func TestSetHeartbeat(t *testing.T) {
	tp := harness.StartMariaDBTopology(t, 1, harness.MariaDBOptions{})
	r := tp.Replicas[0]
	n := open(t, r)
	var err error
	took := timed(func() { err = n.SetHeartbeat(callCtx(t), 500*time.Millisecond) })
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("set heartbeat (STOP SLAVE, CHANGE MASTER, START SLAVE): %v", took)
	r.WaitReplicating(t)
	p, err := n.Position(callCtx(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	if c, _ := p.Channel(); c.HeartbeatPeriod != 500*time.Millisecond {
		t.Errorf("heartbeat period = %v, want 500ms", c.HeartbeatPeriod)
	}
	if err := n.SetHeartbeat(callCtx(t), 2*time.Second); err == nil {
		t.Error("SetHeartbeat(2s): no error, want a refusal (over 1 s, DESIGN.md §5.4)")
	}

	if err := n.StopIOThread(callCtx(t)); err != nil {
		t.Fatal(err)
	}
	err = n.SetHeartbeat(callCtx(t), time.Second)
	if !errors.Is(err, mysqlnode.ErrNotReplicating) {
		t.Errorf("SetHeartbeat with the IO thread stopped: %v, want ErrNotReplicating", err)
	}
	if st := r.ReplicaStatus(t); st["Slave_IO_Running"] != "No" {
		t.Errorf("Slave_IO_Running = %q after the refused SetHeartbeat, want No (left stopped)", st["Slave_IO_Running"])
	}
	if err := open(t, tp.Primary).SetHeartbeat(callCtx(t), time.Second); !errors.Is(err, mysqlnode.ErrNotReplicating) {
		t.Errorf("SetHeartbeat on the primary: %v, want ErrNotReplicating", err)
	}
}
