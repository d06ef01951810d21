package redisprobe

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/imsentinel/imsentinel/probe"
)

// ParseInfo reads an INFO reply into field → value. Section headers
// ("# Replication"), blank lines and lines without a colon are skipped;
// CRLF and LF line ends are both accepted. Field names are unique across
// the sections Redis emits, so the sections are merged.
func ParseInfo(s string) map[string]string {
	m := make(map[string]string)
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		m[k] = v
	}
	return m
}

// parsed holds what one round learned, before it is put in an Observation.
type parsed struct {
	role     probe.Role
	primary  string
	replicas []string
	readOnly bool
	facts    probe.RedisFacts
}

// factsFromInfo turns INFO fields and CONFIG GET values (nil when CONFIG GET
// failed) into facts. It is pure. It fills every field it can; the error
// lists the fields that were present but unreadable, and a missing or
// unknown role.
func factsFromInfo(info, config map[string]string) (parsed, error) {
	r := reader{m: info}
	var p parsed
	f := &p.facts

	switch role := info["role"]; role {
	case "master":
		p.role = probe.RolePrimary
	case "slave":
		p.role = probe.RoleReplica
	case "":
		r.errs = append(r.errs, errors.New("no role field"))
	default:
		r.errs = append(r.errs, fmt.Errorf("unknown role %q", role))
	}

	f.Version = info["redis_version"]
	f.RunID = info["run_id"]
	f.Loading = r.flag("loading")
	f.AOFEnabled = r.flag("aof_enabled")

	f.ReplID = info["master_replid"]
	f.ReplID2 = info["master_replid2"]
	f.Offset = r.int64("master_repl_offset", 0)
	f.SecondOffset = r.int64("second_repl_offset", -1)
	f.BacklogActive = r.flag("repl_backlog_active")
	f.BacklogFirstByteOffset = r.int64("repl_backlog_first_byte_offset", 0)
	f.BacklogHistlen = r.int64("repl_backlog_histlen", 0)
	f.FailoverState = info["master_failover_state"]

	f.PrimaryHost = info["master_host"]
	f.PrimaryPort = int(r.int64("master_port", 0))
	f.LinkUp = info["master_link_status"] == "up"
	// Redis omits master_link_down_since_seconds while the link is up.
	f.LinkDownSinceSeconds = r.int64("master_link_down_since_seconds", 0)
	f.LastIOSecondsAgo = r.int64("master_last_io_seconds_ago", -1)
	f.SyncInProgress = r.flag("master_sync_in_progress")
	f.ReplicaOffset = r.int64("slave_repl_offset", 0)
	f.ReplicaReadOffset = r.int64("slave_read_repl_offset", 0)
	f.Announced = r.flag("replica_announced")

	f.ConnectedReplicas = int(r.int64("connected_slaves", 0))
	f.GoodReplicas = int(r.int64("min_slaves_good_slaves", -1))
	f.Replicas = r.replicas()

	// Priority and read-only: INFO shows them on replicas only; CONFIG GET
	// has them on every role.
	c := reader{m: config}
	f.Priority = int(r.int64("slave_priority", c.int64("replica-priority", -1)))
	if _, ok := info["slave_read_only"]; ok {
		f.ReplicaReadOnly = r.flag("slave_read_only")
	} else {
		f.ReplicaReadOnly = config["replica-read-only"] == "yes"
	}
	if config != nil {
		f.Settings = &probe.RedisSettings{
			MinReplicasToWrite:       int(c.int64("min-replicas-to-write", 0)),
			MinReplicasMaxLagSeconds: int(c.int64("min-replicas-max-lag", 0)),
			PingReplicaPeriodSeconds: int(c.int64("repl-ping-replica-period", 0)),
		}
	}

	if p.role == probe.RoleReplica && f.PrimaryHost != "" {
		p.primary = net.JoinHostPort(f.PrimaryHost, strconv.Itoa(f.PrimaryPort))
	}
	for _, rep := range f.Replicas {
		p.replicas = append(p.replicas, net.JoinHostPort(rep.IP, strconv.Itoa(rep.Port)))
	}
	// A replica refuses writes when replica-read-only is on; a primary
	// never is read-only in this sense (min-replicas-to-write refusals show
	// in GoodReplicas and Settings instead).
	p.readOnly = p.role == probe.RoleReplica && f.ReplicaReadOnly

	return p, errors.Join(append(r.errs, c.errs...)...)
}

// reader reads typed fields from a field map, collecting the errors of
// fields that are present but malformed.
type reader struct {
	m    map[string]string
	errs []error
}

func (r *reader) int64(key string, missing int64) int64 {
	v, ok := r.m[key]
	if !ok {
		return missing
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("field %s: %w", key, err))
		return missing
	}
	return n
}

func (r *reader) flag(key string) bool {
	v, ok := r.m[key]
	if !ok {
		return false
	}
	switch v {
	case "1", "yes":
		return true
	case "0", "no":
		return false
	}
	r.errs = append(r.errs, fmt.Errorf("field %s: want 0 or 1, got %q", key, v))
	return false
}

// replicas reads the slaveN fields of a primary, in N order.
func (r *reader) replicas() []probe.RedisReplica {
	type numbered struct {
		n   int
		rep probe.RedisReplica
	}
	var reps []numbered
	for k, v := range r.m {
		ns, ok := strings.CutPrefix(k, "slave")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(ns)
		if err != nil {
			continue // slave_priority, slave_repl_offset, ...
		}
		rep, err := parseReplica(v)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("field %s: %w", k, err))
			continue
		}
		reps = append(reps, numbered{n, rep})
	}
	sort.Slice(reps, func(i, j int) bool { return reps[i].n < reps[j].n })
	out := make([]probe.RedisReplica, 0, len(reps))
	for _, x := range reps {
		out = append(out, x.rep)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// parseReplica reads "ip=127.0.0.1,port=26380,state=online,offset=212,lag=0".
func parseReplica(s string) (probe.RedisReplica, error) {
	kv := make(map[string]string)
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return probe.RedisReplica{}, fmt.Errorf("malformed %q", s)
		}
		kv[k] = v
	}
	r := reader{m: kv}
	rep := probe.RedisReplica{
		IP:         kv["ip"],
		Port:       int(r.int64("port", 0)),
		State:      kv["state"],
		Offset:     r.int64("offset", 0),
		LagSeconds: r.int64("lag", 0),
	}
	if rep.IP == "" || rep.Port == 0 {
		r.errs = append(r.errs, fmt.Errorf("no ip or port in %q", s))
	}
	return rep, errors.Join(r.errs...)
}
