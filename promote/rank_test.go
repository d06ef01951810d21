package promote

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

var (
	t0      = time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	oldAddr = "10.0.0.1:6379"
	replID  = "8b1e07d2a5c94f3e9d1c0b7a6f5e4d3c2b1a0918"
	// replEmpty is the replid of the old primary after it restarted empty.
	replEmpty = "3f2a91c4e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a3"
	replOlder = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	zeroID    = "0000000000000000000000000000000000000000"
)

// replica is a healthy replica of oldAddr in lineage replID at offset.
func replica(addr string, offset int64, edit ...func(*Candidate)) Candidate {
	c := Candidate{
		Address: addr,
		Observation: probe.Observation{
			Instance: addr, At: t0.Add(-200 * time.Millisecond), Reachable: true,
			Role: probe.RoleReplica, ReadOnly: true, Primary: oldAddr,
			Redis: &probe.RedisFacts{
				Version: "7.0.15", ReplID: replID, ReplID2: zeroID, Offset: offset, SecondOffset: -1,
				PrimaryHost: "10.0.0.1", PrimaryPort: 6379, LinkUp: true, LastIOSecondsAgo: 0,
				ReplicaOffset: offset, ReplicaReadOffset: offset, Priority: 100, ReplicaReadOnly: true,
			},
		},
	}
	for _, e := range edit {
		e(&c)
	}
	return c
}

func linkDown(secs int64) func(*Candidate) {
	return func(c *Candidate) {
		c.Observation.Redis.LinkUp = false
		c.Observation.Redis.LinkDownSinceSeconds = secs
		c.Observation.Redis.LastIOSecondsAgo = -1
	}
}

func lastIO(secs int64) func(*Candidate) {
	return func(c *Candidate) { c.Observation.Redis.LastIOSecondsAgo = secs }
}

func serverPriority(p int) func(*Candidate) {
	return func(c *Candidate) { c.Observation.Redis.Priority = p }
}

func configPriority(p int) func(*Candidate) {
	return func(c *Candidate) { c.Priority = &p }
}

func rankInput(cands ...Candidate) RankInput {
	return RankInput{
		Cluster: "sessions-01", OldPrimary: oldAddr,
		OldLineage: Lineage{ReplID: replID, ReplID2: zeroID, Offset: 10000},
		Candidates: cands,
		Limits:     Limits{PrimaryDownSince: t0.Add(-2 * time.Second), DownAfter: 3 * time.Second},
	}
}

func verdictOf(t *testing.T, r Ranking, addr string) Verdict {
	t.Helper()
	for _, v := range r.Verdicts {
		if v.Address == addr {
			return v
		}
	}
	t.Fatalf("no verdict for %s in\n%s", addr, r)
	return Verdict{}
}

func order(r Ranking) []string {
	var out []string
	for _, v := range r.Candidates() {
		out = append(out, v.Address)
	}
	return out
}

// DESIGN.md §6.5: data first — the largest offset wins over priority.
func TestRankMostAdvancedWins(t *testing.T) {
	in := rankInput(
		replica("10.0.0.2:6379", 12000, configPriority(1)),
		replica("10.0.0.3:6379", 12345, configPriority(50)),
		replica("10.0.0.4:6379", 11000),
	)
	r := Rank(in, t0)
	if r.Chosen != "10.0.0.3:6379" {
		t.Fatalf("chosen %q, want 10.0.0.3:6379\n%s", r.Chosen, r)
	}
	want := []string{"10.0.0.3:6379", "10.0.0.2:6379", "10.0.0.4:6379"}
	if got := order(r); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	reasons := map[string]string{
		"10.0.0.3:6379": "candidate #1: offset 12345 (most advanced)",
		"10.0.0.2:6379": "candidate #2: offset 12000, 345 bytes behind",
		"10.0.0.4:6379": "candidate #3: offset 11000, 1345 bytes behind",
	}
	for addr, want := range reasons {
		if got := verdictOf(t, r, addr).Reason; got != want {
			t.Errorf("%s reason %q, want %q", addr, got, want)
		}
	}
	if !strings.HasPrefix(r.Why, "promote 10.0.0.3:6379: offset 12345, the most advanced of 3 candidates") {
		t.Errorf("why %q", r.Why)
	}
}

