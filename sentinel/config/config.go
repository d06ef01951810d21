package config

import (
	"slices"
	"time"
)

// Config is the whole configuration of one imsentinel daemon. Field tags
// name the YAML keys; nested keys are written with dots in errors
// (detection.probe_interval) and with underscores in the environment
// (IMSENTINEL_DETECTION_PROBE_INTERVAL).
type Config struct {
	Sentinel  Sentinel        `mapstructure:"sentinel" yaml:"sentinel" json:"sentinel"`
	Log       Log             `mapstructure:"log" yaml:"log" json:"log"`
	Fleet     Fleet           `mapstructure:"fleet" yaml:"fleet" json:"fleet"`
	Gossip    Gossip          `mapstructure:"gossip" yaml:"gossip" json:"gossip"`
	Admin     Admin           `mapstructure:"admin" yaml:"admin" json:"admin"`
	Routing   Routing         `mapstructure:"routing" yaml:"routing" json:"routing"`
	Detection Detection       `mapstructure:"detection" yaml:"detection" json:"detection"`
	Failover  Failover        `mapstructure:"failover" yaml:"failover" json:"failover"`
	Clusters  []ClusterConfig `mapstructure:"clusters" yaml:"clusters" json:"clusters"`
}

// Sentinel identifies this daemon.
type Sentinel struct {
	// ID names this sentinel; it must be one of fleet.members. No default.
	ID string `mapstructure:"id" yaml:"id" json:"id"`
	// DataDir holds the durable state (votes, intents, committed configs,
	// journal). Default /var/lib/imsentinel. Losing it makes this sentinel
	// a learner until it catches up from the fleet (DESIGN.md §5.2).
	DataDir string `mapstructure:"data_dir" yaml:"data_dir" json:"data_dir"`
}

// Log configures the daemon's log on stderr.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `mapstructure:"level" yaml:"level" json:"level"`
	// Format is text or json. Default text.
	Format string `mapstructure:"format" yaml:"format" json:"format"`
}

// Fleet is the voter set (DESIGN.md §5.1).
type Fleet struct {
	// Name keeps fleets apart: it labels gossip and every routing entry.
	// No default.
	Name string `mapstructure:"name" yaml:"name" json:"name"`
	// Members lists every sentinel of the fleet, alive or not. The majority
	// is ⌊n/2⌋+1 of this list. Change one member at a time.
	Members []Member `mapstructure:"members" yaml:"members" json:"members"`
}

// Member is one voter.
type Member struct {
	// ID is the member's sentinel.id.
	ID string `mapstructure:"id" yaml:"id" json:"id"`
	// Address is its gossip address, host:port.
	Address string `mapstructure:"address" yaml:"address" json:"address"`
}

// Gossip configures the memberlist transport between sentinels.
type Gossip struct {
	// Bind is the UDP and TCP address to listen on. Default 0.0.0.0:7946.
	// A non-loopback bind needs an encryption key.
	Bind string `mapstructure:"bind" yaml:"bind" json:"bind"`
	// Advertise is the address other members reach this one at, when it
	// differs from Bind (NAT). Default "" (derived from Bind).
	Advertise string `mapstructure:"advertise" yaml:"advertise" json:"advertise"`
	// Label is prepended to every gossip packet so two fleets on one network
	// ignore each other. Default "" (the fleet name is used).
	Label string `mapstructure:"label" yaml:"label" json:"label"`
	// EncryptionKey is a base64 AES key of 16, 24 or 32 bytes. Secret.
	EncryptionKey Secret `mapstructure:"encryption_key" yaml:"encryption_key" json:"encryption_key"`
	// EncryptionKeyFile names a file holding EncryptionKey instead.
	EncryptionKeyFile string `mapstructure:"encryption_key_file" yaml:"encryption_key_file" json:"encryption_key_file"`
	// Profile picks memberlist's timings: lan (probe every 1s, a crashed
	// member seen dead in about 5s) or local (loopback tests). Liveness
	// only informs; it never changes the voter set. Default lan.
	Profile string `mapstructure:"profile" yaml:"profile" json:"profile"`
}

// Admin configures the HTTP admin API (/v1/, /healthz, /metrics).
type Admin struct {
	// Listen is host:port. Default 127.0.0.1:7070. A non-loopback address
	// needs a token.
	Listen string `mapstructure:"listen" yaml:"listen" json:"listen"`
	// Token is the bearer token mutating calls must carry. Secret.
	Token Secret `mapstructure:"token" yaml:"token" json:"token"`
	// TokenFile names a file holding Token instead.
	TokenFile string `mapstructure:"token_file" yaml:"token_file" json:"token_file"`
}

