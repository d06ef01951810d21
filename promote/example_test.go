package promote_test

import (
	"fmt"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
)

// replicaOf builds a replica observation of 10.0.0.1:6379 for the examples.
func replicaOf(addr string, offset int64, linkUp bool, downFor int64, at time.Time) promote.Candidate {
	return promote.Candidate{
		Address: addr,
		Observation: probe.Observation{
			Instance: addr, At: at, Reachable: true, Role: probe.RoleReplica, Primary: "10.0.0.1:6379",
			Redis: &probe.RedisFacts{
				ReplID: "8b1e07d2a5c94f3e9d1c0b7a6f5e4d3c2b1a0918", Offset: offset, ReplicaOffset: offset,
				LinkUp: linkUp, LinkDownSinceSeconds: downFor, Priority: 100,
			},
		},
	}
}

// Rank chooses the most advanced replica in the old primary's lineage and
// explains every verdict.
func ExampleRank() {
	now := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	zero := 0
	noPromote := replicaOf("10.0.0.4:6379", 12345, true, 0, now)
	noPromote.Priority = &zero // clusters[].instances[].priority: 0
	r := promote.Rank(promote.RankInput{
		Cluster:    "sessions-01",
		OldPrimary: "10.0.0.1:6379",
		OldLineage: promote.Lineage{ReplID: "8b1e07d2a5c94f3e9d1c0b7a6f5e4d3c2b1a0918", Offset: 12000},
		Candidates: []promote.Candidate{
			replicaOf("10.0.0.2:6379", 12000, true, 0, now),
			replicaOf("10.0.0.3:6379", 12345, true, 0, now),
			noPromote,
			replicaOf("10.0.0.5:6379", 9000, false, 42, now),
		},
		// The primary went SDOWN 1s ago; down_after 3s: the bound is 31s.
		Limits: promote.Limits{PrimaryDownSince: now.Add(-time.Second), DownAfter: 3 * time.Second},
	}, now)
	fmt.Println("chosen:", r.Chosen)
	for _, v := range r.Verdicts {
		fmt.Printf("%s  %s\n", v.Address, v.Reason)
	}
	// Output:
	// chosen: 10.0.0.3:6379
	// 10.0.0.3:6379  candidate #1: offset 12345 (most advanced)
	// 10.0.0.2:6379  candidate #2: offset 12000, 345 bytes behind
	// 10.0.0.4:6379  excluded: priority 0 (configured)
	// 10.0.0.5:6379  excluded: link down for 42s > 31s
}

// PlanRedisFailover turns a ranking into the steps of §6.1, which
// `imctl failover --dry-run` prints.
func ExamplePlanRedisFailover() {
	now := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	r := promote.Rank(promote.RankInput{
		Cluster:    "sessions-01",
		OldPrimary: "10.0.0.1:6379",
		Candidates: []promote.Candidate{replicaOf("10.0.0.2:6379", 500, true, 0, now)},
	}, now)
	p := promote.PlanRedisFailover(promote.PlanInput{
		Ranking:     r,
		FenceWait:   promote.FenceWaitStrict,
		SelfFence:   promote.SelfFence{MinReplicas: 1, MaxLag: 10 * time.Second},
		Unreachable: []string{"10.0.0.3:6379"},
		Deadlines:   promote.Deadlines{Fence: time.Second, Promote: 3 * time.Second, Repoint: 3 * time.Second, Commit: 2 * time.Second, Route: 2 * time.Second},
		Lease:       9 * time.Second,
	})
	for _, s := range p.Steps {
		fmt.Println(s.N, s.Name, s.Targets, s.Deadline, s.Irreversible)
	}
	for _, w := range p.Warnings {
		fmt.Println("warning:", w)
	}
	// Output:
	// 1 kill-sessions [10.0.0.1:6379] 1s false
	// 2 fence [10.0.0.1:6379] 1s false
	// 3 kill-sessions [10.0.0.2:6379] 3s false
	// 4 promote [10.0.0.2:6379] 3s true
	// 5 demote [10.0.0.1:6379] 1s true
	// 6 self-fence [10.0.0.2:6379] 3s false
	// 7 commit [fleet majority] 2s false
	// 8 fence-window [10.0.0.1:6379] 11s false
	// 9 wait-critical [10.0.0.3:6379] 0s false
	// 10 route [routing redis] 2s false
	// 11 client-kill [10.0.0.2:6379 10.0.0.1:6379] 2s false
	// 12 release [lease] 0s false
	// warning: self-fence relaxed on 10.0.0.2:6379 to min-replicas-to-write 0 (configured 1): 0 reachable replicas; no zero-loss claim until replicas return
	// warning: strict: replica 10.0.0.3:6379 unreachable; the route moves only when it is detached and the window has passed, or the old primary is confirmed fenced — CRITICAL
}
