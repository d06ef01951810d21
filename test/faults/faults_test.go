package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// deadline for anything to show: generous for a loaded 2-core machine
// (DESIGN.md §8). Tests assert order and invariants, never durations.
const deadline = 60 * time.Second

type member struct {
	id            string
	admin, gossip int
	dataDir       string
	// primary is where this sentinel reaches the primary: its own proxy,
	// or the primary itself.
	primary string
	proxy   *harness.Proxy // nil: no proxy
	s       *harness.Sentinel
}

// fleet is three imsentinel processes of the fault-injection build
// watching one Redis cluster.
type fleet struct {
	t       *testing.T
	members []*member
	primary string // the primary's real address
}

// newFleet starts s1, s2 and s3 on primary. With proxies, each sentinel
// reaches the primary through its own proxy: the proxy is its seed
// primary, and the address_map sends the primary's real address, as the
// replica reports it, to the same proxy.
func newFleet(t *testing.T, primary string, proxies bool) *fleet {
	f := &fleet{t: t, primary: primary}
	for _, id := range []string{"s1", "s2", "s3"} {
		m := &member{id: id, admin: harness.FreePort(t), gossip: harness.FreePort(t), dataDir: t.TempDir(), primary: primary}
		if proxies {
			m.proxy = harness.StartProxy(t, primary)
			m.primary = m.proxy.Addr()
		}
		f.members = append(f.members, m)
	}
	bin := harness.FaultsBinary(t)
	for _, m := range f.members {
		m.s = harness.StartSentinel(t, harness.SentinelOptions{Config: f.config(m), Binary: bin})
	}
	return f
}

func (f *fleet) config(m *member) string {
	var list []string
	for _, o := range f.members {
		list = append(list, fmt.Sprintf("{id: %s, address: \"127.0.0.1:%d\"}", o.id, o.gossip))
	}
	addrMap := ""
	if m.primary != f.primary {
		addrMap = fmt.Sprintf(", address_map: [{reported: %q, reach: %q}]", f.primary, m.primary)
	}
	return fmt.Sprintf(`
sentinel: {id: %s, data_dir: %s}
fleet: {name: e2e, members: [%s]}
gossip: {bind: "127.0.0.1:%d", profile: local}
admin: {listen: "127.0.0.1:%d"}
log: {level: debug}
detection: {probe_interval: 200ms, probe_timeout: 100ms, min_down_after: 1s, down_after: 5s, opinion_ttl: 3s}
failover: {lease: 5s, lease_drift_margin: 500ms, election_timeout: 1s}
clusters:
  - {name: sessions, kind: redis, mode: observe, primary: %q, quorum: 2%s}
`, m.id, m.dataDir, strings.Join(list, ", "), m.gossip, m.admin, m.primary, addrMap)
}

// waitAll polls every member until check passes for all of them at once;
// it fails at once if one has exited, or if invariant (checked on every
// poll; nil = none) fails.
func (f *fleet) waitAll(what string, check, invariant func(map[string]sentinel.ClusterView) error) map[string]sentinel.ClusterView {
	f.t.Helper()
	var views map[string]sentinel.ClusterView
	harness.Eventually(f.t, deadline, what, func() error {
		views = map[string]sentinel.ClusterView{}
		for _, m := range f.members {
			if m.s.Exited() {
				f.t.Fatalf("%s: %s exited (code %d):\n%s", what, m.id, m.s.ExitCode(), m.s.Logs())
			}
			var v sentinel.ClusterView
			if err := harness.AdminGet(m.admin, "/v1/clusters/sessions", &v); err != nil {
				return fmt.Errorf("%s: %w", m.id, err)
			}
			views[m.id] = v
		}
		if invariant != nil {
			if err := invariant(views); err != nil {
				f.t.Fatalf("%s: invariant broken: %v", what, err)
			}
		}
		return check(views)
	})
	return views
}

