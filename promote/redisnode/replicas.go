package redisnode

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// infoReplica is one "slaveN:" line of a primary's INFO replication.
type infoReplica struct {
	Address string // ip:port
	State   string // online, wait_bgsave, send_bulk, …
	Offset  int64
	Lag     int64 // seconds since its last acknowledgement
}

// WaitReplicas polls INFO replication every poll (DefaultPoll if ≤ 0)
// until at least want replicas are state=online with lag ≤ maxLag (in
// whole seconds rounded up, as Redis's own min-replicas-max-lag counts a
// good replica), or ctx ends. It returns how many were online and fresh at
// the last poll, and, when ctx ended first, an error wrapping ctx's error.
// Error replies and refused connections end the wait at once; timeouts are
// retried.
//
// Redis computes lag as the difference of two whole-second clocks, and a
// replica acknowledges once a second, so a healthy replica shows lag 2 now
// and then: a maxLag under 2 s makes the count flicker (seen under load).
func (n *Node) WaitReplicas(ctx context.Context, want int, maxLag time.Duration, poll time.Duration) (int, error) {
	lag := ceilDiv(maxLag, time.Second, 0)
	online := 0
	err := pollUntil(ctx, poll, func() (bool, error) {
		v, err := n.do(ctx, "info", "replication")
		if err != nil {
			return false, err
		}
		s, ok := v.(string)
		if !ok {
			return false, fmt.Errorf("info replication: reply %v is not a string", v)
		}
		reps, err := parseInfoReplicas(s)
		if err != nil {
			return false, err
		}
		online = countFresh(reps, lag)
		return online >= want, nil
	})
	if err != nil {
		return online, fmt.Errorf("wait for %d replicas online with lag ≤ %ds on %s (%d at the last poll): %w",
			want, lag, n.o.Address, online, err)
	}
	return online, nil
}

// countFresh counts the replicas online with lag ≤ maxLag seconds.
func countFresh(reps []infoReplica, maxLag int64) int {
	k := 0
	for _, r := range reps {
		if r.State == "online" && r.Lag <= maxLag {
			k++
		}
	}
	return k
}

// parseInfoReplicas reads the "slaveN:ip=…,port=…,state=…,offset=…,lag=…"
// lines of INFO replication.
func parseInfoReplicas(info string) ([]infoReplica, error) {
	var out []infoReplica
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		key, val, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(key, "slave") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimPrefix(key, "slave")); err != nil {
			continue // slave_repl_offset, slave_priority, … on a replica
		}
		f := map[string]string{}
		for kv := range strings.SplitSeq(val, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		r := infoReplica{Address: net.JoinHostPort(f["ip"], f["port"]), State: f["state"]}
		var err error
		if r.Offset, err = strconv.ParseInt(f["offset"], 10, 64); err != nil {
			return nil, fmt.Errorf("parse info replication line %q: offset: %w", line, err)
		}
		if r.Lag, err = strconv.ParseInt(f["lag"], 10, 64); err != nil {
			return nil, fmt.Errorf("parse info replication line %q: lag: %w", line, err)
		}
		out = append(out, r)
	}
	return out, nil
}
