package mysqlprobe

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// A row is one result row read by column name. A NULL column is absent, so
// "unknown" and "empty" stay apart.
type row map[string]string

// get returns the first of names present in r, comparing case-insensitively
// (servers differ: Server_id vs Server_Id, Rpl_semi_sync_* vs rpl_semi_sync_*).
func (r row) get(names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := r[n]; ok {
			return v, true
		}
	}
	for k, v := range r {
		for _, n := range names {
			if strings.EqualFold(k, n) {
				return v, true
			}
		}
	}
	return "", false
}

// fields reads typed values from a row, collecting the errors of values that
// are present but malformed.
type fields struct {
	r    row
	errs []error
}

func (f *fields) str(names ...string) string {
	v, _ := f.r.get(names...)
	return v
}

func (f *fields) int64(missing int64, names ...string) int64 {
	v, ok := f.r.get(names...)
	if !ok || v == "" {
		return missing
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("column %s: %w", names[0], err))
		return missing
	}
	return n
}

func (f *fields) uint64(names ...string) uint64 {
	v, ok := f.r.get(names...)
	if !ok || v == "" {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("column %s: %w", names[0], err))
		return 0
	}
	return n
}

func (f *fields) uint32(names ...string) uint32 {
	n := f.uint64(names...)
	if n > math.MaxUint32 {
		f.errs = append(f.errs, fmt.Errorf("column %s: %d out of range", names[0], n))
		return 0
	}
	return uint32(n)
}

// flag reads a server boolean: 1/0, ON/OFF, YES/NO, TRUE/FALSE.
func (f *fields) flag(names ...string) bool {
	v, ok := f.r.get(names...)
	if !ok || v == "" {
		return false
	}
	switch strings.ToUpper(v) {
	case "1", "ON", "YES", "TRUE":
		return true
	case "0", "OFF", "NO", "FALSE":
		return false
	}
	f.errs = append(f.errs, fmt.Errorf("column %s: want ON or OFF, got %q", names[0], v))
	return false
}

