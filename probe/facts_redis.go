package probe

// RedisFacts are the replication facts of one Redis instance, read in one
// probe round from `INFO server replication persistence` and `CONFIG GET`.
//
// Field names say primary/replica; JSON names quote the INFO field a value
// is copied from, so an operator can match them against redis-cli output.
// Numbers that Redis reports as -1 when it does not know keep -1.
//
// Lineage (DESIGN.md §2) is ReplID, ReplID2, Offset and SecondOffset, not
// RunID: a replica adopts its primary's replid, a promoted replica moves the
// old replid to ReplID2 with SecondOffset the first offset of its own
// history, and a server restarted without its data gets a new replid and an
// offset that starts again near 0.
type RedisFacts struct {
	// Version is redis_version, such as "7.0.15".
	Version string `json:"redis_version"`
	// RunID is run_id: random per process start, so it changes on every
	// restart. It names a process, not data.
	RunID string `json:"run_id"`
	// Loading is true while the server loads its dataset from disk (INFO
	// loading:1, or PING answered -LOADING). It answers nothing else but
	// INFO, PING and a few admin commands until done.
	Loading bool `json:"loading"`
	// PrimaryDown is true when PING answered -MASTERDOWN: a replica whose
	// link to its primary is down and which has replica-serve-stale-data no.
	PrimaryDown bool `json:"masterdown"`
	// AOFEnabled is aof_enabled (INFO persistence).
	AOFEnabled bool `json:"aof_enabled"`

	// ReplID is master_replid: the replication history this instance is in.
	ReplID string `json:"master_replid"`
	// ReplID2 is master_replid2: the history it was in before its last
	// promotion; all zeros when it has none.
	ReplID2 string `json:"master_replid2"`
	// Offset is master_repl_offset, in bytes of replication stream.
	Offset int64 `json:"master_repl_offset"`
	// SecondOffset is second_repl_offset: up to which offset ReplID2 is
	// valid (bytes); -1 when ReplID2 is unset.
	SecondOffset int64 `json:"second_repl_offset"`
	// BacklogActive is repl_backlog_active.
	BacklogActive bool `json:"repl_backlog_active"`
	// BacklogFirstByteOffset is repl_backlog_first_byte_offset: the oldest
	// offset a partial resync can start from (bytes).
	BacklogFirstByteOffset int64 `json:"repl_backlog_first_byte_offset"`
	// BacklogHistlen is repl_backlog_histlen: bytes held in the backlog.
	BacklogHistlen int64 `json:"repl_backlog_histlen"`
	// FailoverState is master_failover_state: "no-failover" unless a
	// server-side FAILOVER command is running.
	FailoverState string `json:"master_failover_state,omitempty"`

	// The replica side; zero on a primary (LastIOSecondsAgo -1).

	// PrimaryHost and PrimaryPort are master_host and master_port, as the
	// replica was told them (Observation.Primary joins them).
	PrimaryHost string `json:"master_host,omitempty"`
	PrimaryPort int    `json:"master_port,omitempty"`
	// LinkUp is master_link_status:up.
	LinkUp bool `json:"master_link_up"`
	// LinkDownSinceSeconds is master_link_down_since_seconds: seconds since
	// the link went down; 0 while it is up, and -1 when it has never been
	// up since this process started (Redis 7.0 reports -1 then).
	LinkDownSinceSeconds int64 `json:"master_link_down_since_seconds"`
	// LastIOSecondsAgo is master_last_io_seconds_ago: seconds since the
	// replica last received anything from its primary (data or the ping
	// sent every repl-ping-replica-period); -1 when the link is down.
	LastIOSecondsAgo int64 `json:"master_last_io_seconds_ago"`
	// SyncInProgress is master_sync_in_progress: a full sync's RDB is being
	// transferred. A replica waiting for its primary to start that transfer
	// shows 0 here and a down link.
	SyncInProgress bool `json:"master_sync_in_progress"`
	// ReplicaOffset is slave_repl_offset: bytes of the primary's stream
	// this replica has processed.
	ReplicaOffset int64 `json:"slave_repl_offset"`
	// ReplicaReadOffset is slave_read_repl_offset: bytes received (which
	// may be ahead of ReplicaOffset).
	ReplicaReadOffset int64 `json:"slave_read_repl_offset"`
	// Announced is replica_announced: false when replica-announced is no,
	// which hides it from Redis Sentinel's replica lists.
	Announced bool `json:"replica_announced"`

	// Priority is replica-priority (INFO slave_priority on a replica,
	// else CONFIG GET): lower is preferred, 0 means never promote. -1 when
	// neither could be read.
	Priority int `json:"slave_priority"`
	// ReplicaReadOnly is replica-read-only (INFO slave_read_only on a
	// replica, else CONFIG GET). It only takes effect while the instance
	// is a replica.
	ReplicaReadOnly bool `json:"slave_read_only"`

	// The primary side; zero on a replica without sub-replicas.

	// ConnectedReplicas is connected_slaves.
	ConnectedReplicas int `json:"connected_slaves"`
	// GoodReplicas is min_slaves_good_slaves: the replicas whose last ack
	// is no older than min-replicas-max-lag. -1 when Redis does not report
	// it (min-replicas-to-write is 0).
	GoodReplicas int `json:"min_slaves_good_slaves"`
	// Replicas are the slaveN lines, in N order.
	Replicas []RedisReplica `json:"slaves,omitempty"`

	// Settings are the self-fence and heartbeat settings (DESIGN.md §5.4,
	// §6.2); nil when CONFIG GET failed (renamed or denied by ACL), and
	// then Observation.Error says why.
	Settings *RedisSettings `json:"settings,omitempty"`
}

// RedisReplica is one slaveN line of a primary's INFO replication.
type RedisReplica struct {
	// IP and Port are how the replica announced itself (its connection's
	// IP, or replica-announce-ip/-port).
	IP   string `json:"ip"`
	Port int    `json:"port"`
	// State is wait_bgsave, send_bulk or online.
	State string `json:"state"`
	// Offset is the replica's acknowledged offset (bytes).
	Offset int64 `json:"offset"`
	// LagSeconds is seconds since the replica's last ack (it acks every
	// second).
	LagSeconds int64 `json:"lag"`
}

// RedisSettings are the CONFIG values the daemon sets and audits.
type RedisSettings struct {
	// MinReplicasToWrite is min-replicas-to-write: a primary refuses writes
	// with fewer good replicas than this. 0 disables the self-fence.
	MinReplicasToWrite int `json:"min_replicas_to_write"`
	// MinReplicasMaxLagSeconds is min-replicas-max-lag (seconds): a replica
	// is good while its last ack is at most this old.
	MinReplicasMaxLagSeconds int `json:"min_replicas_max_lag"`
	// PingReplicaPeriodSeconds is repl-ping-replica-period (seconds): how
	// often a primary pings its replicas, which bounds a healthy replica's
	// master_last_io_seconds_ago. The daemon wants 1 (Redis default 10).
	PingReplicaPeriodSeconds int `json:"repl_ping_replica_period"`
}
