package probe

import (
	"fmt"
	"time"
)

// Flavor is which server family a MySQL-kind instance runs. The zero value
// is unknown.
type Flavor uint8

const (
	FlavorUnknown Flavor = iota
	FlavorMySQL
	FlavorMariaDB
)

func (f Flavor) String() string {
	switch f {
	case FlavorMySQL:
		return "mysql"
	case FlavorMariaDB:
		return "mariadb"
	}
	return "unknown"
}

func (f Flavor) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *Flavor) UnmarshalText(b []byte) error {
	switch string(b) {
	case "mysql":
		*f = FlavorMySQL
	case "mariadb":
		*f = FlavorMariaDB
	case "unknown", "":
		*f = FlavorUnknown
	default:
		return fmt.Errorf("unknown flavor %q (want mysql or mariadb)", b)
	}
	return nil
}

// MySQLFacts are the replication facts of one MySQL or MariaDB instance,
// read in one probe round from server variables, the replication status of
// every channel, the registered replicas and the semi-sync plugin.
//
// Lineage (DESIGN.md §2) is ServerID, ServerUUID (MySQL only) and the GTID
// history: GTIDExecuted on MySQL, GTIDBinlogState on MariaDB.
type MySQLFacts struct {
	Flavor Flavor `json:"flavor"`
	// Version is @@version, such as "10.11.19-MariaDB-0+deb12u1-log".
	Version  string `json:"version"`
	ServerID uint32 `json:"server_id"`
	// ServerUUID is @@server_uuid (MySQL only; MariaDB has none).
	ServerUUID string `json:"server_uuid,omitempty"`
	// ReadOnly is @@read_only. On MariaDB 10.11 users with READ_ONLY ADMIN
	// (part of ALL PRIVILEGES) still write; on MySQL, SUPER does.
	ReadOnly bool `json:"read_only"`
	// SuperReadOnly is @@super_read_only (MySQL only): also blocks SUPER.
	SuperReadOnly bool `json:"super_read_only"`
	// LogBin is @@log_bin: the binary log is on (a node without it cannot
	// be a primary to anyone).
	LogBin bool `json:"log_bin"`

	// GTIDMode is @@gtid_mode (MySQL only): OFF, OFF_PERMISSIVE,
	// ON_PERMISSIVE or ON.
	GTIDMode string `json:"gtid_mode,omitempty"`
	// GTIDExecuted is @@gtid_executed (MySQL only): the set of transactions
	// this server has committed, as uuid:interval lists.
	GTIDExecuted string `json:"gtid_executed,omitempty"`

	// GTIDBinlogPos is @@gtid_binlog_pos (MariaDB only): the last GTID
	// written to the binary log per domain.
	GTIDBinlogPos string `json:"gtid_binlog_pos,omitempty"`
	// GTIDBinlogState is @@gtid_binlog_state (MariaDB only): the last GTID
	// per (domain, server id) in the binary log. Errant transactions show
	// here (notes/mariadb.md §4).
	GTIDBinlogState string `json:"gtid_binlog_state,omitempty"`
	// GTIDSlavePos is @@gtid_slave_pos (MariaDB only): the last GTID per
	// domain applied by replication.
	GTIDSlavePos string `json:"gtid_slave_pos,omitempty"`
	// GTIDCurrentPos is @@gtid_current_pos (MariaDB only): GTIDBinlogPos or
	// GTIDSlavePos per domain, whichever is newer.
	GTIDCurrentPos string `json:"gtid_current_pos,omitempty"`
	// GTIDStrictMode is @@gtid_strict_mode (MariaDB only).
	GTIDStrictMode bool `json:"gtid_strict_mode"`
	// GTIDDomainID is @@gtid_domain_id (MariaDB only).
	GTIDDomainID uint32 `json:"gtid_domain_id"`

	// Channels are the configured replication channels (MariaDB `SHOW ALL
	// SLAVES STATUS`, MySQL `SHOW REPLICA STATUS`), in the server's order.
	// Empty on a node with no replication configured.
	Channels []Channel `json:"channels,omitempty"`
	// LagSeconds is the worst Seconds_Behind_Master/Source over Channels:
	// -1 when any channel reports NULL (its SQL thread is stopped or its
	// IO thread is not connected) or when there are no channels.
	LagSeconds int64 `json:"lag_seconds"`

	// UnnamedReplicas counts replicas registered with this node (SHOW SLAVE
	// HOSTS / SHOW REPLICAS) whose Host is empty because they do not set
	// report_host. They cannot be named, so they are not in
	// Observation.Replicas; the daemon should flag the configuration.
	UnnamedReplicas int `json:"unnamed_replicas,omitempty"`

	SemiSync SemiSync `json:"semi_sync"`
}

