package agreement

import (
	"fmt"
	"os"
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
	s             *harness.Sentinel
}

// fleet is a set of imsentinel processes watching one Redis cluster.
type fleet struct {
	t       *testing.T
	members []*member
	primary string
}

// config is one member's YAML. members lists the fleet.members this member
// is configured with (normally everyone's).
func (f *fleet) config(m *member, members []*member) string {
	var list []string
	for _, o := range members {
		list = append(list, fmt.Sprintf("{id: %s, address: \"127.0.0.1:%d\"}", o.id, o.gossip))
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
  - {name: sessions, kind: redis, primary: %q, quorum: 2}
`, m.id, m.dataDir, strings.Join(list, ", "), m.gossip, m.admin, f.primary)
}

func newMembers(t *testing.T, ids ...string) []*member {
	var ms []*member
	for _, id := range ids {
		ms = append(ms, &member{id: id, admin: harness.FreePort(t), gossip: harness.FreePort(t), dataDir: t.TempDir()})
	}
	return ms
}

func (f *fleet) start(m *member, members []*member) {
	m.s = harness.StartSentinel(f.t, harness.SentinelOptions{Config: f.config(m, members)})
}

func clusterOf(m *member) (sentinel.ClusterView, error) {
	var v sentinel.ClusterView
	if err := harness.AdminGet(m.admin, "/v1/clusters/sessions", &v); err != nil {
		return v, fmt.Errorf("%s: %w", m.id, err)
	}
	return v, nil
}

// waitAll polls every listed member until check passes for all of them at
// once; it fails at once if one has exited.
func (f *fleet) waitAll(what string, ms []*member, check func(map[string]sentinel.ClusterView) error) map[string]sentinel.ClusterView {
	f.t.Helper()
	var views map[string]sentinel.ClusterView
	harness.Eventually(f.t, deadline, what, func() error {
		views = map[string]sentinel.ClusterView{}
		for _, m := range ms {
			if m.s.Exited() {
				f.t.Fatalf("%s: %s exited (code %d):\n%s", what, m.id, m.s.ExitCode(), m.s.Logs())
			}
			v, err := clusterOf(m)
			if err != nil {
				return err
			}
			views[m.id] = v
		}
		return check(views)
	})
	return views
}

// oneLeader checks that exactly one member leads, every listed member knows
// it as the holder at the same epoch, and the lease is a failover lease
// above minEpoch. It returns the leader and the epoch.
func oneLeader(views map[string]sentinel.ClusterView, minEpoch uint64) (string, uint64, error) {
	leader, epoch := "", uint64(0)
	for id, v := range views {
		if v.State == "leading" {
			if leader != "" {
				return "", 0, fmt.Errorf("two leaders: %s and %s", leader, id)
			}
			leader, epoch = id, v.Agreement.Lease.Epoch
		}
	}
	if leader == "" {
		var states []string
		for id, v := range views {
			states = append(states, fmt.Sprintf("%s=%s (%s)", id, v.State, v.Agreement.Tally))
		}
		return "", 0, fmt.Errorf("no leader yet: %s", strings.Join(states, "; "))
	}
	if epoch <= minEpoch {
		return "", 0, fmt.Errorf("leader %s at epoch %d, want above %d", leader, epoch, minEpoch)
	}
	for id, v := range views {
		l := v.Agreement.Lease
		if l == nil || l.Holder != leader || l.Epoch != epoch || l.Reason != "failover" {
			return "", 0, fmt.Errorf("%s (state %s) knows lease %+v, want %s's failover lease at epoch %d", id, v.State, l, leader, epoch)
		}
	}
	return leader, epoch, nil
}

// Three sentinels over real memberlist: kill -9 the primary → ODOWN and one
// leader for the failover epoch, visible through /v1/clusters of every
// sentinel; SIGSTOP the leader → the others elect at a higher epoch, and
// the stopped one, resumed, does not lead again on its old lease.
func TestFleetElectsOneLeader(t *testing.T) {
	harness.Require(t, "redis-server")
	rt := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	f := &fleet{t: t, primary: rt.Primary.Addr, members: newMembers(t, "s1", "s2", "s3")}
	for _, m := range f.members {
		f.start(m, f.members)
	}
	f.waitAll("every sentinel sees the cluster ok", f.members, func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.State != "ok" {
				return fmt.Errorf("%s: state %s (%s)", id, v.State, v.Agreement.Tally)
			}
		}
		return nil
	})

	rt.Primary.Kill(t)
	var leader string
	var epoch uint64
	f.waitAll("one leader for the failover epoch, known to all", f.members, func(vs map[string]sentinel.ClusterView) error {
		var err error
		leader, epoch, err = oneLeader(vs, 0)
		return err
	})
	t.Logf("elected %s at epoch %d", leader, epoch)

	var stopped *member
	var rest []*member
	for _, m := range f.members {
		if m.id == leader {
			stopped = m
		} else {
			rest = append(rest, m)
		}
	}
	stopped.s.Pause(t)
	var next string
	var nextEpoch uint64
	f.waitAll("the others elect a new leader at a higher epoch", rest, func(vs map[string]sentinel.ClusterView) error {
		var err error
		next, nextEpoch, err = oneLeader(vs, epoch)
		return err
	})
	if next == leader {
		t.Fatalf("the stopped sentinel %s is still the leader", leader)
	}
	t.Logf("after SIGSTOP of %s: %s elected at epoch %d", leader, next, nextEpoch)

	stopped.s.Resume(t)
	f.waitAll("the resumed sentinel follows the new leader", f.members, func(vs map[string]sentinel.ClusterView) error {
		l, e, err := oneLeader(vs, epoch)
		if err != nil {
			return err
		}
		if l != next || e != nextEpoch {
			return fmt.Errorf("leader %s at %d, want %s at %d", l, e, next, nextEpoch)
		}
		return nil
	})
	if logs := stopped.s.Logs(); !strings.Contains(logs, "agreement: state:tilt") && !strings.Contains(logs, "agreement: lease-lost") {
		t.Errorf("the resumed sentinel logged neither TILT nor the lost lease")
	}
}

// A sentinel configured with another fleet.members (two members more)
// refuses to vote and says why (DESIGN.md §5.1):
//   - restarted on its data_dir, it refuses to start, naming the difference
//     from the list it last ran with;
//   - started on a fresh data_dir, it runs, but the others refuse its
//     messages and it refuses theirs, each logging the reason; the two
//     that agree still elect, as a majority of their three.
//
// The fleet bootstraps with the right lists first: a brand-new fleet waits
// for every member's answer before it stops learning (docs/design.md §9).
func TestIncompatibleMembersRefused(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{})
	f := &fleet{t: t, primary: r.Addr, members: newMembers(t, "s1", "s2", "s3")}
	for _, m := range f.members {
		f.start(m, f.members)
	}
	f.waitAll("the fleet bootstraps", f.members, func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.State != "ok" {
				return fmt.Errorf("%s: %s", id, v.State)
			}
		}
		return nil
	})

	odd := f.members[2]
	odd.s.Stop(t)
	wrong := append(append([]*member{}, f.members...), newMembers(t, "s4", "s5")...)
	if err := os.WriteFile(odd.s.ConfigPath, []byte(f.config(odd, wrong)), 0o644); err != nil {
		t.Fatal(err)
	}
	odd.s.Restart(t)
	if code := odd.s.WaitExit(t, deadline); code != 1 || !strings.Contains(odd.s.Logs(), "differ by 2") {
		t.Fatalf("restarted with two members more: exit %d, want 1 naming the difference:\n%s",
			code, grepLines(odd.s.Logs(), "refusing"))
	}

	odd.dataDir = t.TempDir()
	if err := os.WriteFile(odd.s.ConfigPath, []byte(f.config(odd, wrong)), 0o644); err != nil {
		t.Fatal(err)
	}
	odd.s.Restart(t)

	r.Kill(t)
	good := f.members[:2]
	f.waitAll("s1 and s2 elect a leader without s3", good, func(vs map[string]sentinel.ClusterView) error {
		_, _, err := oneLeader(vs, 0)
		return err
	})
	harness.Eventually(t, deadline, "every side says why it refuses the other", func() error {
		for _, m := range f.members {
			logs := m.s.Logs()
			if !strings.Contains(grepLines(logs, "refused a message from an incompatible voter set"), "differ by 2") {
				return fmt.Errorf("%s has not logged the refusal with its reason yet:\n%s", m.id,
					grepLines(logs, "incompatible", "refus"))
			}
		}
		return nil
	})
	if v, err := clusterOf(odd); err == nil && v.State == "leading" {
		t.Errorf("the misconfigured sentinel leads: %+v", v.Agreement)
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