func TestRankTies(t *testing.T) {
	cases := []struct {
		name   string
		cands  []Candidate
		want   []string
		reason string // of the second
	}{
		{
			name: "priority breaks an offset tie",
			cands: []Candidate{
				replica("10.0.0.2:6379", 500, serverPriority(100)),
				replica("10.0.0.3:6379", 500, serverPriority(10)),
			},
			want:   []string{"10.0.0.3:6379", "10.0.0.2:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), priority 100 after #1's 10",
		},
		{
			name: "last I/O breaks an offset and priority tie",
			cands: []Candidate{
				replica("10.0.0.2:6379", 500, lastIO(3)),
				replica("10.0.0.3:6379", 500, lastIO(1)),
			},
			want:   []string{"10.0.0.3:6379", "10.0.0.2:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), link last I/O 3s ago after #1's last I/O 1s ago",
		},
		{
			name: "a link up beats a link down",
			cands: []Candidate{
				replica("10.0.0.2:6379", 500, linkDown(2)),
				replica("10.0.0.3:6379", 500, lastIO(5)),
			},
			want:   []string{"10.0.0.3:6379", "10.0.0.2:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), link down for 2s after #1's last I/O 5s ago",
		},
		{
			name: "shorter downtime wins between down links",
			cands: []Candidate{
				replica("10.0.0.2:6379", 500, linkDown(4)),
				replica("10.0.0.3:6379", 500, linkDown(2)),
			},
			want:   []string{"10.0.0.3:6379", "10.0.0.2:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), link down for 4s after #1's down for 2s",
		},
		{
			name: "address is the last tie-break",
			cands: []Candidate{
				replica("10.0.0.3:6379", 500),
				replica("10.0.0.2:6379", 500),
			},
			want:   []string{"10.0.0.2:6379", "10.0.0.3:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), address after #1's 10.0.0.2:6379",
		},
		{
			name: "priority is compared before lag",
			cands: []Candidate{
				replica("10.0.0.2:6379", 500, lastIO(0), serverPriority(20)),
				replica("10.0.0.3:6379", 500, lastIO(9), serverPriority(10)),
			},
			want:   []string{"10.0.0.3:6379", "10.0.0.2:6379"},
			reason: "candidate #2: offset 500 (as advanced as #1), priority 20 after #1's 10",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Rank(rankInput(c.cands...), t0)
			if got := order(r); !slices.Equal(got, c.want) {
				t.Fatalf("order %v, want %v\n%s", got, c.want, r)
			}
			if got := r.Verdicts[1].Reason; got != c.reason {
				t.Errorf("second reason\n got %q\nwant %q", got, c.reason)
			}
		})
	}
}

// The ranking does not depend on the order the replicas are listed in.
func TestRankDeterministic(t *testing.T) {
	cands := []Candidate{
		replica("10.0.0.2:6379", 500),
		replica("10.0.0.3:6379", 500),
		replica("10.0.0.4:6379", 700),
		replica("10.0.0.5:6379", 0, func(c *Candidate) { c.SDOWN = true }),
		replica("10.0.0.6:6379", 500, serverPriority(0)),
	}
	first := Rank(rankInput(cands...), t0).String()
	for i := range cands {
		rot := append(slices.Clone(cands[i:]), cands[:i]...)
		slices.Reverse(rot)
		if got := Rank(rankInput(rot...), t0).String(); got != first {
			t.Fatalf("rotation %d ranked differently:\n%s\nwant\n%s", i, got, first)
		}
	}
}

func TestRankExclusions(t *testing.T) {
	cases := []struct {
		name   string
		cand   Candidate
		limits *Limits
		want   Exclusion
		reason string
	}{
		{"sdown", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.SDOWN = true }), nil,
			ExcludedSDOWN, "excluded: SDOWN"},
		{"unreachable", replica("10.0.0.2:6379", 900, func(c *Candidate) {
			c.Observation.Reachable = false
			c.Observation.Error = "dial tcp 10.0.0.2:6379: connection refused"
		}), nil, ExcludedUnreachable, "excluded: unreachable (dial tcp 10.0.0.2:6379: connection refused)"},
		{"stale observation", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.Observation.At = t0.Add(-5 * time.Second) }),
			&Limits{MaxObservationAge: 2 * time.Second}, ExcludedStale, "excluded: last observed 5s ago > 2s"},
		{"no facts", replica("10.0.0.2:6379", 900, func(c *Candidate) {
			c.Observation.Redis = nil
			c.Observation.Error = "INFO: NOPERM"
		}), nil, ExcludedNoFacts, "excluded: no replication facts (INFO: NOPERM)"},
		{"loading", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.Observation.Redis.Loading = true }), nil,
			ExcludedLoading, "excluded: loading its dataset"},
		{"reports primary", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.Observation.Role = probe.RolePrimary }), nil,
			ExcludedNotReplica, "excluded: reports role primary, not replica"},
		{"replicates another primary", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.Observation.Primary = "10.0.0.9:6379" }), nil,
			ExcludedOtherPrimary, "excluded: replicates 10.0.0.9:6379, not the old primary"},
		{"another history", replica("10.0.0.2:6379", 900, func(c *Candidate) { c.Observation.Redis.ReplID = replOlder }), nil,
			ExcludedLineage, "excluded: history c0ffee00 is not the old primary's (8b1e07d2): it resynced from another or restarted primary"},
		{"full sync", replica("10.0.0.2:6379", 900, linkDown(1), func(c *Candidate) { c.Observation.Redis.SyncInProgress = true }), nil,
			ExcludedFullSync, "excluded: full sync in progress (its data is being replaced)"},
		// bound: (now − down since 2s) + 10 × 3s = 32s
		{"link down too long", replica("10.0.0.2:6379", 900, linkDown(42)), nil,
			ExcludedLinkDown, "excluded: link down for 42s > 32s"},
		{"link down, explicit bound", replica("10.0.0.2:6379", 900, linkDown(42)), &Limits{MaxLinkDown: 31 * time.Second},
			ExcludedLinkDown, "excluded: link down for 42s > 31s"},
		{"link never up", replica("10.0.0.2:6379", 900, linkDown(-1)), nil,
			ExcludedLinkDown, "excluded: link never up since it restarted (how stale is unknown)"},
		{"server priority 0", replica("10.0.0.2:6379", 900, serverPriority(0)), nil,
			ExcludedPriorityZero, "excluded: priority 0 (replica-priority)"},
		{"configured priority 0", replica("10.0.0.2:6379", 900, configPriority(0)), nil,
			ExcludedPriorityZero, "excluded: priority 0 (configured)"},
		{"no offset", replica("10.0.0.2:6379", -1), nil,
			ExcludedNoOffset, "excluded: no replication offset reported"},
		{"the old primary", replica(oldAddr, 900), nil,
			ExcludedOldPrimary, "excluded: the old primary itself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := rankInput(c.cand, replica("10.0.0.3:6379", 100))
			if c.limits != nil {
				in.Limits = *c.limits
			}
			r := Rank(in, t0)
			v := verdictOf(t, r, c.cand.Address)
			if v.Exclusion != c.want || v.Rank != 0 || v.Reason != c.reason {
				t.Errorf("verdict %+v\nwant exclusion %v, reason %q", v, c.want, c.reason)
			}
			if r.Chosen != "10.0.0.3:6379" {
				t.Errorf("chosen %q, want the remaining 10.0.0.3:6379", r.Chosen)
			}
			if r.Verdicts[len(r.Verdicts)-1].Address != c.cand.Address {
				t.Errorf("excluded replicas should follow the candidates:\n%s", r)
			}
		})
	}
}

