package mysqlsql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Heartbeat bounds. DESIGN.md §5.4: replica vantage judges the primary by
// I/O within k × the heartbeat, so the daemon keeps it at most 1 s; the
// servers accept 1 ms to 4294967 s (measured on MariaDB 10.11: a smaller
// value is turned into 0, heartbeats off, with a warning; a larger one is
// refused with error 1624).
const (
	MaxHeartbeat     = time.Second
	minHeartbeat     = time.Millisecond
	maxHeartbeatSlow = 4294967 * time.Second
	// maxConnectRetry is this package's own bound: a replica the daemon
	// manages retries its source at least hourly.
	maxConnectRetry = time.Hour
)

// replica is the keyword of the replication statements: SLAVE on MariaDB
// (measured on 10.11; REPLICA is a synonym there from 10.5.1, not used) and
// MySQL before 8.0.22, REPLICA from MySQL 8.0.22 (8.4 removed SLAVE).
func replica(f Flavor) string {
	if f.replicaKeywords() {
		return "REPLICA"
	}
	return "SLAVE"
}

// change is the statement that points a replica at its source and the
// prefix of its options: CHANGE MASTER TO / MASTER_ on MariaDB and MySQL
// before 8.0.23, CHANGE REPLICATION SOURCE TO / SOURCE_ from MySQL 8.0.23
// (8.4 removed CHANGE MASTER TO).
func change(f Flavor) (statement, prefix string) {
	if f.changeSource() {
		return "CHANGE REPLICATION SOURCE TO", "SOURCE_"
	}
	return "CHANGE MASTER TO", "MASTER_"
}

// StopIOThread stops the replica's receiver (IO) thread, so it takes
// nothing more from its source, while its applier (SQL) thread goes on
// applying what it received: the first step of a failover on every
// reachable replica (DESIGN.md §6.1, §6.3: a replica with its IO thread
// stopped can no longer acknowledge for the old primary).
//
// MariaDB stops the default connection only; MySQL stops every channel's
// receiver. On a server with no replication configured MariaDB answers
// with note 1255, not an error.
func StopIOThread(f Flavor) (Stmt, error) {
	if _, err := begin("stop the IO thread", f); err != nil {
		return Stmt{}, err
	}
	return stmt("STOP "+replica(f)+" IO_THREAD",
		"stop receiving from the old primary; the SQL thread keeps applying the relay log"), nil
}

// StartIOThread starts the replica's receiver (IO) thread again: the
// undo of StopIOThread when a failover gives up before anything
// irreversible (DESIGN.md §6.1: a failed step leaves the cluster writable
// where it was). The applier (SQL thread) is left as it is. A thread that
// already runs is left running (MariaDB answers with note 1254); a server
// with no source configured refuses it (MariaDB error 1200).
func StartIOThread(f Flavor) (Stmt, error) {
	if _, err := begin("start the IO thread", f); err != nil {
		return Stmt{}, err
	}
	return stmt("START "+replica(f)+" IO_THREAD",
		"receive from the old primary again: the failover gave up before promoting"), nil
}

// StopAndResetReplication makes a replica forget its source, so it can be
// a primary: stop both threads, then RESET ... ALL (which also drops the
// source's address and credentials). Run it only after WaitApplied said
// the relay log is applied: RESET deletes the relay logs.
//
// MariaDB resets the default connection; MySQL without FOR CHANNEL resets
// every channel.
func StopAndResetReplication(f Flavor) ([]Stmt, error) {
	if _, err := begin("stop and reset replication", f); err != nil {
		return nil, err
	}
	kw := replica(f)
	return []Stmt{
		stmt("STOP "+kw, "stop both replication threads of the candidate"),
		stmt("RESET "+kw+" ALL", "forget the old source, its position and relay logs: the candidate replicates from no one"),
	}, nil
}

// StartReplication starts both replication threads (START SLAVE / START
// REPLICA). A server with no source configured refuses it (MariaDB error
// 1200).
func StartReplication(f Flavor) (Stmt, error) {
	if _, err := begin("start replication", f); err != nil {
		return Stmt{}, err
	}
	return stmt("START "+replica(f), "start both replication threads"), nil
}

// Source is where Repoint points a replica.
type Source struct {
	// Host and Port are how the replica reaches its new source, after the
	// address map: an IP address (no brackets) or a DNS name, and 1-65535.
	Host string
	Port int
	// User and Password are the replication account. Neither may contain
	// control characters; Password may be empty. Statements that carry the
	// password show it as '<redacted>' (Stmt.String).
	User, Password string
	// Heartbeat is how often an idle source sends the replica a heartbeat
	// event: a whole number of milliseconds, at least 1 ms and at most
	// MaxHeartbeat (1 s, DESIGN.md §5.4) unless AllowSlowHeartbeat.
	Heartbeat          time.Duration
	AllowSlowHeartbeat bool
	// ConnectRetry is how long the replica waits between attempts to
	// connect: whole seconds, 1 s to 1 h.
	ConnectRetry time.Duration
	// SSL makes the replica connect with TLS (MASTER_SSL=1 /
	// SOURCE_SSL=1). False leaves the replica's TLS setting as it was.
	SSL bool
	// Demote marks a former primary that rejoins as a replica. MariaDB
	// (10.10+) needs MASTER_DEMOTE_TO_SLAVE=1 there: it merges the
	// transactions the node wrote as a primary (gtid_binlog_pos) into
	// gtid_slave_pos, where slave_pos replication starts from
	// (notes/mariadb.md §6.10). MySQL needs nothing: its auto-position
	// sends gtid_executed, which holds them already.
	Demote bool
}