// IOThread is the state of a channel's receiver (IO) thread:
// Slave_IO_Running / Replica_IO_Running. The zero value is unknown.
type IOThread uint8

const (
	IOUnknown IOThread = iota
	// IORunning is "Yes": connected to the source and receiving.
	IORunning
	// IOStopped is "No": stopped (STOP SLAVE IO_THREAD, or a fatal error).
	IOStopped
	// IOConnecting is "Connecting": started but not connected; the source
	// is unreachable or refused the replica (Last_IO_Errno says why).
	IOConnecting
)

func (s IOThread) String() string {
	switch s {
	case IORunning:
		return "yes"
	case IOStopped:
		return "no"
	case IOConnecting:
		return "connecting"
	}
	return "unknown"
}

func (s IOThread) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *IOThread) UnmarshalText(b []byte) error {
	switch string(b) {
	case "yes", "Yes":
		*s = IORunning
	case "no", "No":
		*s = IOStopped
	case "connecting", "Connecting":
		*s = IOConnecting
	default:
		*s = IOUnknown
	}
	return nil
}

// Channel is one replication channel of a replica (MariaDB connection, MySQL
// channel), normalised from either column naming scheme (Slave_/Master_ or
// Replica_/Source_).
type Channel struct {
	// Name is Connection_name (MariaDB) or Channel_Name (MySQL); "" is the
	// default channel.
	Name string `json:"name"`
	// Source is Master_Host:Master_Port (Source_Host:Source_Port) as
	// configured on the replica, before the address map.
	Source string `json:"source"`
	// SourceServerID is Master_Server_Id: 0 until the IO thread has
	// connected once.
	SourceServerID uint32 `json:"source_server_id"`
	// SourceUUID is Master_UUID / Source_UUID (MySQL only).
	SourceUUID string `json:"source_uuid,omitempty"`

	IO IOThread `json:"io_running"`
	// IOStatus is Slave_IO_State / Replica_IO_State, the thread's own words
	// ("Waiting for master to send event", "Reconnecting after a failed
	// master event read").
	IOStatus   string `json:"io_state,omitempty"`
	SQLRunning bool   `json:"sql_running"`
	// LastIOErrno/LastIOError are the receiver's last error (2003: cannot
	// connect; 1236: the source lacks the requested GTIDs).
	LastIOErrno int    `json:"last_io_errno"`
	LastIOError string `json:"last_io_error,omitempty"`
	// LastSQLErrno/LastSQLError are the applier's last error.
	LastSQLErrno int    `json:"last_sql_errno"`
	LastSQLError string `json:"last_sql_error,omitempty"`
	// SecondsBehind is Seconds_Behind_Master / Seconds_Behind_Source
	// (seconds); -1 when NULL.
	SecondsBehind int64 `json:"seconds_behind"`

	// UsingGTID is true when the channel positions by GTID (MariaDB
	// Using_Gtid Slave_Pos or Current_Pos, MySQL Auto_Position 1).
	UsingGTID bool `json:"using_gtid"`
	// GTIDIOPos is Gtid_IO_Pos (MariaDB): the last GTID received per domain.
	GTIDIOPos string `json:"gtid_io_pos,omitempty"`
	// RetrievedGTIDSet and ExecutedGTIDSet are MySQL's received and applied
	// GTID sets.
	RetrievedGTIDSet string `json:"retrieved_gtid_set,omitempty"`
	ExecutedGTIDSet  string `json:"executed_gtid_set,omitempty"`

	// HeartbeatPeriod is how often an idle source sends a heartbeat
	// (MariaDB Slave_heartbeat_period; MySQL
	// performance_schema.replication_connection_configuration). 0 when
	// heartbeats are off or the value could not be read.
	HeartbeatPeriod time.Duration `json:"heartbeat_period_ns"`
	// ReceivedHeartbeats counts heartbeats received since the channel was
	// last started or changed (MariaDB Slave_received_heartbeats; MySQL
	// COUNT_RECEIVED_HEARTBEATS); -1 when it could not be read.
	ReceivedHeartbeats int64 `json:"received_heartbeats"`

	// SourceLogFile and ReadSourceLogPos are Master_Log_File and
	// Read_Master_Log_Pos: how far the receiver has read the source's
	// binary log (bytes).
	SourceLogFile    string `json:"source_log_file,omitempty"`
	ReadSourceLogPos uint64 `json:"read_source_log_pos"`
	// ExecSourceLogFile and ExecSourceLogPos are Relay_Master_Log_File and
	// Exec_Master_Log_Pos: how far the applier has executed (bytes).
	ExecSourceLogFile string `json:"exec_source_log_file,omitempty"`
	ExecSourceLogPos  uint64 `json:"exec_source_log_pos"`
	// RelayLogSpace is Relay_Log_Space: bytes of relay log not yet purged.
	RelayLogSpace uint64 `json:"relay_log_space"`
}