// verdict is how a sentinel's tally counted member id's opinion: "says
// up", "sdown", "stale (…)", "not heard", "other config (…)".
func verdict(v sentinel.ClusterView, id string) string {
	for _, part := range strings.Split(v.Agreement.Tally, "; ") {
		if rest, ok := strings.CutPrefix(part, id+" "); ok {
			return rest
		}
	}
	return "absent from the tally"
}

// hears says whether the sentinel whose view is v has a fresh opinion of
// member id; ok is false when its tally cannot tell ("other config" is
// said of stale and fresh opinions alike).
func hears(v sentinel.ClusterView, id string) (heard, ok bool) {
	switch w := verdict(v, id); {
	case w == "says up" || w == "sdown":
		return true, true
	case w == "not heard" || strings.HasPrefix(w, "stale"):
		return false, true
	}
	return false, false
}

// hearing checks, for every listening sentinel and every member it should
// (or should not) hear, what its tally says.
func hearing(vs map[string]sentinel.ClusterView, want map[[2]string]bool) error {
	var bad []string
	for pair, should := range want {
		v := vs[pair[0]]
		if heard, ok := hears(v, pair[1]); !ok || heard != should {
			bad = append(bad, fmt.Sprintf("%s on %s: %s (want heard=%v)", pair[0], pair[1], verdict(v, pair[1]), should))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return nil
}

// nobodyActs is the invariant of tests where the primary stays up for the
// fleet: no sentinel sees ODOWN or knows of a failover lease (a steward
// lease, for routine care of a healthy cluster, is fine).
func nobodyActs(vs map[string]sentinel.ClusterView) error {
	for id, v := range vs {
		l := v.Agreement.Lease
		if v.State == "odown" || strings.HasPrefix(v.Agreement.Tally, "ODOWN") || (l != nil && l.Reason == "failover") {
			return fmt.Errorf("%s: state %s, lease %+v (%s)", id, v.State, l, v.Agreement.Tally)
		}
	}
	return nil
}

// pushPullLine is what memberlist logs (at debug, bridged into the
// sentinel's log) when it starts a push/pull state exchange.
const pushPullLine = "Initiating push/pull sync with:"

// everyoneHears is every sentinel hearing every other.
var everyoneHears = map[[2]string]bool{
	{"s1", "s2"}: true, {"s1", "s3"}: true,
	{"s2", "s1"}: true, {"s2", "s3"}: true,
	{"s3", "s1"}: true, {"s3", "s2"}: true,
}

// An isolated sentinel is cut off from the fleet's agreement: the other
// two stop hearing its opinions and it stops hearing theirs, while they
// still hear each other; lifting the fault brings its opinions back.
// memberlist's UDP cannot be cut by a proxy, so this goes through the
// fault-injection build's control file.
func TestIsolatedSentinelIsNotHeard(t *testing.T) {
	harness.Require(t, "redis-server")
	rt := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	f := newFleet(t, rt.Primary.Addr, false)
	f.waitAll("every sentinel sees the cluster ok and hears the others", func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.State != "ok" {
				return fmt.Errorf("%s: state %s (%s)", id, v.State, v.Agreement.Tally)
			}
		}
		return hearing(vs, everyoneHears)
	}, nobodyActs)

	s3 := f.members[2].s
	s3.SetFaults(t, harness.Faults{Isolate: true})
	f.waitAll("s3 is heard by nobody and hears nobody; s1 and s2 still hear each other", func(vs map[string]sentinel.ClusterView) error {
		return hearing(vs, map[[2]string]bool{
			{"s1", "s2"}: true, {"s1", "s3"}: false,
			{"s2", "s1"}: true, {"s2", "s3"}: false,
			{"s3", "s1"}: false, {"s3", "s2"}: false,
		})
	}, nobodyActs)
	if logs := s3.Logs(); !strings.Contains(logs, "fault injection: faults changed") || !strings.Contains(logs, "faults=isolate") {
		t.Errorf("s3 did not log the fault it was given:\n%s", grepLines(logs, "fault injection"))
	}
	// The push/pull state exchange, memberlist's safety net, carries
	// opinions too: it must not leak them either. Each exchange s3 starts
	// (with s1 or s2, every PushPullInterval) sends both states.
	isolated := func(vs map[string]sentinel.ClusterView) error {
		if err := nobodyActs(vs); err != nil {
			return err
		}
		return hearing(vs, map[[2]string]bool{{"s1", "s3"}: false, {"s2", "s3"}: false, {"s3", "s1"}: false, {"s3", "s2"}: false})
	}
	from := len(s3.Logs())
	f.waitAll("s3 exchanges push/pull state twice while isolated", func(vs map[string]sentinel.ClusterView) error {
		if n := strings.Count(s3.Logs()[from:], pushPullLine); n < 2 {
			return fmt.Errorf("%d push/pull exchanges started by s3 so far", n)
		}
		return nil
	}, isolated)

	s3.SetFaults(t, harness.Faults{})
	f.waitAll("once the fault is lifted, everyone hears everyone again", func(vs map[string]sentinel.ClusterView) error {
		return hearing(vs, everyoneHears)
	}, nobodyActs)
}