// Routing configures the Redis that holds the routing entries gateways read
// (DESIGN.md §7).
type Routing struct {
	// Address of the routing Redis, host:port. Default 127.0.0.1:6379.
	Address string `mapstructure:"address" yaml:"address" json:"address"`
	// Username is the Redis ACL user. Default "" (the default user).
	Username string `mapstructure:"username" yaml:"username" json:"username"`
	// Password for the routing Redis. Secret.
	Password Secret `mapstructure:"password" yaml:"password" json:"password"`
	// PasswordFile names a file holding Password instead.
	PasswordFile string `mapstructure:"password_file" yaml:"password_file" json:"password_file"`
	// DB is the Redis database number. Default 0.
	DB int `mapstructure:"db" yaml:"db" json:"db"`
	// Prefix starts every key and channel: <prefix>route:<cluster>,
	// <prefix>routes. Default "imsentinel:".
	Prefix string `mapstructure:"prefix" yaml:"prefix" json:"prefix"`
	// Timeout bounds each routing call (dial, read, write). Default 500ms.
	Timeout time.Duration `mapstructure:"timeout" yaml:"timeout" json:"timeout"`
}

// Detection configures probing and the failure detector (docs/detector.md).
type Detection struct {
	// ProbeInterval is the time between probe rounds of one instance.
	// Default 500ms.
	ProbeInterval time.Duration `mapstructure:"probe_interval" yaml:"probe_interval" json:"probe_interval"`
	// ProbeTimeout bounds dialing and each call of one round; shorter than
	// ProbeInterval. Default 300ms.
	ProbeTimeout time.Duration `mapstructure:"probe_timeout" yaml:"probe_timeout" json:"probe_timeout"`
	// MinDownAfter is the shortest silence that can make an instance SDOWN
	// (the adaptive window's lower clamp); at least two probe intervals.
	// Default 1500ms.
	MinDownAfter time.Duration `mapstructure:"min_down_after" yaml:"min_down_after" json:"min_down_after"`
	// DownAfter is the longest the detector waits (the window's upper
	// clamp). Default 10s.
	DownAfter time.Duration `mapstructure:"down_after" yaml:"down_after" json:"down_after"`
	// OpinionTTL is how long another sentinel's SDOWN opinion counts toward
	// ODOWN after it was sent. Default 3s.
	OpinionTTL time.Duration `mapstructure:"opinion_ttl" yaml:"opinion_ttl" json:"opinion_ttl"`
}

// Failover configures elections, leases and the failover steps (DESIGN.md
// §5.5–5.7, §6.1).
type Failover struct {
	// Lease is how long a vote binds its voter and how long the holder's
	// authority lasts from when it asked. Default 10s.
	Lease time.Duration `mapstructure:"lease" yaml:"lease" json:"lease"`
	// LeaseDriftMargin is taken off the holder's authority for clock rate
	// differences between hosts. Default 500ms.
	LeaseDriftMargin time.Duration `mapstructure:"lease_drift_margin" yaml:"lease_drift_margin" json:"lease_drift_margin"`
	// Cooldown after an automatic failover of a cluster, during which
	// another automatic failover needs every live sentinel's SDOWN
	// (DESIGN.md §5.10). Default 3m.
	Cooldown time.Duration `mapstructure:"cooldown" yaml:"cooldown" json:"cooldown"`
	// ElectionTimeout: an election not won by then is abandoned and the
	// candidate backs off at random before it tries again. Default 1s.
	ElectionTimeout time.Duration `mapstructure:"election_timeout" yaml:"election_timeout" json:"election_timeout"`
	// Steps are the per-step deadlines.
	Steps Steps `mapstructure:"steps" yaml:"steps" json:"steps"`
}

// Steps are the deadlines of the failover steps. A step starts only when
// the holder's remaining lease covers its deadline, so every step except
// catch_up (which renews the lease while it makes progress) must fit in
// lease − lease_drift_margin.
type Steps struct {
	// Fence bounds fencing the old primary (often unreachable). Default 1s.
	Fence time.Duration `mapstructure:"fence" yaml:"fence" json:"fence"`
	// Promote bounds promoting the chosen replica and seeing it primary.
	// Default 3s.
	Promote time.Duration `mapstructure:"promote" yaml:"promote" json:"promote"`
	// CatchUp bounds waiting for a MySQL candidate to apply its relay log;
	// the wait renews the lease and fails early when the SQL thread stalls.
	// Default 30s.
	CatchUp time.Duration `mapstructure:"catch_up" yaml:"catch_up" json:"catch_up"`
	// Repoint bounds repointing the other replicas. Default 3s.
	Repoint time.Duration `mapstructure:"repoint" yaml:"repoint" json:"repoint"`
	// Commit bounds persisting the new config on a majority. Default 2s.
	Commit time.Duration `mapstructure:"commit" yaml:"commit" json:"commit"`
	// Route bounds the routing compare-and-set and announcement. Default 2s.
	Route time.Duration `mapstructure:"route" yaml:"route" json:"route"`
}

