package failover

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// mysqlEnv is a MariaDB cluster (a primary, two semi-sync replicas), a
// routing Redis and three sentinels.
type mysqlEnv struct {
	*env
	top *harness.MariaDBTopology
}

func startMySQL(t *testing.T) *mysqlEnv {
	t.Helper()
	harness.Require(t, "redis-server", "mariadbd")
	e := &env{t: t, o: opts{cluster: "msg", fenceWait: "strict"}}
	e.routing = harness.StartRedis(t, harness.RedisOptions{})
	top := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})
	for _, id := range []string{"s1", "s2", "s3"} {
		e.members = append(e.members, &member{id: id, admin: harness.FreePort(t), gossip: harness.FreePort(t), dataDir: t.TempDir()})
	}
	var list []string
	for _, m := range e.members {
		list = append(list, fmt.Sprintf("{id: %s, address: \"127.0.0.1:%d\"}", m.id, m.gossip))
	}
	for _, m := range e.members {
		cfg := fmt.Sprintf(`
sentinel: {id: %s, data_dir: %s}
fleet: {name: e2e, members: [%s]}
gossip: {bind: "127.0.0.1:%d", profile: local}
admin: {listen: "127.0.0.1:%d"}
routing: {address: %q}
log: {level: debug}
detection: {probe_interval: 200ms, probe_timeout: 150ms, min_down_after: 1s, down_after: 5s, opinion_ttl: 3s}
failover: {lease: 5s, lease_drift_margin: 500ms, election_timeout: 1s, cooldown: 30s}
clusters:
  - name: msg
    kind: mysql
    primary: %q
    replicas: [%q, %q]
    quorum: 2
    fence_wait: strict
    credentials:
      username: %s
      password: %s
      replication: {username: %s, password: %s}
`, m.id, m.dataDir, strings.Join(list, ", "), m.gossip, m.admin, e.routing.Addr, top.Primary.Addr,
			top.Replicas[0].Addr, top.Replicas[1].Addr, harness.MariaDBAdminUser, harness.MariaDBAdminPassword,
			harness.MariaDBReplUser, harness.MariaDBReplPassword)
		m.s = harness.StartSentinel(t, harness.SentinelOptions{Config: cfg})
	}
	watchInvariants(t, e.routing.Addr, "msg")
	return &mysqlEnv{env: e, top: top}
}

// sqlWriter inserts rows numbered by its own sequence into the primary the
// route names; a row is acknowledged when the COMMIT returned: with
// semi-sync AFTER_SYNC a replica has it then.
type sqlWriter struct {
	mu    sync.Mutex
	acked []int64
	byDB  map[string]int
	seq   int64
	stop  chan struct{}
	done  chan struct{}
}

func startSQLWriter(t *testing.T, e *mysqlEnv) *sqlWriter {
	w := &sqlWriter{byDB: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	e.top.Primary.Exec(t, "CREATE TABLE IF NOT EXISTS harness.w (seq BIGINT PRIMARY KEY)")
	go func() {
		defer close(w.done)
		var db *sql.DB
		addr := ""
		defer func() {
			if db != nil {
				db.Close()
			}
		}()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			h, err := e.route()
			if err != nil || h["primary"] == "" {
				continue
			}
			if h["primary"] != addr {
				if db != nil {
					db.Close()
				}
				addr = h["primary"]
				db, _ = sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?timeout=1s&readTimeout=2s&writeTimeout=2s",
					harness.MariaDBAppUser, harness.MariaDBAppPassword, addr))
				db.SetMaxOpenConns(1)
			}
			w.mu.Lock()
			w.seq++
			seq := w.seq
			w.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = db.ExecContext(ctx, "INSERT INTO harness.w VALUES (?)", seq)
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acked = append(w.acked, seq)
				w.byDB[addr]++
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *sqlWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *sqlWriter) ackedOn(addr string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byDB[addr]
}

