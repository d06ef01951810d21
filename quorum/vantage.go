package quorum

import (
	"fmt"
	"strings"
	"time"
)

// ReplicaLink is what one replica says about its link to the primary,
// from the latest probe of the replica (DESIGN.md §5.4).
type ReplicaLink struct {
	Replica string
	// Reachable: this sentinel's probe of the replica answered.
	Reachable bool
	// LinkUp: the replica's replication I/O from the primary is connected
	// (Redis master_link_status:up; MySQL IO thread running).
	LinkUp bool
	// LastIO is how long ago the replica last received anything from the
	// primary (Redis master_last_io_seconds_ago; MySQL since the received
	// heartbeats or GTID last advanced). Negative: unknown.
	LastIO time.Duration
}

// Vantage is the replica-vantage decision.
type Vantage struct {
	// Blocked: some reachable replica sees the primary alive, so it is not
	// failed over automatically: UnreachablePrimaryWithHealthyReplicas.
	Blocked bool
	// Seeing names the replicas that see the primary alive.
	Seeing []string
	Why    string
}

// CheckVantage decides replica vantage: the primary counts as alive for a
// replica that is reachable, has its link up and had I/O from the primary
// within k × heartbeat: LastIO < k × heartbeat. Redis reports whole
// seconds, rounded down (master_last_io_seconds_ago 1 is 1.0 to 1.99 s),
// so with k × heartbeat = 2 s a replica sees the primary alive while it
// reports 0 or 1: a healthy one does (pings every second), and a dead
// primary is seen dead 1 to 2 s after it stopped. A replica that cannot be
// reached or reports no recent I/O gives no evidence either way. Pure.
func CheckVantage(links []ReplicaLink, heartbeat time.Duration, k int) Vantage {
	limit := time.Duration(k) * heartbeat
	var v Vantage
	var why []string
	for _, l := range links {
		switch {
		case !l.Reachable:
			why = append(why, l.Replica+" unreachable")
		case !l.LinkUp:
			why = append(why, l.Replica+" link down")
		case l.LastIO < 0:
			why = append(why, l.Replica+" last I/O unknown")
		case l.LastIO >= limit:
			why = append(why, fmt.Sprintf("%s last I/O %v ago ≥ %v", l.Replica, l.LastIO, limit))
		default:
			v.Seeing = append(v.Seeing, l.Replica)
			why = append(why, fmt.Sprintf("%s sees the primary (I/O %v ago)", l.Replica, l.LastIO))
		}
	}
	v.Blocked = len(v.Seeing) > 0
	if len(why) == 0 {
		why = append(why, "no replicas")
	}
	v.Why = strings.Join(why, "; ")
	return v
}