// Cluster modes.
const (
	ModeAuto    = "auto"    // detect, agree and fail over
	ModeManual  = "manual"  // detect and agree; fail over only when an operator asks
	ModeObserve = "observe" // probe and report; never write to the cluster
)

// Fence-wait policies (DESIGN.md §6.3).
const (
	FenceWaitStrict = "strict"
	FenceWaitFast   = "fast"
)

// ClusterConfig is one replication group.
type ClusterConfig struct {
	// Name of the cluster, used in routing keys. Required, unique.
	Name string `mapstructure:"name" yaml:"name" json:"name"`
	// Kind is redis or mysql (MySQL or MariaDB). Required.
	Kind string `mapstructure:"kind" yaml:"kind" json:"kind"`
	// Primary is the seed primary, host:port. Only a seed: the committed
	// config with the highest epoch wins (DESIGN.md §5.9). Required.
	Primary string `mapstructure:"primary" yaml:"primary" json:"primary"`
	// Replicas are known replicas, host:port. Optional: replicas are also
	// discovered from the primary.
	Replicas []string `mapstructure:"replicas" yaml:"replicas" json:"replicas"`
	// Quorum is how many sentinels must report SDOWN for ODOWN. Default 2
	// (at most len(fleet.members)).
	Quorum int `mapstructure:"quorum" yaml:"quorum" json:"quorum"`
	// Mode is auto, manual or observe. Default auto.
	Mode string `mapstructure:"mode" yaml:"mode" json:"mode"`
	// FenceWait is strict or fast (DESIGN.md §6.3). Default strict, which
	// needs self_fence.enabled.
	FenceWait string `mapstructure:"fence_wait" yaml:"fence_wait" json:"fence_wait"`
	// SelfFence makes a cut-off primary stop acknowledging writes.
	SelfFence SelfFence `mapstructure:"self_fence" yaml:"self_fence" json:"self_fence"`
	// Heartbeat keeps replication heartbeats short for replica vantage.
	Heartbeat Heartbeat `mapstructure:"heartbeat" yaml:"heartbeat" json:"heartbeat"`
	// Instances carry per-instance settings such as priority.
	Instances []Instance `mapstructure:"instances" yaml:"instances" json:"instances"`
	// Credentials for probing and administering the cluster's nodes.
	Credentials Credentials `mapstructure:"credentials" yaml:"credentials" json:"credentials"`
	// AddressMap translates addresses the servers report into addresses
	// this sentinel can reach (NAT, proxies).
	AddressMap []AddressMapping `mapstructure:"address_map" yaml:"address_map" json:"address_map"`
}

// SelfFence configures the primary's own write fence (DESIGN.md §6.2):
// Redis min-replicas-to-write / min-replicas-max-lag; MySQL semi-sync
// AFTER_SYNC with wait_no_slave and a very long timeout.
type SelfFence struct {
	// Enabled makes the steward set and audit the self-fence. Default true.
	Enabled bool `mapstructure:"enabled" yaml:"enabled" json:"enabled"`
	// MinReplicas is how many replicas must acknowledge (Redis
	// min-replicas-to-write). Default 1.
	MinReplicas int `mapstructure:"min_replicas" yaml:"min_replicas" json:"min_replicas"`
	// MaxLag is Redis min-replicas-max-lag, whole seconds. Default 10s.
	MaxLag time.Duration `mapstructure:"max_lag" yaml:"max_lag" json:"max_lag"`
}

// Heartbeat configures replication heartbeats (DESIGN.md §5.4).
type Heartbeat struct {
	// Manage makes the steward set and repair the heartbeat period.
	// Default true.
	Manage bool `mapstructure:"manage" yaml:"manage" json:"manage"`
	// Period is Redis repl-ping-replica-period (whole seconds) or MySQL
	// MASTER_HEARTBEAT_PERIOD (at most 1s). Default 1s.
	Period time.Duration `mapstructure:"period" yaml:"period" json:"period"`
	// VantageMultiplier k: a replica sees its primary alive when it had
	// I/O from it within k × Period (LastIO < k × Period). At least 2.
	// Default 2.
	VantageMultiplier int `mapstructure:"vantage_multiplier" yaml:"vantage_multiplier" json:"vantage_multiplier"`
}

// Instance holds per-instance settings.
type Instance struct {
	// Address names the instance, host:port, as the servers report it.
	Address string `mapstructure:"address" yaml:"address" json:"address"`
	// Priority ranks candidates: lower is preferred, 0 never promotes.
	// Default: unset, the server's own (Redis replica-priority) or 100.
	Priority *int `mapstructure:"priority" yaml:"priority,omitempty" json:"priority,omitempty"`
}