// drop_from and drop_to cut one direction of one pair: s1 stops hearing
// s2, then s2 stops hearing s1, and nobody else notices anything.
func TestDropIsOneWay(t *testing.T) {
	harness.Require(t, "redis-server")
	rt := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	f := newFleet(t, rt.Primary.Addr, false)
	f.waitAll("everyone hears everyone", func(vs map[string]sentinel.ClusterView) error {
		return hearing(vs, everyoneHears)
	}, nobodyActs)
	s1 := f.members[0].s
	for _, tc := range []struct {
		faults harness.Faults
		deaf   [2]string // listener, member it no longer hears
	}{
		{harness.Faults{DropFrom: []string{"s2"}}, [2]string{"s1", "s2"}},
		{harness.Faults{DropTo: []string{"s2"}}, [2]string{"s2", "s1"}},
	} {
		s1.SetFaults(t, tc.faults)
		f.waitAll(fmt.Sprintf("with %+v on s1, %s stops hearing %s; every other pair still hears", tc.faults, tc.deaf[0], tc.deaf[1]),
			func(vs map[string]sentinel.ClusterView) error {
				want := map[[2]string]bool{}
				for k, v := range everyoneHears {
					want[k] = v
				}
				want[tc.deaf] = false
				return hearing(vs, want)
			}, nobodyActs)
		s1.SetFaults(t, harness.Faults{})
		f.waitAll("once the fault is lifted, everyone hears everyone again", func(vs map[string]sentinel.ClusterView) error {
			return hearing(vs, everyoneHears)
		}, nobodyActs)
	}
}

// primaryOf is the instance a sentinel reaches the primary at.
func primaryOf(v sentinel.ClusterView, m *member) (sentinel.InstanceView, error) {
	for _, in := range v.Instances {
		if in.Address == m.primary {
			return in, nil
		}
	}
	var names []string
	for _, in := range v.Instances {
		names = append(names, in.Address)
	}
	return sentinel.InstanceView{}, fmt.Errorf("%s has no instance %s (the primary through its proxy) among %v", m.id, m.primary, names)
}

