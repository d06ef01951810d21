package probe

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Kind is the kind of store a cluster runs. The zero value is unknown.
type Kind uint8

const (
	KindUnknown Kind = iota
	KindRedis
	KindMySQL
)

func (k Kind) String() string {
	switch k {
	case KindRedis:
		return "redis"
	case KindMySQL:
		return "mysql"
	}
	return "unknown"
}

// ParseKind reads the config spelling of a kind.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "redis":
		return KindRedis, nil
	case "mysql":
		return KindMySQL, nil
	}
	return KindUnknown, fmt.Errorf("unknown kind %q (want redis or mysql)", s)
}

func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Role is what an instance says it is. The zero value is unknown (not
// reachable, or not answering the role question).
type Role uint8

const (
	RoleUnknown Role = iota
	RolePrimary
	RoleReplica
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleReplica:
		return "replica"
	}
	return "unknown"
}

func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "primary":
		*r = RolePrimary
	case "replica":
		*r = RoleReplica
	default:
		*r = RoleUnknown
	}
	return nil
}

// Target says how to reach one instance.
type Target struct {
	Cluster string
	Kind    Kind
	// Address names the instance: the address as configured or as its
	// primary reports it (DESIGN.md §2).
	Address string
	// Dial is where to connect, after the cluster's address map. Equal to
	// Address when the instance is not mapped.
	Dial string
	// Username and Password authenticate the prober (Redis ACL user or
	// MySQL user). Empty Username means the default user.
	Username string
	Password string
	// ReplicationUser and ReplicationPassword are the account replicas
	// connect to a primary with (MySQL): the prober checks that the
	// instance accepts it and that it may replicate (docs/grants.md).
	// Empty ReplicationUser: not checked.
	ReplicationUser     string
	ReplicationPassword string
	// Timeout bounds dialing and each read and write of one probe.
	Timeout time.Duration
	// AddressMap translates addresses the instance reports (its primary, its
	// replicas) into addresses this sentinel can reach; the reported form is
	// kept as the instance's name.
	AddressMap map[string]string
}

// Errorf is the text of a failed probe step: what was being done to which
// instance (and where it was dialed, when the address map moved it).
func (t Target) Errorf(doing string, err error) string {
	if t.Dial != "" && t.Dial != t.Address {
		return fmt.Sprintf("probe %s (dial %s): %s: %v", t.Address, t.Dial, doing, err)
	}
	return fmt.Sprintf("probe %s: %s: %v", t.Address, doing, err)
}

// String describes the target without its password.
func (t Target) String() string {
	return fmt.Sprintf("%s %s %s (dial %s, user %q, timeout %v)", t.Cluster, t.Kind, t.Address, t.Dial, t.Username, t.Timeout)
}

// GoString keeps %#v from printing the password.
func (t Target) GoString() string { return "probe.Target{" + t.String() + "}" }

// LogValue keeps slog from printing the password.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("cluster", t.Cluster), slog.String("kind", t.Kind.String()),
		slog.String("instance", t.Address), slog.String("dial", t.Dial), slog.String("user", t.Username),
		slog.String("replication_user", t.ReplicationUser), slog.Duration("timeout", t.Timeout))
}

// Observation is one probe result (DESIGN.md §2). It is a plain value:
// safe to copy, to serialise as JSON, and to hand to pure code.
type Observation struct {
	Instance string `json:"instance"`
	// At is when the probe round started.
	At time.Time `json:"at"`
	// RTT is the round trip of the liveness command (PING, SELECT 1).
	RTT time.Duration `json:"rtt_ns"`
	// Reachable is true when the server answered the liveness command as a
	// live process does (for Redis PONG, -LOADING and -MASTERDOWN count;
	// for MySQL a refused login counts too, and Access says so).
	Reachable bool `json:"reachable"`
	// Error says why the probe failed or was incomplete; empty when it
	// fully succeeded.
	Error string `json:"error,omitempty"`
	Role  Role   `json:"role"`
	// ReadOnly is true when the instance refuses ordinary writes: a Redis
	// replica with replica-read-only, MySQL read_only or super_read_only.
	ReadOnly bool `json:"read_only"`
	// Replicas are the replicas the instance reports attached to it, as it
	// reports their addresses (before the address map).
	Replicas []string `json:"replicas,omitempty"`
	// Primary is the primary a replica says it follows, as reported.
	Primary string `json:"primary,omitempty"`

	Redis *RedisFacts `json:"redis,omitempty"`
	MySQL *MySQLFacts `json:"mysql,omitempty"`
	// Access is what a MySQL server said of the sentinel's accounts when
	// it was last checked (a refused login, missing privileges); nil until
	// then. A Redis server sets it only when it refuses the login
	// (-WRONGPASS, -NOAUTH).
	Access *Access `json:"access,omitempty"`
}

// LoginRefused says whether the server refused the admin login in this
// round: it answered (the process is alive, Reachable), but nothing of its
// state could be read.
func (o *Observation) LoginRefused() bool {
	if o == nil || o.MySQL != nil {
		return false
	}
	acc, ok := o.Access.Account(PurposeAdmin)
	return ok && acc.Refused != "" && o.Reachable
}

// Prober probes one instance. Probe blocks until the round is done or ctx
// ends, and never takes longer than the target's timeout allows for its
// few round trips. One goroutine calls Probe at a time; Close may be called
// once, after the last Probe has returned.
type Prober interface {
	Probe(ctx context.Context) Observation
	Close() error
}