// Credentials authenticate the sentinel to a cluster's nodes.
type Credentials struct {
	// Username for probing and administration. Default "" (Redis default
	// user; MySQL needs one).
	Username string `mapstructure:"username" yaml:"username" json:"username"`
	// Password for Username. Secret.
	Password Secret `mapstructure:"password" yaml:"password" json:"password"`
	// PasswordFile names a file holding Password instead.
	PasswordFile string `mapstructure:"password_file" yaml:"password_file" json:"password_file"`
	// Replication is the user replicas connect with (MySQL CHANGE MASTER;
	// Redis masterauth).
	Replication UserSecret `mapstructure:"replication" yaml:"replication" json:"replication"`
	// SpareUsers (MySQL only) are accounts whose sessions a fence does not
	// kill, beside Username: a DBA's, a monitoring agent's. Account names
	// without the host part. Default none: every application session is
	// killed when a node is fenced.
	SpareUsers []string `mapstructure:"spare_users" yaml:"spare_users" json:"spare_users"`
}

// UserSecret is a user and its password.
type UserSecret struct {
	Username     string `mapstructure:"username" yaml:"username" json:"username"`
	Password     Secret `mapstructure:"password" yaml:"password" json:"password"`
	PasswordFile string `mapstructure:"password_file" yaml:"password_file" json:"password_file"`
}

// AddressMapping says that an instance reported as Reported is reached at
// Reach.
type AddressMapping struct {
	Reported string `mapstructure:"reported" yaml:"reported" json:"reported"`
	Reach    string `mapstructure:"reach" yaml:"reach" json:"reach"`
}

// DefaultPath is where the daemon looks for its config file.
const DefaultPath = "/etc/imsentinel/imsentinel.yaml"

// DefaultConfig returns the configuration with every default set. It has
// no sentinel id, fleet or clusters: those have no sensible default.
func DefaultConfig() Config {
	return Config{
		Sentinel: Sentinel{DataDir: "/var/lib/imsentinel"},
		Log:      Log{Level: "info", Format: "text"},
		Gossip:   Gossip{Bind: "0.0.0.0:7946", Profile: "lan"},
		Admin:    Admin{Listen: "127.0.0.1:7070"},
		Routing: Routing{
			Address: "127.0.0.1:6379",
			Prefix:  "imsentinel:",
			Timeout: 500 * time.Millisecond,
		},
		Detection: Detection{
			ProbeInterval: 500 * time.Millisecond,
			ProbeTimeout:  300 * time.Millisecond,
			MinDownAfter:  1500 * time.Millisecond,
			DownAfter:     10 * time.Second,
			OpinionTTL:    3 * time.Second,
		},
		Failover: Failover{
			Lease:            10 * time.Second,
			LeaseDriftMargin: 500 * time.Millisecond,
			Cooldown:         3 * time.Minute,
			ElectionTimeout:  time.Second,
			Steps: Steps{
				Fence:   1 * time.Second,
				Promote: 3 * time.Second,
				CatchUp: 30 * time.Second,
				Repoint: 3 * time.Second,
				Commit:  2 * time.Second,
				Route:   2 * time.Second,
			},
		},
	}
}

// DefaultCluster returns a cluster's defaults, applied under each entry of
// clusters before it is decoded.
func DefaultCluster() ClusterConfig {
	return ClusterConfig{
		Quorum:    2,
		Mode:      ModeAuto,
		FenceWait: FenceWaitStrict,
		SelfFence: SelfFence{Enabled: true, MinReplicas: 1, MaxLag: 10 * time.Second},
		Heartbeat: Heartbeat{Manage: true, Period: time.Second, VantageMultiplier: 2},
	}
}

// Addresses lists every reachable address a cluster's config names: the
// seed primary, the replicas, the per-instance entries and the address
// map's targets. Each belongs to this cluster only.
func Addresses(c ClusterConfig) []string {
	var out []string
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	add(c.Primary)
	for _, r := range c.Replicas {
		add(r)
	}
	for _, in := range c.Instances {
		add(in.Address)
	}
	for _, m := range c.AddressMap {
		add(m.Reach)
	}
	return out
}

// Majority is ⌊n/2⌋+1 of fleet.members (DESIGN.md §5.1).
func (c Config) Majority() int { return len(c.Fleet.Members)/2 + 1 }

// Cluster returns the named cluster.
func (c Config) Cluster(name string) (ClusterConfig, bool) {
	for _, cl := range c.Clusters {
		if cl.Name == name {
			return cl, true
		}
	}
	return ClusterConfig{}, false
}