// seconds reads a decimal number of seconds ("1.000").
func (f *fields) seconds(names ...string) time.Duration {
	v, ok := f.r.get(names...)
	if !ok || v == "" {
		return 0
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s < 0 {
		f.errs = append(f.errs, fmt.Errorf("column %s: want seconds, got %q", names[0], v))
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

func (f *fields) err() error { return errors.Join(f.errs...) }

// flavorOf tells the flavor from @@version.
func flavorOf(version string) probe.Flavor {
	switch {
	case version == "":
		return probe.FlavorUnknown
	case strings.Contains(version, "MariaDB"):
		return probe.FlavorMariaDB
	}
	return probe.FlavorMySQL
}

// atLeast reports whether a version string ("8.0.36", "8.0.22-log") is at
// least major.minor.patch. An unreadable version counts as new: the newer
// statements are the ones that survive (MySQL 8.4 removed the old ones).
func atLeast(version string, major, minor, patch int) bool {
	want := [3]int{major, minor, patch}
	head, _, _ := strings.Cut(version, "-")
	parts := strings.SplitN(head, ".", 3)
	for i := range 3 {
		if i >= len(parts) {
			return true
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return true
		}
		if n != want[i] {
			return n > want[i]
		}
	}
	return true
}

// varsFacts reads the server-variable row of either flavor's variable query
// (columns aliased to the variable names) into facts.
func varsFacts(r row) (probe.MySQLFacts, error) {
	f := fields{r: r}
	facts := probe.MySQLFacts{
		Version:         f.str("version"),
		ServerID:        f.uint32("server_id"),
		ServerUUID:      f.str("server_uuid"),
		ReadOnly:        f.flag("read_only"),
		SuperReadOnly:   f.flag("super_read_only"),
		LogBin:          f.flag("log_bin"),
		GTIDMode:        f.str("gtid_mode"),
		GTIDExecuted:    compactGTIDSet(f.str("gtid_executed")),
		GTIDBinlogPos:   f.str("gtid_binlog_pos"),
		GTIDBinlogState: f.str("gtid_binlog_state"),
		GTIDSlavePos:    f.str("gtid_slave_pos"),
		GTIDCurrentPos:  f.str("gtid_current_pos"),
		GTIDStrictMode:  f.flag("gtid_strict_mode"),
		GTIDDomainID:    f.uint32("gtid_domain_id"),
		LagSeconds:      -1,
	}
	facts.Flavor = flavorOf(facts.Version)
	return facts, f.err()
}

// compactGTIDSet removes the newlines MySQL puts after the commas of a long
// GTID set.
func compactGTIDSet(s string) string {
	return strings.ReplaceAll(s, "\n", "")
}

// ChannelOf reads one row of SHOW ALL SLAVES STATUS (MariaDB), SHOW
// REPLICA STATUS (MySQL ≥ 8.0.22) or SHOW SLAVE STATUS (older MySQL), as
// ReadRows reads it, into a Channel: the one reading of a replication
// channel, shared with the failover's admin edge (promote/mysqlnode).
func ChannelOf[R ~map[string]string](r R) (probe.Channel, error) { return channelOf(row(r)) }

// channelOf reads one row of SHOW ALL SLAVES STATUS (MariaDB), SHOW REPLICA
// STATUS (MySQL ≥ 8.0.22) or SHOW SLAVE STATUS (older MySQL) into a Channel,
// whichever column names the server used.
func channelOf(r row) (probe.Channel, error) {
	f := fields{r: r}
	c := probe.Channel{
		Name:           f.str("Connection_name", "Channel_Name"),
		SourceServerID: f.uint32("Master_Server_Id", "Source_Server_Id"),
		SourceUUID:     f.str("Master_UUID", "Source_UUID"),
		IOStatus:       f.str("Slave_IO_State", "Replica_IO_State"),
		SQLRunning:     f.flag("Slave_SQL_Running", "Replica_SQL_Running"),
		LastIOErrno:    int(f.int64(0, "Last_IO_Errno")),
		LastIOError:    f.str("Last_IO_Error"),
		LastSQLErrno:   int(f.int64(0, "Last_SQL_Errno")),
		LastSQLError:   f.str("Last_SQL_Error"),
		SecondsBehind:  f.int64(-1, "Seconds_Behind_Master", "Seconds_Behind_Source"),

		GTIDIOPos:        f.str("Gtid_IO_Pos"),
		RetrievedGTIDSet: compactGTIDSet(f.str("Retrieved_Gtid_Set")),
		ExecutedGTIDSet:  compactGTIDSet(f.str("Executed_Gtid_Set")),

		HeartbeatPeriod:    f.seconds("Slave_heartbeat_period"),
		ReceivedHeartbeats: f.int64(-1, "Slave_received_heartbeats"),

		SourceLogFile:     f.str("Master_Log_File", "Source_Log_File"),
		ReadSourceLogPos:  f.uint64("Read_Master_Log_Pos", "Read_Source_Log_Pos"),
		ExecSourceLogFile: f.str("Relay_Master_Log_File", "Relay_Source_Log_File"),
		ExecSourceLogPos:  f.uint64("Exec_Master_Log_Pos", "Exec_Source_Log_Pos"),
		RelayLogSpace:     f.uint64("Relay_Log_Space"),
	}
	if host := f.str("Master_Host", "Source_Host"); host != "" {
		c.Source = net.JoinHostPort(host, strconv.FormatInt(f.int64(0, "Master_Port", "Source_Port"), 10))
	}
	switch io := f.str("Slave_IO_Running", "Replica_IO_Running"); io {
	case "Yes":
		c.IO = probe.IORunning
	case "No":
		c.IO = probe.IOStopped
	case "Connecting", "Preparing":
		// MariaDB 10.11 shows "Preparing" for a moment after START SLAVE,
		// before "Connecting" (seen in test/mysqlnode): started, not
		// connected.
		c.IO = probe.IOConnecting
	default:
		f.errs = append(f.errs, fmt.Errorf("column Slave_IO_Running: unknown value %q", io))
	}
	if using, ok := r.get("Using_Gtid"); ok {
		c.UsingGTID = using != "" && !strings.EqualFold(using, "No")
	} else {
		c.UsingGTID = f.flag("Auto_Position")
	}
	if err := f.err(); err != nil {
		return c, fmt.Errorf("channel %q: %w", c.Name, err)
	}
	return c, nil
}

// heartbeat is one channel's heartbeat settings and counter, from MySQL's
// performance_schema (MariaDB shows them in SHOW ALL SLAVES STATUS).
type heartbeat struct {
	period   time.Duration
	received int64
}

// heartbeatOf reads one row of queryHeartbeatMySQL.
func heartbeatOf(r row) (channel string, hb heartbeat, err error) {
	f := fields{r: r}
	channel = f.str("CHANNEL_NAME")
	hb.period = f.seconds("HEARTBEAT_INTERVAL")
	hb.received = f.int64(-1, "COUNT_RECEIVED_HEARTBEATS")
	return channel, hb, f.err()
}

// addHeartbeats fills the heartbeat period and counter of MySQL channels
// from the rows of queryHeartbeatMySQL, matching by channel name.
func addHeartbeats(channels []probe.Channel, rows []row) error {
	var errs []error
	for _, r := range rows {
		name, hb, err := heartbeatOf(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range channels {
			if channels[i].Name == name {
				channels[i].HeartbeatPeriod = hb.period
				channels[i].ReceivedHeartbeats = hb.received
			}
		}
	}
	return errors.Join(errs...)
}

// replicaHosts reads SHOW SLAVE HOSTS / SHOW REPLICAS rows into "host:port"
// addresses as the replicas report them, and counts the rows without a host
// (replicas that do not set report_host).
func replicaHosts(rows []row) (addrs []string, unnamed int, err error) {
	var errs []error
	for _, r := range rows {
		f := fields{r: r}
		host := f.str("Host")
		port := f.int64(0, "Port")
		if err := f.err(); err != nil {
			errs = append(errs, err)
			continue
		}
		if host == "" {
			unnamed++
			continue
		}
		addrs = append(addrs, net.JoinHostPort(host, strconv.FormatInt(port, 10)))
	}
	return addrs, unnamed, errors.Join(errs...)
}

// nameValues turns SHOW VARIABLES / SHOW STATUS rows (Variable_name, Value)
// into one row keyed by lower-case name.
func nameValues(rows []row) row {
	out := make(row, len(rows))
	for _, r := range rows {
		name, ok := r.get("Variable_name")
		if !ok {
			continue
		}
		v, ok := r.get("Value")
		if !ok {
			continue
		}
		out[strings.ToLower(name)] = v
	}
	return out
}

// semiSyncOf reads the semi-sync variables and status, under either naming
// scheme (master/slave, or MySQL 8.0.26+ source/replica).
func semiSyncOf(vars, status row) (probe.SemiSync, error) {
	v := fields{r: vars}
	s := fields{r: status}
	ss := probe.SemiSync{
		Loaded:              len(vars) > 0,
		PrimaryEnabled:      v.flag("rpl_semi_sync_master_enabled", "rpl_semi_sync_source_enabled"),
		ReplicaEnabled:      v.flag("rpl_semi_sync_slave_enabled", "rpl_semi_sync_replica_enabled"),
		WaitPoint:           v.str("rpl_semi_sync_master_wait_point", "rpl_semi_sync_source_wait_point"),
		WaitNoReplica:       v.flag("rpl_semi_sync_master_wait_no_slave", "rpl_semi_sync_source_wait_no_replica"),
		Timeout:             time.Duration(v.int64(0, "rpl_semi_sync_master_timeout", "rpl_semi_sync_source_timeout")) * time.Millisecond,
		WaitForReplicaCount: int(v.int64(0, "rpl_semi_sync_master_wait_for_slave_count", "rpl_semi_sync_source_wait_for_replica_count")),

		PrimaryActive: s.flag("rpl_semi_sync_master_status", "rpl_semi_sync_source_status"),
		Clients:       int(s.int64(0, "rpl_semi_sync_master_clients", "rpl_semi_sync_source_clients")),
		YesTx:         s.int64(0, "rpl_semi_sync_master_yes_tx", "rpl_semi_sync_source_yes_tx"),
		NoTx:          s.int64(0, "rpl_semi_sync_master_no_tx", "rpl_semi_sync_source_no_tx"),
		ReplicaActive: s.flag("rpl_semi_sync_slave_status", "rpl_semi_sync_replica_status"),
	}
	return ss, errors.Join(v.err(), s.err())
}

// roleOf says what an instance is from its channels: a replica when any
// channel has a source configured (running or not: a replica whose threads
// are stopped is still one), otherwise a primary. It returns the source the
// instance follows: the default channel's, else the first channel's.
func roleOf(channels []probe.Channel) (probe.Role, string) {
	primary := ""
	for _, c := range channels {
		if c.Source == "" {
			continue
		}
		if primary == "" || c.Name == "" {
			primary = c.Source
		}
		if c.Name == "" {
			break
		}
	}
	if primary == "" {
		return probe.RolePrimary, ""
	}
	return probe.RoleReplica, primary
}

// lagOf is the worst Seconds_Behind over channels with a source, -1 when
// any is unknown or there is none.
func lagOf(channels []probe.Channel) int64 {
	lag := int64(-1)
	for _, c := range channels {
		if c.Source == "" {
			continue
		}
		if c.SecondsBehind < 0 {
			return -1
		}
		lag = max(lag, c.SecondsBehind)
	}
	return lag
}