// lost returns the acknowledged rows node does not have.
func (w *sqlWriter) lost(t *testing.T, node *harness.MariaDB) []int64 {
	w.mu.Lock()
	acked := append([]int64(nil), w.acked...)
	w.mu.Unlock()
	have := map[int64]bool{}
	rows, err := node.DB(t).Query("SELECT seq FROM harness.w")
	if err != nil {
		t.Fatalf("read back the rows from %s: %v", node.Addr, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s int64
		rows.Scan(&s)
		have[s] = true
	}
	var lost []int64
	for _, s := range acked {
		if !have[s] {
			lost = append(lost, s)
		}
	}
	return lost
}

// waitPromoted waits until the route names one of the replicas at an
// epoch above minEpoch, and returns it, the other replica and the epoch.
func (e *mysqlEnv) waitPromoted(minEpoch uint64) (np, other *harness.MariaDB, epoch uint64) {
	e.t.Helper()
	harness.Eventually(e.t, deadline, "the route moves to a promoted replica at a higher epoch", func() error {
		e.checkAlive()
		h, err := e.route()
		if err != nil {
			return err
		}
		epoch, _ = strconv.ParseUint(h["epoch"], 10, 64)
		for i, r := range e.top.Replicas {
			if h["primary"] == r.Addr && epoch > minEpoch {
				np, other = r, e.top.Replicas[1-i]
				return nil
			}
		}
		return fmt.Errorf("route is %v", h)
	})
	return np, other, epoch
}

// kill -9 of a semi-sync MariaDB primary: one promotion, of a replica that
// has every acknowledged row; the route moves at a higher epoch; the other
// replica replicates the new primary; no acknowledged row is lost.
func TestMySQLKillPrimaryFailsOverWithoutLosingAcknowledgedWrites(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startSQLWriter(t, e)
	harness.Eventually(t, deadline, "rows acknowledged on the seed primary", func() error {
		if n := w.ackedOn(old.Addr); n < 100 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})

	old.Kill(t)

	np, other, _ := e.waitPromoted(seedEpoch)
	if ro := np.QueryString(t, "SELECT @@read_only"); ro != "0" {
		t.Errorf("the new primary %s has read_only=%s", np.Addr, ro)
	}
	harness.Eventually(t, deadline, "the other replica replicates the new primary", func() error {
		st := other.ReplicaStatus(t)
		if st["Master_Port"] != fmt.Sprint(np.Port) || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("%s: master port %s, IO %s, SQL %s (%s)", other.Addr, st["Master_Port"], st["Slave_IO_Running"],
				st["Slave_SQL_Running"], st["Last_IO_Error"])
		}
		return nil
	})
	harness.Eventually(t, deadline, "rows acknowledged on the new primary", func() error {
		if n := w.ackedOn(np.Addr); n < 50 {
			return fmt.Errorf("%d acknowledged on %s", n, np.Addr)
		}
		return nil
	})
	w.halt()
	if lost := w.lost(t, np); len(lost) > 0 {
		t.Errorf("%d acknowledged rows lost, e.g. %v", len(lost), lost[:min(10, len(lost))])
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
	// DESIGN.md §6.8: semi-sync as §6.2 wants and every replica reached.
	if loss := e.failoverLoss(); loss["zero_loss"] != true {
		t.Errorf("loss estimate %v, want zero acknowledged writes lost", loss)
	}
	e.logTimeline()
}

// The steward sets MASTER_HEARTBEAT_PERIOD back on a replica whose
// heartbeat was made slow (replica vantage needs short heartbeats,
// DESIGN.md §5.4).
func TestMySQLStewardRepairsTheHeartbeat(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	r := e.top.Replicas[0]
	r.Exec(t, "STOP SLAVE")
	r.Exec(t, "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=30")
	r.Exec(t, "START SLAVE")
	harness.Eventually(t, deadline, "the steward sets the heartbeat back to 1s", func() error {
		hb := r.Status(t, "Slave_heartbeat_period")
		st := r.ReplicaStatus(t)
		if hb != "1.000" || st["Slave_IO_Running"] != "Yes" {
			return fmt.Errorf("%s: heartbeat period %s, IO %s", r.Addr, hb, st["Slave_IO_Running"])
		}
		return nil
	})
}

// A MariaDB primary killed, failed over, and restarted with its data: it
// has nothing the new primary lacks (semi-sync: every commit it made was
// received by a replica), so the steward rejoins it as a replica of the
// new primary.
func TestMySQLReturningPrimaryRejoins(t *testing.T) {
	e := startMySQL(t)
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	old.Exec(t, "CREATE TABLE harness.r (id INT PRIMARY KEY)")
	old.Exec(t, "INSERT INTO harness.r VALUES (1)")
	old.Kill(t)
	np, _, _ := e.waitPromoted(seedEpoch)

	old.RestartWith(t, "--init-rpl-role=SLAVE") // as nodes should start: with its data, read_only=ON from its my.cnf
	harness.Eventually(t, deadline, "the old primary rejoins as a replica of the new one", func() error {
		st := old.ReplicaStatus(t)
		if st["Master_Port"] != fmt.Sprint(np.Port) || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
			return fmt.Errorf("%s: master port %q, IO %q, SQL %q (%s%s)", old.Addr, st["Master_Port"], st["Slave_IO_Running"],
				st["Slave_SQL_Running"], st["Last_IO_Error"], st["Last_SQL_Error"])
		}
		return nil
	})
	np.Exec(t, "INSERT INTO harness.r VALUES (2)")
	harness.Eventually(t, deadline, "a row written on the new primary reaches the rejoined node", func() error {
		if n := old.QueryString(t, "SELECT COUNT(*) FROM harness.r"); n != "2" {
			return fmt.Errorf("%s has %s rows", old.Addr, n)
		}
		return nil
	})
	if n := e.logCount("condition=ErrantReturningPrimary"); n != 0 {
		t.Errorf("ErrantReturningPrimary raised %d times for a clean returning primary", n)
	}
}