// Repoint points a replica at a new source with GTID positioning and
// starts it: STOP, CHANGE MASTER TO (MySQL 8.0.23+: CHANGE REPLICATION
// SOURCE TO), START. The replica then asks the source for what it lacks by
// GTID: MariaDB MASTER_USE_GTID=slave_pos, MySQL SOURCE_AUTO_POSITION=1
// (which needs gtid_mode=ON and both threads stopped, hence the STOP).
// MariaDB refuses CHANGE MASTER while either thread runs (error 1198,
// measured on 10.11).
//
// Values are quoted literals (Quote): CHANGE MASTER takes no placeholders.
func Repoint(f Flavor, src Source) ([]Stmt, error) {
	step := "repoint to " + hostPort(src.Host, src.Port)
	if checkHost(src.Host) != "" {
		step = "repoint" // the check names the host, quoted
	}
	c, err := begin(step, f)
	if err != nil {
		return nil, err
	}
	c.add(checkHost(src.Host))
	c.add(checkPort(src.Port))
	c.add(checkText("user", src.User, false))
	c.add(checkText("password", src.Password, true))
	c.add(checkHeartbeat(src.Heartbeat, src.AllowSlowHeartbeat))
	c.add(checkUnit("connect retry", src.ConnectRetry, time.Second, time.Second, maxConnectRetry))
	if src.Demote && f.mariadb() && !f.AtLeast(10, 10, 0) {
		c.unsupported("MASTER_DEMOTE_TO_SLAVE needs MariaDB 10.10 or later")
	}
	if err := c.err(); err != nil {
		return nil, err
	}

	head, p := change(f)
	why := fmt.Sprintf("replicate from %s, positioned by GTID", hostPort(src.Host, src.Port))
	if src.Demote {
		if f.mariadb() {
			why += "; the node's own transactions as a primary count as replicated"
		} else {
			why += "; auto-position sends the node's own transactions as a primary (gtid_executed)"
		}
	}
	text := func(password string) string {
		opts := []string{
			p + "HOST=" + mustQuote(src.Host),
			p + "PORT=" + strconv.Itoa(src.Port),
			p + "USER=" + mustQuote(src.User),
			p + "PASSWORD=" + password,
		}
		if f.mariadb() {
			opts = append(opts, "MASTER_USE_GTID=slave_pos")
		} else {
			opts = append(opts, p+"AUTO_POSITION=1")
		}
		opts = append(opts,
			p+"CONNECT_RETRY="+strconv.FormatInt(int64(src.ConnectRetry/time.Second), 10),
			p+"HEARTBEAT_PERIOD="+seconds(src.Heartbeat))
		if src.SSL {
			opts = append(opts, p+"SSL=1")
		}
		if src.Demote && f.mariadb() {
			opts = append(opts, "MASTER_DEMOTE_TO_SLAVE=1")
		}
		return head + " " + strings.Join(opts, ", ")
	}
	kw := replica(f)
	return []Stmt{
		stmt("STOP "+kw, "stop both threads: the source can change only then"),
		{sql: text(mustQuote(src.Password)), shown: text(redacted), Why: why},
		stmt("START "+kw, "start replicating from the new source"),
	}, nil
}

// SetHeartbeat sets how often an idle source sends this replica a
// heartbeat (DESIGN.md §5.4: the steward keeps it ≤ 1 s). MariaDB refuses
// CHANGE MASTER while either thread runs (error 1198, measured on 10.11),
// so there it is STOP SLAVE, CHANGE, START SLAVE; MySQL needs only the
// receiver stopped, so there it is STOP/START ... IO_THREAD and the applier
// keeps running. The START starts every thread the STOP stopped: use it on
// a replica whose threads run (the steward repairs stopped threads
// separately).
//
// period is a whole number of milliseconds, 1 ms to MaxHeartbeat unless
// allowSlow (then up to 4294967 s).
func SetHeartbeat(f Flavor, period time.Duration, allowSlow bool) ([]Stmt, error) {
	c, err := begin("set the replication heartbeat", f)
	if err != nil {
		return nil, err
	}
	c.add(checkHeartbeat(period, allowSlow))
	if err := c.err(); err != nil {
		return nil, err
	}
	head, p := change(f)
	set := stmt(head+" "+p+"HEARTBEAT_PERIOD="+seconds(period),
		fmt.Sprintf("an idle source sends a heartbeat every %v, so the replica can vouch for it (DESIGN.md §5.4)", period))
	kw := replica(f)
	if f.mariadb() {
		return []Stmt{
			stmt("STOP "+kw, "MariaDB changes a source setting only with both threads stopped"),
			set,
			stmt("START "+kw, "resume replication"),
		}, nil
	}
	return []Stmt{
		stmt("STOP "+kw+" IO_THREAD", "the heartbeat is the receiver's setting: stop the receiver only"),
		set,
		stmt("START "+kw+" IO_THREAD", "resume receiving"),
	}, nil
}

func checkHeartbeat(d time.Duration, allowSlow bool) string {
	hi := MaxHeartbeat
	if allowSlow {
		hi = maxHeartbeatSlow
	}
	if d > MaxHeartbeat && d <= maxHeartbeatSlow && !allowSlow {
		return fmt.Sprintf("heartbeat %v is longer than %v: replica vantage needs I/O from the primary at least that often (DESIGN.md §5.4)", d, MaxHeartbeat)
	}
	if d <= 0 {
		return fmt.Sprintf("heartbeat %v turns heartbeats off: replica vantage needs them (DESIGN.md §5.4)", d)
	}
	return checkUnit("heartbeat", d, time.Millisecond, minHeartbeat, hi)
}

// hostPort prints an address for messages (IPv6 in brackets).
func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}