// SemiSync is the semi-synchronous replication plugin's settings and status,
// read under either naming scheme (rpl_semi_sync_master_*/slave_* or MySQL
// 8.0.26+ rpl_semi_sync_source_*/replica_*).
type SemiSync struct {
	// Loaded is true when the server has semi-sync variables at all
	// (built in on MariaDB; a plugin to install on MySQL).
	Loaded bool `json:"loaded"`
	// PrimaryEnabled is rpl_semi_sync_master_enabled.
	PrimaryEnabled bool `json:"primary_enabled"`
	// ReplicaEnabled is rpl_semi_sync_slave_enabled.
	ReplicaEnabled bool `json:"replica_enabled"`
	// WaitPoint is rpl_semi_sync_master_wait_point: AFTER_SYNC or
	// AFTER_COMMIT. DESIGN.md §6.2 needs AFTER_SYNC.
	WaitPoint string `json:"wait_point,omitempty"`
	// WaitNoReplica is rpl_semi_sync_master_wait_no_slave: keep waiting for
	// an ack with no replica connected. DESIGN.md §6.2 needs ON.
	WaitNoReplica bool `json:"wait_no_replica"`
	// Timeout is rpl_semi_sync_master_timeout: how long a commit waits for
	// an ack before the primary falls back to asynchronous replication.
	Timeout time.Duration `json:"timeout_ns"`
	// WaitForReplicaCount is rpl_semi_sync_master_wait_for_slave_count
	// (MySQL only); 0 when the server has no such variable.
	WaitForReplicaCount int `json:"wait_for_replica_count,omitempty"`

	// PrimaryActive is the status Rpl_semi_sync_master_status: ON while the
	// primary replicates semi-synchronously (OFF after a timeout fell back
	// to async).
	PrimaryActive bool `json:"primary_active"`
	// Clients is Rpl_semi_sync_master_clients: semi-sync replicas connected.
	Clients int `json:"clients"`
	// YesTx and NoTx are Rpl_semi_sync_master_yes_tx / _no_tx: commits
	// acknowledged by a replica, and commits that went without (a growing
	// NoTx means acknowledged writes may be lost on failover).
	YesTx int64 `json:"yes_tx"`
	NoTx  int64 `json:"no_tx"`
	// ReplicaActive is Rpl_semi_sync_slave_status: this replica's receiver
	// acks semi-synchronously.
	ReplicaActive bool `json:"replica_active"`
}