func TestRankLinkDownBound(t *testing.T) {
	cases := []struct {
		name   string
		limits Limits
		want   time.Duration
	}{
		{"derived like Redis Sentinel", Limits{PrimaryDownSince: t0.Add(-5 * time.Second), DownAfter: 2 * time.Second}, 25 * time.Second},
		{"explicit wins", Limits{MaxLinkDown: time.Minute, PrimaryDownSince: t0.Add(-5 * time.Second), DownAfter: 2 * time.Second}, time.Minute},
		{"no downtime known: no bound", Limits{DownAfter: 2 * time.Second}, 0},
		{"down since in the future counts as now", Limits{PrimaryDownSince: t0.Add(time.Second), DownAfter: time.Second}, 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := rankInput(replica("10.0.0.2:6379", 100, linkDown(3600)))
			in.Limits = c.limits
			r := Rank(in, t0)
			if r.LinkDownBound != c.want {
				t.Fatalf("bound %v, want %v", r.LinkDownBound, c.want)
			}
			excluded := verdictOf(t, r, "10.0.0.2:6379").Exclusion == ExcludedLinkDown
			if excluded != (c.want > 0) {
				t.Errorf("link down 1h excluded=%v with bound %v", excluded, c.want)
			}
		})
	}
}

// notes/redis.md: a primary restarted empty gets a new replid; a replica
// that resynced from it lost the data and must not win on its offset.
func TestRankLineage(t *testing.T) {
	resynced := replica("10.0.0.2:6379", 2000, func(c *Candidate) { c.Observation.Redis.ReplID = replEmpty })
	kept := replica("10.0.0.3:6379", 1500, linkDown(3))
	t.Run("restarted-empty primary's replica excluded", func(t *testing.T) {
		r := Rank(rankInput(resynced, kept), t0)
		if r.Chosen != "10.0.0.3:6379" {
			t.Fatalf("chosen %q, want the replica still in the old history\n%s", r.Chosen, r)
		}
		if v := verdictOf(t, r, "10.0.0.2:6379"); v.Exclusion != ExcludedLineage {
			t.Errorf("resynced replica %+v, want lineage exclusion", v)
		}
	})
	t.Run("replid2 of a primary promoted before counts", func(t *testing.T) {
		in := rankInput(replica("10.0.0.2:6379", 800, func(c *Candidate) { c.Observation.Redis.ReplID = replOlder }))
		in.OldLineage = Lineage{ReplID: replID, ReplID2: replOlder, Offset: 900}
		r := Rank(in, t0)
		if r.Chosen != "10.0.0.2:6379" {
			t.Fatalf("chosen %q\n%s", r.Chosen, r)
		}
	})
	t.Run("an all-zero replid2 matches nothing", func(t *testing.T) {
		in := rankInput(replica("10.0.0.2:6379", 800, func(c *Candidate) { c.Observation.Redis.ReplID = zeroID }))
		r := Rank(in, t0)
		if r.Chosen != "" {
			t.Fatalf("chosen %q, want none\n%s", r.Chosen, r)
		}
	})
	t.Run("unknown old lineage, replicas agree", func(t *testing.T) {
		in := rankInput(replica("10.0.0.2:6379", 800), replica("10.0.0.3:6379", 900))
		in.OldLineage = Lineage{}
		if r := Rank(in, t0); r.Chosen != "10.0.0.3:6379" {
			t.Fatalf("chosen %q\n%s", r.Chosen, r)
		}
	})
	t.Run("unknown old lineage, replicas disagree: none", func(t *testing.T) {
		in := rankInput(resynced, kept)
		in.OldLineage = Lineage{}
		r := Rank(in, t0)
		if r.Chosen != "" {
			t.Fatalf("chosen %q, want none: offsets in two histories do not compare\n%s", r.Chosen, r)
		}
		for _, v := range r.Verdicts {
			if v.Exclusion != ExcludedAmbiguous {
				t.Errorf("%s: %v, want %v", v.Address, v.Exclusion, ExcludedAmbiguous)
			}
		}
		want := "excluded: history 3f2a91c4, but the old primary's is unknown and the replicas are in 2 histories"
		if got := verdictOf(t, r, "10.0.0.2:6379").Reason; got != want {
			t.Errorf("reason %q, want %q", got, want)
		}
	})
	t.Run("lineage from the facts", func(t *testing.T) {
		f := &probe.RedisFacts{ReplID: replID, ReplID2: zeroID, Offset: 42}
		if got := RedisLineage(f); got != (Lineage{ReplID: replID, ReplID2: zeroID, Offset: 42}) {
			t.Errorf("RedisLineage = %+v", got)
		}
		if RedisLineage(nil).Known() || RedisLineage(&probe.RedisFacts{}).Known() {
			t.Error("a lineage without a replid should be unknown")
		}
	})
}

