package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/probe/mysqlprobe"
	"github.com/imsentinel/imsentinel/test/harness"
)

func mariadbProber(t *testing.T, addr string) probe.Prober {
	p := mysqlprobe.New(probe.Target{
		Cluster: "m", Kind: probe.KindMySQL, Address: addr, Timeout: probeTimeout,
		Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword,
	})
	closeOnCleanup(t, p)
	return p
}

// defaultChannel returns the default replication channel of an observation.
func defaultChannel(o probe.Observation) (probe.Channel, error) {
	if o.MySQL == nil {
		return probe.Channel{}, fmt.Errorf("no facts (reachable=%v error=%q)", o.Reachable, o.Error)
	}
	for _, c := range o.MySQL.Channels {
		if c.Name == "" {
			return c, nil
		}
	}
	return probe.Channel{}, errors.New("no default channel")
}

// TestMariaDBRoles probes a semi-sync GTID primary and its two replicas,
// stops one replica's IO thread, then kills the primary and watches the
// other replica's view of it (DESIGN.md §5.4, §6.2: what vantage and the
// self-fence audit read).
func TestMariaDBRoles(t *testing.T) {
	harness.Require(t, "mariadbd", "mariadb-install-db")
	tp := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})
	r1, r2 := tp.Replicas[0], tp.Replicas[1]
	pp := mariadbProber(t, tp.Primary.Addr)
	p1 := mariadbProber(t, r1.Addr)
	p2 := mariadbProber(t, r2.Addr)

	var primaryPos string
	t.Run("primary", func(t *testing.T) {
		obs := waitObservation(t, pp, "primary with both replicas registered", func(o probe.Observation) error {
			switch {
			case !o.Reachable || o.Error != "":
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			case o.Role != probe.RolePrimary:
				return fmt.Errorf("role %v", o.Role)
			case !slices.Contains(o.Replicas, r1.Addr) || !slices.Contains(o.Replicas, r2.Addr):
				return fmt.Errorf("replicas %v, want %s and %s (SHOW SLAVE HOSTS)", o.Replicas, r1.Addr, r2.Addr)
			}
			return nil
		})
		f := obs.MySQL
		primaryPos = f.GTIDBinlogPos
		if f.Flavor != probe.FlavorMariaDB || f.ServerID != 1 || obs.ReadOnly || !f.LogBin || !f.GTIDStrictMode {
			t.Errorf("primary: flavor=%v server_id=%d read_only=%v log_bin=%v strict=%v", f.Flavor, f.ServerID, obs.ReadOnly, f.LogBin, f.GTIDStrictMode)
		}
		if f.GTIDBinlogPos == "" || f.GTIDBinlogState == "" || len(f.Channels) != 0 || obs.Primary != "" {
			t.Errorf("primary: binlog_pos=%q binlog_state=%q channels=%d primary=%q", f.GTIDBinlogPos, f.GTIDBinlogState, len(f.Channels), obs.Primary)
		}
		ss := f.SemiSync
		if !ss.Loaded || !ss.PrimaryEnabled || !ss.PrimaryActive || ss.Clients != 2 ||
			ss.WaitPoint != "AFTER_SYNC" || !ss.WaitNoReplica || ss.Timeout != 24*time.Hour {
			t.Errorf("primary semi-sync = %+v, want enabled and active, 2 clients, AFTER_SYNC, wait_no_slave, 1 day timeout", ss)
		}
		if ss.YesTx < 1 {
			t.Errorf("primary semi-sync yes_tx = %d after the harness's marker write", ss.YesTx)
		}
	})

	t.Run("replica", func(t *testing.T) {
		obs := waitObservation(t, p1, "replica running and caught up", func(o probe.Observation) error {
			c, err := defaultChannel(o)
			switch {
			case err != nil:
				return err
			case o.Error != "":
				return fmt.Errorf("error %q", o.Error)
			case c.IO != probe.IORunning || !c.SQLRunning:
				return fmt.Errorf("io=%v sql=%v", c.IO, c.SQLRunning)
			case c.GTIDIOPos != primaryPos:
				return fmt.Errorf("gtid_io_pos %q, want the primary's %q", c.GTIDIOPos, primaryPos)
			}
			return nil
		})
		c, _ := defaultChannel(obs)
		f := obs.MySQL
		if obs.Role != probe.RoleReplica || obs.Primary != tp.Primary.Addr || !obs.ReadOnly || f.ServerID != 2 {
			t.Errorf("replica: role=%v primary=%q read_only=%v server_id=%d, want replica of %s, true, 2", obs.Role, obs.Primary, obs.ReadOnly, f.ServerID, tp.Primary.Addr)
		}
		if c.Source != tp.Primary.Addr || c.SourceServerID != 1 || !c.UsingGTID || c.LastIOErrno != 0 || c.LastSQLErrno != 0 {
			t.Errorf("replica channel = %+v", c)
		}
		if c.HeartbeatPeriod != time.Second {
			t.Errorf("heartbeat period %v, want 1s (MASTER_HEARTBEAT_PERIOD=1)", c.HeartbeatPeriod)
		}
		if c.SecondsBehind < 0 || f.LagSeconds < 0 {
			t.Errorf("seconds behind %d, lag %d: want known while both threads run", c.SecondsBehind, f.LagSeconds)
		}
		if !f.SemiSync.ReplicaEnabled || !f.SemiSync.ReplicaActive || f.SemiSync.PrimaryEnabled {
			t.Errorf("replica semi-sync = %+v, want the replica side only", f.SemiSync)
		}
		// The idle primary sends a heartbeat every second.
		waitObservation(t, p1, "received heartbeats increase", func(o probe.Observation) error {
			later, err := defaultChannel(o)
			if err != nil {
				return err
			}
			if later.ReceivedHeartbeats <= c.ReceivedHeartbeats {
				return fmt.Errorf("received heartbeats %d, not above %d", later.ReceivedHeartbeats, c.ReceivedHeartbeats)
			}
			return nil
		})
	})

	t.Run("replica with its IO thread stopped", func(t *testing.T) {
		r2.Exec(t, "STOP SLAVE IO_THREAD")
		obs := waitObservation(t, p2, "IO thread seen stopped", func(o probe.Observation) error {
			c, err := defaultChannel(o)
			if err != nil {
				return err
			}
			if c.IO != probe.IOStopped {
				return fmt.Errorf("io=%v", c.IO)
			}
			return nil
		})
		c, _ := defaultChannel(obs)
		if obs.Role != probe.RoleReplica || obs.Primary != tp.Primary.Addr || !c.SQLRunning || c.SecondsBehind != -1 {
			t.Errorf("IO stopped: role=%v primary=%q sql=%v seconds_behind=%d, want still a replica of %s, SQL running, NULL lag",
				obs.Role, obs.Primary, c.SQLRunning, c.SecondsBehind, tp.Primary.Addr)
		}
		waitObservation(t, pp, "primary down to one semi-sync client", func(o probe.Observation) error {
			if o.MySQL == nil || o.MySQL.SemiSync.Clients != 1 {
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			}
			return nil
		})
	})

	t.Run("replica of a killed primary", func(t *testing.T) {
		tp.Primary.Kill(t)
		obs := waitObservation(t, p1, "replica reconnecting with an IO error", func(o probe.Observation) error {
			c, err := defaultChannel(o)
			switch {
			case err != nil:
				return err
			case !o.Reachable || o.Error != "":
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			case c.IO != probe.IOConnecting || c.LastIOErrno == 0:
				return fmt.Errorf("io=%v last_io_errno=%d", c.IO, c.LastIOErrno)
			}
			return nil
		})
		c, _ := defaultChannel(obs)
		if obs.Role != probe.RoleReplica || obs.Primary != tp.Primary.Addr || c.SecondsBehind != -1 || c.LastIOError == "" {
			t.Errorf("primary killed: role=%v primary=%q seconds_behind=%d last_io_error=%q", obs.Role, obs.Primary, c.SecondsBehind, c.LastIOError)
		}
	})

	t.Run("the killed primary", func(t *testing.T) {
		if obs := probeOnce(pp); obs.Reachable || obs.Error == "" || obs.MySQL != nil {
			t.Errorf("killed primary via its old prober: reachable=%v error=%q", obs.Reachable, obs.Error)
		}
		testRefused(t, mariadbProber(t, tp.Primary.Addr), tp.Primary.Addr)
	})
}