// Cutting one sentinel's proxy to the primary makes that sentinel, and
// only it, see the primary SDOWN; the others' links are their own.
// Restoring the proxy brings the primary back for it. The replica, reached
// directly, stays up for everyone.
func TestCutProxyOnlyThatSentinelSeesSDOWN(t *testing.T) {
	harness.Require(t, "redis-server")
	rt := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	f := newFleet(t, rt.Primary.Addr, true)
	s1 := f.members[0]
	othersUp := func(vs map[string]sentinel.ClusterView) error {
		if err := nobodyActs(vs); err != nil {
			return err
		}
		for _, m := range f.members[1:] {
			in, err := primaryOf(vs[m.id], m)
			if err != nil {
				return nil // not discovered yet: nothing to check
			}
			if in.SDOWN {
				return fmt.Errorf("%s sees the primary %s SDOWN through its own proxy, which was never cut: %s",
					m.id, m.primary, in.Detector.Reason)
			}
		}
		return nil
	}
	views := f.waitAll("every sentinel sees the primary through its proxy, and the replica, up", func(vs map[string]sentinel.ClusterView) error {
		for _, m := range f.members {
			v := vs[m.id]
			in, err := primaryOf(v, m)
			if err != nil {
				return err
			}
			if in.SDOWN || in.Observation == nil || !in.Observation.Reachable {
				return fmt.Errorf("%s: primary %s not up yet (%s)", m.id, m.primary, in.Detector.Reason)
			}
			if len(v.Instances) != 2 {
				return fmt.Errorf("%s: %d instances, want the primary and the replica", m.id, len(v.Instances))
			}
		}
		return nil
	}, othersUp)
	// Each sentinel names the primary by the address it reaches it at
	// (DESIGN.md §2), so here each names another one.
	t.Logf("s2's tally with a proxy per sentinel: %s", views["s2"].Agreement.Tally)

	s1.proxy.Cut()
	views = f.waitAll("s1 sees the primary SDOWN, the others do not", func(vs map[string]sentinel.ClusterView) error {
		in, err := primaryOf(vs["s1"], s1)
		if err != nil {
			return err
		}
		if !in.SDOWN {
			return fmt.Errorf("s1: primary %s not SDOWN yet (%s)", s1.primary, in.Detector.Reason)
		}
		return nil
	}, othersUp)
	for _, m := range f.members {
		for _, in := range views[m.id].Instances {
			if in.Address != m.primary && in.SDOWN {
				t.Errorf("%s sees the replica %s SDOWN", m.id, in.Address)
			}
		}
	}

	s1.proxy.Restore()
	f.waitAll("after the restore s1 sees the primary up again", func(vs map[string]sentinel.ClusterView) error {
		in, err := primaryOf(vs["s1"], s1)
		if err != nil {
			return err
		}
		if in.SDOWN {
			return fmt.Errorf("s1: primary %s still SDOWN (%s)", s1.primary, in.Detector.Reason)
		}
		return nil
	}, othersUp)
}

// A step of one sentinel's wall clock (wall_offset), with the monotonic
// clock running on, puts that sentinel in TILT for a while, naming the
// jump; the others never tilt. The offset stays: TILT ends once the step
// is behind it.
func TestClockStepTilts(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{})
	f := newFleet(t, r.Addr, false)
	noOtherTilts := func(vs map[string]sentinel.ClusterView) error {
		if err := nobodyActs(vs); err != nil {
			return err
		}
		for _, id := range []string{"s2", "s3"} {
			if vs[id].State == "tilt" {
				return fmt.Errorf("%s is in TILT: no clock of its stepped", id)
			}
		}
		return nil
	}
	f.waitAll("every sentinel sees the cluster ok", func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.State != "ok" {
				return fmt.Errorf("%s: state %s", id, v.State)
			}
		}
		return nil
	}, noOtherTilts)

	s1 := f.members[0].s
	s1.SetFaults(t, harness.Faults{WallOffset: time.Hour})
	f.waitAll("s1 enters TILT", func(vs map[string]sentinel.ClusterView) error {
		if vs["s1"].State != "tilt" {
			return fmt.Errorf("s1: state %s", vs["s1"].State)
		}
		return nil
	}, noOtherTilts)
	f.waitAll("s1 leaves TILT with the offset still in force", func(vs map[string]sentinel.ClusterView) error {
		if vs["s1"].State != "ok" {
			return fmt.Errorf("s1: state %s", vs["s1"].State)
		}
		return nil
	}, noOtherTilts)
	if tilts := grepLines(s1.Logs(), "agreement: state:tilt"); !strings.Contains(tilts, "wall clock jumped") {
		t.Errorf("s1's TILT does not name the wall clock jump:\n%s", tilts)
	}
}

// grepLines returns the log lines containing any of words, for a failure
// message.
func grepLines(logs string, words ...string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	if len(out) > 10 {
		out = out[len(out)-10:]
	}
	return strings.Join(out, "\n")
}