func TestRankPriorityOverride(t *testing.T) {
	cases := []struct {
		name   string
		cands  []Candidate
		chosen string
		prio   int // of the chosen
	}{
		{"config beats the server's", []Candidate{
			replica("10.0.0.2:6379", 500, serverPriority(1), configPriority(90)),
			replica("10.0.0.3:6379", 500, serverPriority(80)),
		}, "10.0.0.3:6379", 80},
		{"config rescues a server's priority 0", []Candidate{
			replica("10.0.0.2:6379", 500, serverPriority(0), configPriority(5)),
		}, "10.0.0.2:6379", 5},
		{"unknown server priority is 100", []Candidate{
			replica("10.0.0.2:6379", 500, serverPriority(-1)),
			replica("10.0.0.3:6379", 500, serverPriority(101)),
		}, "10.0.0.2:6379", DefaultPriority},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Rank(rankInput(c.cands...), t0)
			if r.Chosen != c.chosen {
				t.Fatalf("chosen %q, want %q\n%s", r.Chosen, c.chosen, r)
			}
			if p := verdictOf(t, r, c.chosen).Priority; p != c.prio {
				t.Errorf("priority %d, want %d", p, c.prio)
			}
		})
	}
}

func TestRankNoCandidate(t *testing.T) {
	t.Run("all excluded", func(t *testing.T) {
		r := Rank(rankInput(
			replica("10.0.0.2:6379", 500, func(c *Candidate) { c.SDOWN = true }),
			replica("10.0.0.3:6379", 500, serverPriority(0)),
		), t0)
		if r.Chosen != "" || len(r.Candidates()) != 0 {
			t.Fatalf("chosen %q, want none\n%s", r.Chosen, r)
		}
		for _, s := range []string{"10.0.0.2:6379 SDOWN", "10.0.0.3:6379 priority 0", "Wait for a replica", "imctl failover sessions-01 --to <address>"} {
			if !strings.Contains(r.Why, s) {
				t.Errorf("why %q lacks %q", r.Why, s)
			}
		}
	})
	t.Run("no replicas", func(t *testing.T) {
		r := Rank(rankInput(), t0)
		if r.Chosen != "" || !strings.Contains(r.Why, "none is known") || !strings.Contains(r.Why, "--to") {
			t.Fatalf("chosen %q why %q", r.Chosen, r.Why)
		}
	})
}