func TestMariaDBRefused(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	testRefused(t, mariadbProber(t, addr), addr)
}

// TestMariaDBPaused probes a SIGSTOPped mariadbd: the round ends by its
// deadline, unreachable; after SIGCONT the same prober sees it again.
func TestMariaDBPaused(t *testing.T) {
	harness.Require(t, "mariadbd", "mariadb-install-db")
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{})
	p := mysqlprobe.New(probe.Target{Address: m.Addr, Timeout: 500 * time.Millisecond,
		Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword})
	closeOnCleanup(t, p)
	if obs := probeOnce(p); !obs.Reachable || obs.Error != "" {
		t.Fatalf("before pause: %s", show(obs))
	}

	bad := mysqlprobe.New(probe.Target{Address: m.Addr, Timeout: probeTimeout,
		Username: harness.MariaDBAdminUser, Password: "s3cret-pw"})
	closeOnCleanup(t, bad)
	// A refused login is an answer: the server is alive (docs/grants.md);
	// Access says it refused the admin user, and nothing else is known.
	refused := probeOnce(bad)
	if acc, ok := refused.Access.Account(probe.PurposeAdmin); !refused.Reachable || !refused.LoginRefused() || !ok ||
		!strings.Contains(acc.Refused, "Access denied") || !strings.Contains(refused.Error, "Access denied") ||
		strings.Contains(refused.Error+acc.Refused, "s3cret-pw") || refused.MySQL != nil {
		t.Errorf("wrong password: reachable=%v access=%+v error=%q, want reachable (alive), the login refused, access denied, "+
			"no facts, the password not shown", refused.Reachable, refused.Access, refused.Error)
	}

	m.Pause(t)
	t.Cleanup(func() { m.Resume(t) })
	const deadline = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	obs := p.Probe(ctx)
	took := time.Since(start)
	if obs.Reachable || obs.Error == "" {
		t.Errorf("paused: reachable=%v error=%q, want false and a timeout", obs.Reachable, obs.Error)
	}
	// Returning by the deadline is the contract; allow scheduling slack.
	if took > deadline+time.Second {
		t.Errorf("paused: probe returned after %v, deadline %v", took, deadline)
	}

	m.Resume(t)
	waitObservation(t, p, "reachable after SIGCONT", func(o probe.Observation) error {
		if !o.Reachable || o.Error != "" || o.Role != probe.RolePrimary {
			return fmt.Errorf("reachable=%v role=%v error=%q", o.Reachable, o.Role, o.Error)
		}
		return nil
	})
}
