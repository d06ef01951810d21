package agreement

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	faults  bool     // start the fault-injection build
	env     []string // added to every member's environment
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
	o := harness.SentinelOptions{Config: f.config(m, members), Env: f.env}
	if f.faults {
		o.Binary = harness.FaultsBinary(f.t)
	}
	m.s = harness.StartSentinel(f.t, o)
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

// Three sentinels over real memberlist: kill -9 the primary → ODOWN and
// one leader for the failover epoch, known to the others; the leader
// promotes the replica and then freezes (SIGSTOP, injected right after the
// promote step by the fault-injection build) → the others wait out its
// lease, elect at a higher epoch and roll forward from its intent; resumed,
// the frozen one takes no step on its old lease (TILT or the lost lease
// stops it) and learns the new config.
func TestFleetElectsOneLeader(t *testing.T) {
	harness.Require(t, "redis-server")
	rt := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	marker := filepath.Join(t.TempDir(), "frozen")
	f := &fleet{t: t, primary: rt.Primary.Addr, members: newMembers(t, "s1", "s2", "s3"), faults: true,
		env: []string{"IMSENTINEL_CRASH_AFTER_STEP=promote", "IMSENTINEL_CRASH_SIGNAL=STOP", "IMSENTINEL_CRASH_MARKER=" + marker}}
	for _, m := range f.members {
		f.start(m, f.members)
	}
	f.waitAll("every sentinel sees the cluster settled", f.members, func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.State != "ok" || v.Epoch == 0 {
				return fmt.Errorf("%s: state %s epoch %d (%s)", id, v.State, v.Epoch, v.Agreement.Tally)
			}
		}
		return nil
	})

	rt.Primary.Kill(t)
	var frozen *member
	harness.Eventually(t, deadline, "a leader promotes the replica and freezes", func() error {
		b, err := os.ReadFile(marker)
		if err != nil {
			return err
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		for _, m := range f.members {
			if m.s.PID() == pid {
				frozen = m
				return nil
			}
		}
		return fmt.Errorf("marker names pid %d, no member has it", pid)
	})
	var rest []*member
	for _, m := range f.members {
		if m != frozen {
			rest = append(rest, m)
		}
	}
	epoch := electedEpoch(t, frozen)
	t.Logf("%s elected at epoch %d, promoted, frozen", frozen.id, epoch)
	if !strings.Contains(grepLines(frozen.s.Logs(), "failover: promoted"), "new_primary="+rt.Replicas[0].Addr) {
		t.Fatalf("%s did not log the promotion of %s", frozen.id, rt.Replicas[0].Addr)
	}

	f.waitAll("the others elect at a higher epoch, roll forward and commit the replica", rest, func(vs map[string]sentinel.ClusterView) error {
		for id, v := range vs {
			if v.Primary != rt.Replicas[0].Addr || v.Epoch <= epoch {
				return fmt.Errorf("%s: primary %s at epoch %d, want %s above %d", id, v.Primary, v.Epoch, rt.Replicas[0].Addr, epoch)
			}
		}
		return nil
	})
	rolled := ""
	for _, m := range rest {
		rolled += grepLines(m.s.Logs(), "rolling forward the promote intent")
	}
	if rolled == "" {
		t.Errorf("no other sentinel rolled forward the frozen leader's promote intent")
	}

	resumedAt := time.Now()
	frozen.s.Resume(t)
	f.waitAll("the resumed sentinel learns the new config", f.members, func(vs map[string]sentinel.ClusterView) error {
		if v := vs[frozen.id]; v.Primary != rt.Replicas[0].Addr {
			return fmt.Errorf("%s believes in %s", frozen.id, v.Primary)
		}
		return nil
	})
	logs := frozen.s.Logs()
	if !strings.Contains(logs, "agreement: state:tilt") && !strings.Contains(logs, "agreement: lease-lost") {
		t.Errorf("the resumed sentinel logged neither TILT nor the lost lease")
	}
	for _, line := range strings.Split(grepLines(logs, "step done"), "\n") {
		if strings.Contains(line, fmt.Sprintf("epoch=%d ", epoch)) && logTime(line).After(resumedAt) {
			t.Errorf("the resumed sentinel took a step on its old lease: %s", line)
		}
	}
}

// electedEpoch is the epoch of the failover lease m logged winning.
func electedEpoch(t *testing.T, m *member) uint64 {
	t.Helper()
	for _, line := range strings.Split(grepLines(m.s.Logs(), "agreement: elected"), "\n") {
		if !strings.Contains(line, "(failover)") {
			continue
		}
		_, rest, _ := strings.Cut(line, " epoch=")
		n, _ := strconv.ParseUint(strings.Fields(rest)[0], 10, 64)
		return n
	}
	t.Fatalf("%s logged no failover election", m.id)
	return 0
}

// logTime reads the time= field of a log line (zero when absent).
func logTime(line string) time.Time {
	_, rest, ok := strings.Cut(line, "time=")
	if !ok {
		return time.Time{}
	}
	at, _ := time.Parse(time.RFC3339Nano, strings.Fields(rest)[0])
	return at
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
	// The primary has no replica: the leader finds nothing to promote and
	// releases at once, so the election is read from the logs.
	harness.Eventually(t, deadline, "s1 or s2 wins a failover election without s3", func() error {
		for _, m := range good {
			if strings.Contains(grepLines(m.s.Logs(), "agreement: elected"), "(failover)") {
				return nil
			}
		}
		return fmt.Errorf("no failover election won yet")
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
	if line := grepLines(odd.s.Logs(), "agreement: elected"); line != "" {
		t.Errorf("the misconfigured sentinel won an election: %s", line)
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