// The address map makes a replica's reported master_host:master_port
// match the old primary's name.
func TestRankAddressMap(t *testing.T) {
	in := rankInput(replica("10.0.0.2:6379", 500, func(c *Candidate) { c.Observation.Primary = "172.16.0.1:6379" }))
	if r := Rank(in, t0); r.Chosen != "" {
		t.Fatalf("unmapped: chosen %q, want none", r.Chosen)
	}
	in.AddressMap = map[string]string{"172.16.0.1": "10.0.0.1"}
	if r := Rank(in, t0); r.Chosen != "10.0.0.2:6379" {
		t.Fatalf("mapped: chosen %q\n%s", r.Chosen, r)
	}
}

func TestRankWhyNotesLoss(t *testing.T) {
	in := rankInput(replica("10.0.0.2:6379", 9000))
	in.OldLineage.Offset = 9500
	r := Rank(in, t0)
	if want := "500 bytes ahead"; !strings.Contains(r.Why, want) {
		t.Errorf("why %q lacks %q", r.Why, want)
	}
}

func TestExclusionString(t *testing.T) {
	for e := NotExcluded; e <= ExcludedAmbiguous; e++ {
		if e != NotExcluded && (e.String() == "" || strings.HasPrefix(e.String(), "exclusion(")) {
			t.Errorf("%d has no name", e)
		}
	}
	if got := Exclusion(200).String(); got != "exclusion(200)" {
		t.Errorf("got %q", got)
	}
}
