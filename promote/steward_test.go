package promote

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// node builds a node answering as role (a replica of primary when set).
func node(addr string, role probe.Role, primary string, f probe.RedisFacts) Node {
	if f.Settings == nil {
		f.Settings = &probe.RedisSettings{MinReplicasToWrite: 1, MinReplicasMaxLagSeconds: 2, PingReplicaPeriodSeconds: 1}
	}
	return Node{Address: addr, Observation: &probe.Observation{Instance: addr, Reachable: true, Role: role,
		Primary: primary, ReadOnly: role == probe.RoleReplica, Redis: &f}}
}

func kinds(rs []Repair) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Kind+" "+r.Target)
	}
	return out
}

func TestRedisRepairs(t *testing.T) {
	sf := SelfFence{MinReplicas: 1, MaxLag: 2 * time.Second}
	primaryFacts := probe.RedisFacts{ReplID: "new", ReplID2: "old", SecondOffset: 1000, Offset: 1500,
		Replicas: []probe.RedisReplica{{IP: "127.0.0.1", Port: 3, State: "online"}}}
	committed := Committed{Epoch: 7, Primary: "p2", Replicas: []string{"p1", "r3"}, Settings: map[string]string{SettingPreviousPrimary: "p1"}}
	healthy := []Node{node("p2", probe.RolePrimary, "", primaryFacts), node("r3", probe.RoleReplica, "p2", probe.RedisFacts{ReplID: "new"})}

	for _, tc := range []struct {
		name string
		in   StewardInput
		want []string
	}{
		{"healthy and routed: nothing", StewardInput{Committed: committed, Nodes: healthy, SelfFence: sf, Heartbeat: time.Second}, nil},
		{"seed, observation agrees", StewardInput{Committed: Committed{Primary: "p1"}, Nodes: []Node{
			node("p1", probe.RolePrimary, "", probe.RedisFacts{}), node("r2", probe.RoleReplica, "p1", probe.RedisFacts{})}},
			[]string{"commit-seed p1"}},
		{"seed, two writable nodes: observe", StewardInput{Committed: Committed{Primary: "p1"}, Nodes: []Node{
			node("p1", probe.RolePrimary, "", probe.RedisFacts{}), node("r2", probe.RolePrimary, "", probe.RedisFacts{})}}, nil},
		{"primary down: a failover's business", StewardInput{Committed: committed, Nodes: []Node{
			{Address: "p2", SDOWN: true, Observation: &probe.Observation{}}, node("p1", probe.RolePrimary, "", probe.RedisFacts{})}}, nil},
		{"returning old primary demoted, extra offset known", StewardInput{Committed: committed, Nodes: append(slices.Clone(healthy),
			node("p1", probe.RolePrimary, "", probe.RedisFacts{ReplID: "old", Offset: 1200}))},
			[]string{"demote p1"}},
		{"a stranger answering as primary is not ours to demote", StewardInput{Committed: committed, Nodes: append(slices.Clone(healthy),
			node("x9", probe.RolePrimary, "", probe.RedisFacts{}))}, nil},
		{"stray replica repointed", StewardInput{Committed: committed, Nodes: []Node{healthy[0],
			node("r3", probe.RoleReplica, "p1", probe.RedisFacts{})}}, []string{"repoint r3"}},
		{"self-fence drifted", StewardInput{Committed: committed, SelfFence: sf, Nodes: []Node{
			node("p2", probe.RolePrimary, "", withSettings(primaryFacts, 0, 10, 1)), healthy[1]}}, []string{"self-fence p2"}},
		{"relaxed self-fence restored once replicas are back", StewardInput{SelfFence: sf, Nodes: []Node{
			node("p2", probe.RolePrimary, "", withSettings(primaryFacts, 0, 2, 1)), healthy[1]},
			Committed: Committed{Epoch: 7, Primary: "p2", Settings: map[string]string{SettingMinReplicas: "0"}}},
			[]string{"restore-self-fence p2"}},
		{"relaxed and still alone: kept relaxed", StewardInput{SelfFence: sf, Nodes: []Node{
			node("p2", probe.RolePrimary, "", withSettings(probe.RedisFacts{}, 0, 2, 1))},
			Committed: Committed{Epoch: 7, Primary: "p2", Settings: map[string]string{SettingMinReplicas: "0"}}}, nil},
		{"heartbeat drifted", StewardInput{Committed: committed, Heartbeat: time.Second, Nodes: []Node{healthy[0],
			node("r3", probe.RoleReplica, "p2", withSettings(probe.RedisFacts{}, 1, 2, 10))}}, []string{"heartbeat r3"}},
		{"route absent", StewardInput{Committed: committed, Nodes: healthy, RouteKnown: true, RouteNeedsWrite: true, RouteWhy: "route absent"},
			[]string{"route routing redis"}},
		{"routing redis unknown: no route repair", StewardInput{Committed: committed, Nodes: healthy, RouteNeedsWrite: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(RedisRepairs(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Errorf("repairs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedisRepairsDetails(t *testing.T) {
	primaryFacts := probe.RedisFacts{ReplID: "new", ReplID2: "old", SecondOffset: 1000, Offset: 1500}
	c := Committed{Epoch: 7, Primary: "p2", Settings: map[string]string{SettingPreviousPrimary: "p1"}}
	rs := RedisRepairs(StewardInput{Committed: c, Nodes: []Node{node("p2", probe.RolePrimary, "", primaryFacts),
		node("p1", probe.RolePrimary, "", probe.RedisFacts{ReplID: "old", Offset: 1200})}})
	if len(rs) != 1 || rs[0].ExtraOffset != 200 || rs[0].Primary != "p2" {
		t.Fatalf("repairs = %+v, want a demote of p1 to p2 losing 200 bytes", rs)
	}
	rs = RedisRepairs(StewardInput{Committed: c, Nodes: []Node{node("p2", probe.RolePrimary, "", primaryFacts),
		node("p1", probe.RolePrimary, "", probe.RedisFacts{ReplID: "restarted-empty", Offset: 10})}})
	if len(rs) != 1 || rs[0].ExtraOffset != -1 {
		t.Fatalf("repairs = %+v, want a demote with an unknown extra offset", rs)
	}
	rs = RedisRepairs(StewardInput{Committed: c, Nodes: []Node{node("p2", probe.RolePrimary, "", primaryFacts)},
		RouteKnown: true, RouteNeedsWrite: true, RoutePrimary: "p1", RouteWhy: "stored epoch 6 < committed 7"})
	if len(rs) != 1 || rs[0].OldPrimary != "p1" {
		t.Fatalf("repairs = %+v, want a route repair moving the route from p1", rs)
	}
}

func withSettings(f probe.RedisFacts, minReplicas, maxLag, ping int) probe.RedisFacts {
	f.Settings = &probe.RedisSettings{MinReplicasToWrite: minReplicas, MinReplicasMaxLagSeconds: maxLag, PingReplicaPeriodSeconds: ping}
	return f
}

func TestMySQLRepairs(t *testing.T) {
	mysqlNode := func(addr string, role probe.Role, primary string, hb time.Duration, io probe.IOThread) Node {
		f := &probe.MySQLFacts{Flavor: probe.FlavorMariaDB}
		if role == probe.RoleReplica {
			f.Channels = []probe.Channel{{Source: primary, IO: io, SQLRunning: true, HeartbeatPeriod: hb}}
		}
		return Node{Address: addr, Observation: &probe.Observation{Instance: addr, Reachable: true, Role: role,
			Primary: primary, ReadOnly: role == probe.RoleReplica, MySQL: f}}
	}
	c := Committed{Epoch: 4, Primary: "m1", Replicas: []string{"m2", "m3"}}
	for _, tc := range []struct {
		name string
		in   StewardInput
		want []string
	}{
		{"seed", StewardInput{Committed: Committed{Primary: "m1"}, Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", time.Second, probe.IORunning)}},
			[]string{"commit-seed m1"}},
		{"heartbeats as wanted", StewardInput{Committed: c, Heartbeat: time.Second, Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", time.Second, probe.IORunning),
			mysqlNode("m3", probe.RoleReplica, "m1", 500*time.Millisecond, probe.IORunning)}}, nil},
		{"a slow heartbeat repaired", StewardInput{Committed: c, Heartbeat: time.Second, Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", 30*time.Second, probe.IORunning)}},
			[]string{"heartbeat m2"}},
		{"a stopped IO thread is left alone (a failover may have stopped it)", StewardInput{Committed: c, Heartbeat: time.Second, Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", 30*time.Second, probe.IOStopped)}}, nil},
		{"unmanaged", StewardInput{Committed: c, Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", 30*time.Second, probe.IORunning)}}, nil},
		{"route older", StewardInput{Committed: c, RouteKnown: true, RouteNeedsWrite: true, RoutePrimary: "m1", Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0)}}, []string{"route routing redis"}},
		{"a failover detached the replicas of a primary that answers: undone", StewardInput{Committed: c, Detached: "m1", Nodes: []Node{
			mysqlNode("m1", probe.RolePrimary, "", 0, 0), mysqlNode("m2", probe.RoleReplica, "m1", time.Second, probe.IOStopped),
			mysqlNode("m3", probe.RoleReplica, "m1", time.Second, probe.IORunning)}}, []string{"undo-detach m1"}},
		{"detached from a primary that does not answer: the failover goes on", StewardInput{Committed: c, Detached: "m1", Nodes: []Node{
			mysqlNode("m2", probe.RoleReplica, "m1", time.Second, probe.IOStopped)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kinds(MySQLRepairs(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("repairs = %q, want %q", got, tc.want)
			}
		})
	}
}

// docs/design.md §9.33: after a failover stopped the IO threads and went
// no further, the steward looks at every replica of the primary (it
// restarts those it finds stopped cleanly when it acts: a probe may lag)
// and unfences a read-only primary; with nothing to do it still records
// the undo, superseding the stale stop-io intent.
func TestMySQLUndoDetach(t *testing.T) {
	replica := func(addr string, io probe.IOThread, errno int) Node {
		return Node{Address: addr, Observation: &probe.Observation{Instance: addr, Reachable: true, Role: probe.RoleReplica,
			Primary: "m1", ReadOnly: true, MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB,
				Channels: []probe.Channel{{Source: "m1", IO: io, SQLRunning: true, LastIOErrno: errno}}}}}
	}
	primary := func(readOnly bool) Node {
		return Node{Address: "m1", Observation: &probe.Observation{Instance: "m1", Reachable: true, Role: probe.RolePrimary,
			ReadOnly: readOnly, MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB}}}
	}
	c := Committed{Epoch: 4, Primary: "m1", Replicas: []string{"m2", "m3", "m4"}}
	for _, tc := range []struct {
		name     string
		nodes    []Node
		replicas []string
		unfence  bool
		why      string
	}{
		{"replicas to look at, fenced primary", []Node{primary(true), replica("m2", probe.IOStopped, 0), replica("m3", probe.IORunning, 0),
			replica("m4", probe.IOStopped, 1236)}, []string{"m2", "m3", "m4"}, true,
			"those of m2, m3, m4 with the IO thread stopped receive again; m1 accepts writes again"},
		{"no replica, writable primary", []Node{primary(false)}, nil, false, "the stale intent is superseded"},
	} {
		rs := MySQLRepairs(StewardInput{Committed: c, Detached: "m1", Nodes: tc.nodes})
		if len(rs) != 1 || rs[0].Kind != RepairUndoDetach || !slices.Equal(rs[0].Replicas, tc.replicas) || rs[0].Unfence != tc.unfence ||
			!strings.Contains(rs[0].Why, tc.why) {
			t.Errorf("%s: repairs %+v; want undo-detach of %v, unfence %t, why containing %q", tc.name, rs, tc.replicas, tc.unfence, tc.why)
		}
	}
}

func TestMySQLReturningPrimary(t *testing.T) {
	primary := Node{Address: "m2", Observation: &probe.Observation{Instance: "m2", Reachable: true, Role: probe.RolePrimary,
		MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB, GTIDBinlogState: "0-1-100,0-2-120"}}}
	returning := func(state string, readOnly bool) Node {
		return Node{Address: "m1", Observation: &probe.Observation{Instance: "m1", Reachable: true, Role: probe.RolePrimary,
			ReadOnly: readOnly, MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB, GTIDBinlogState: state}}}
	}
	c := Committed{Epoch: 5, Primary: "m2", Replicas: []string{"m3"}, Settings: map[string]string{SettingPreviousPrimary: "m1"}}
	for _, tc := range []struct {
		name string
		node Node
		want string
	}{
		{"clean: rejoins", returning("0-1-100", true), "rejoin m1"},
		{"errant and writable: fenced", returning("0-1-103", false), "fence-errant m1"},
		{"errant and read-only already: left to a person", returning("0-1-103", true), ""},
		{"the target of a pending promotion: left to the roll-forward", returning("0-1-100", false), "pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := StewardInput{Committed: c, Nodes: []Node{primary, tc.node}}
			want := tc.want
			if want == "pending" {
				in.PendingTarget, want = tc.node.Address, ""
			}
			got := strings.Join(kinds(MySQLRepairs(in)), ",")
			if got != want {
				t.Errorf("repairs %q, want %q", got, tc.want)
			}
		})
	}
	extra, err := ExtraTransactions(returning("0-1-103", true).Observation.MySQL, primary.Observation.MySQL)
	if err != nil || !strings.Contains(extra, "101-103") {
		t.Errorf("extra = %q, %v; want domain 0 seqs 101-103", extra, err)
	}
}
