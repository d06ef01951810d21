package sentinel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/promote/route"
)

// myFleet is a scripted MariaDB cluster for the MySQL executor and
// steward in virtual time: what the probers see of each node, and what
// the admin calls (promote/mysqlnode's, faked) do to it. Every admin call
// that changes a node is logged in order.
type myFleet struct {
	mu    sync.Mutex
	nodes map[string]*myNode
	calls *callLog
}

type myNode struct {
	probeDown bool // its prober gets no answer
	adminDown bool // admin connections are refused: the process is gone
	role      probe.Role
	primary   string
	facts     probe.MySQLFacts
	// onStopIO runs when its IO thread stops: what it received last.
	onStopIO func(*myNode)
}

func (n *myNode) channel() *probe.Channel {
	if len(n.facts.Channels) == 0 {
		return nil
	}
	return &n.facts.Channels[0]
}

// newMyFleet is a semi-sync MariaDB primary p with replicas rs, every one
// at GTID 0-1-<seq>.
func newMyFleet(p string, seq int, rs ...string) *myFleet {
	f := &myFleet{nodes: map[string]*myNode{}, calls: &callLog{}}
	pos := fmt.Sprintf("0-1-%d", seq)
	f.nodes[p] = &myNode{role: probe.RolePrimary, facts: probe.MySQLFacts{Flavor: probe.FlavorMariaDB, ServerID: 1,
		GTIDBinlogPos: pos, GTIDBinlogState: pos, GTIDCurrentPos: pos,
		SemiSync: probe.SemiSync{Loaded: true, PrimaryEnabled: true, WaitPoint: "AFTER_SYNC", WaitNoReplica: true,
			Timeout: 24 * time.Hour, PrimaryActive: true, Clients: len(rs)}}}
	for i, r := range rs {
		f.nodes[r] = &myNode{role: probe.RoleReplica, primary: p, facts: probe.MySQLFacts{Flavor: probe.FlavorMariaDB,
			ServerID: uint32(i + 2), ReadOnly: true, GTIDBinlogPos: pos, GTIDBinlogState: pos, GTIDSlavePos: pos, GTIDCurrentPos: pos,
			Channels: []probe.Channel{{Source: p, IO: probe.IORunning, SQLRunning: true, UsingGTID: true, GTIDIOPos: pos}}}}
	}
	return f
}

func (f *myFleet) set(fn func(map[string]*myNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.nodes)
}

func (f *myFleet) newProber(t probe.Target) probe.Prober { return &myProber{f: f, addr: t.Address} }

type myProber struct {
	f    *myFleet
	addr string
}

func (p *myProber) Probe(context.Context) probe.Observation {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	obs := probe.Observation{Instance: p.addr, At: time.Now()}
	n := p.f.nodes[p.addr]
	if n == nil || n.probeDown || n.adminDown {
		obs.Error = "probe " + p.addr + ": select 1: i/o timeout"
		return obs
	}
	facts := n.facts
	facts.Channels = slices.Clone(n.facts.Channels)
	obs.Reachable, obs.RTT, obs.Role, obs.Primary, obs.ReadOnly, obs.MySQL = true, time.Millisecond, n.role, n.primary, facts.ReadOnly, &facts
	for addr, o := range p.f.nodes {
		if o.role == probe.RoleReplica && o.primary == p.addr {
			obs.Replicas = append(obs.Replicas, addr)
		}
	}
	slices.Sort(obs.Replicas)
	return obs
}

func (p *myProber) Close() error { return nil }

// myAdmin is mysqlAdmin on the fake fleet. Every call a live node gets
// is logged, also one that fails.
type myAdmin struct {
	f    *myFleet
	addr string
}

var _ mysqlAdmin = (*myAdmin)(nil)

// do runs fn on the node unless its process is gone, and logs the call.
func (a *myAdmin) do(what string, fn func(n *myNode) error) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	n := a.f.nodes[a.addr]
	if n == nil || n.adminDown {
		return fmt.Errorf("%s %s: %w", what, a.addr, errRefused)
	}
	a.f.calls.add(what + " " + a.addr)
	if fn != nil {
		return fn(n)
	}
	return nil
}

func (a *myAdmin) KillOtherAdminSessions(context.Context) (int, error) {
	return 0, a.do("kill-sessions", nil)
}

func (a *myAdmin) StopIOThread(context.Context) error {
	return a.do("stop-io", func(n *myNode) error {
		if ch := n.channel(); ch != nil {
			if n.onStopIO != nil {
				n.onStopIO(n)
			}
			ch.IO, ch.LastIOErrno = probe.IOStopped, 0
		}
		return nil
	})
}

func (a *myAdmin) StartIOThread(context.Context) error {
	return a.do("start-io", func(n *myNode) error {
		if ch := n.channel(); ch != nil {
			ch.IO = probe.IOConnecting
		}
		return nil
	})
}

func (a *myAdmin) Fence(context.Context, time.Duration) (mysqlnode.FenceResult, error) {
	return mysqlnode.FenceResult{Fenced: true}, a.do("fence", func(n *myNode) error { n.facts.ReadOnly = true; return nil })
}

func (a *myAdmin) Unfence(context.Context) error {
	return a.do("unfence", func(n *myNode) error { n.facts.ReadOnly = false; return nil })
}

func (a *myAdmin) Position(context.Context) (mysqlnode.Position, error) {
	var p mysqlnode.Position
	err := a.do("position", func(n *myNode) error {
		f := n.facts
		p = mysqlnode.Position{Flavor: mysqlsql.MariaDB(10, 11, 0), ServerID: f.ServerID, ReadOnly: f.ReadOnly,
			GTIDBinlogPos: f.GTIDBinlogPos, GTIDBinlogState: f.GTIDBinlogState, GTIDSlavePos: f.GTIDSlavePos, GTIDCurrentPos: f.GTIDCurrentPos}
		for _, ch := range f.Channels {
			p.Channels = append(p.Channels, mysqlnode.Channel{Channel: ch})
		}
		return nil
	})
	return p, err
}

// WaitApplied stalls when the applier is stopped, as mysqlnode's does;
// otherwise the node has applied gtids at once.
func (a *myAdmin) WaitApplied(_ context.Context, gtids string, _ time.Duration, _ func(string)) error {
	return a.do("wait-applied", func(n *myNode) error {
		if ch := n.channel(); ch != nil && !ch.SQLRunning {
			return fmt.Errorf("wait until %s has applied %q: SQL thread stopped: %w", a.addr, gtids, mysqlnode.ErrStalled)
		}
		n.facts.GTIDSlavePos, n.facts.GTIDCurrentPos = gtids, gtids
		return nil
	})
}

func (a *myAdmin) Promote(context.Context, *mysqlsql.SemiSync) error {
	return a.do("promote", func(n *myNode) error {
		n.facts.Channels, n.facts.ReadOnly, n.role, n.primary = nil, false, probe.RolePrimary, ""
		return nil
	})
}

func (a *myAdmin) Repoint(_ context.Context, src mysqlsql.Source) error {
	to := fmt.Sprintf("%s:%d", src.Host, src.Port)
	return a.do("repoint "+to+" on", func(n *myNode) error {
		n.role, n.primary = probe.RoleReplica, to
		n.facts.Channels = []probe.Channel{{Source: to, IO: probe.IORunning, SQLRunning: true, UsingGTID: true, GTIDIOPos: n.facts.GTIDCurrentPos}}
		return nil
	})
}

func (a *myAdmin) SetHeartbeat(context.Context, time.Duration) error { return a.do("heartbeat", nil) }
func (a *myAdmin) Close() error                                      { return nil }

// myMonitor is one sentinel (a fleet of one, quorum 1) over the fake
// MariaDB cluster, with a fake routing Redis; it returns once the steward
// committed and routed the seed.
func myMonitor(t *testing.T, f *myFleet, p string, rs ...string) (*clusterMonitor, *memJournal, *fakeRouter, func()) {
	t.Helper()
	cfg := testConfig(t.TempDir())
	c := &cfg.Clusters[0]
	c.Name, c.Kind, c.Primary, c.Replicas, c.Quorum = "msg", "mysql", p, rs, 1
	c.Credentials.Username = "imsentinel"
	cfg.Clusters = cfg.Clusters[:1]
	router := &fakeRouter{entries: map[string]route.Entry{}}
	m, j := testMonitor(t, cfg, newFakeFleet(), func(d *Daemon) {
		d.executors = true
		d.newProber = f.newProber
	})
	m.router = router
	m.newMySQLAdmin = func(addr string) mysqlAdmin { return &myAdmin{f: f, addr: addr} }
	stop := runMonitor(t, m)
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		if e, ok := router.current("msg"); ok && e.Primary == p {
			return m, j, router, stop
		}
	}
	stop()
	t.Fatalf("the steward did not route the seed %s (calls %v)", p, f.calls.all())
	return nil, nil, nil, nil
}

// kill makes p silent to the probers and its replicas' receivers
// reconnect; down also refuses its admin connections (the process is
// gone), otherwise it is alive but unseen (hung, cut off from the fleet).
func (f *myFleet) kill(p string, down bool) {
	f.set(func(nodes map[string]*myNode) {
		nodes[p].probeDown, nodes[p].adminDown = true, down
		for _, n := range nodes {
			if ch := n.channel(); ch != nil && ch.Source == p {
				ch.IO, ch.LastIOErrno = probe.IOConnecting, 2003
			}
		}
	})
}

// stallAndKill gives r1 ten transactions more than the others, which it
// cannot apply (its applier is stopped) and p wrote when primaryHas, then
// kills p (down: its process is gone; otherwise alive but unseen) and
// waits for the failover that follows to end.
func (f *myFleet) stallAndKill(t *testing.T, j *memJournal, p, r1 string, down, primaryHas bool) {
	t.Helper()
	f.set(func(nodes map[string]*myNode) {
		ch := nodes[r1].channel()
		ch.GTIDIOPos, ch.SQLRunning = "0-1-110", false
		if primaryHas {
			nodes[p].facts.GTIDBinlogPos, nodes[p].facts.GTIDBinlogState, nodes[p].facts.GTIDCurrentPos = "0-1-110", "0-1-110", "0-1-110"
		}
	})
	time.Sleep(time.Second)
	f.kill(p, down)
	waitFailovers(t, j, 1)
}

// waitFailovers waits (virtual time) until n failovers ended.
func waitFailovers(t *testing.T, j *memJournal, n int) {
	t.Helper()
	for range 600 {
		time.Sleep(50 * time.Millisecond)
		if strings.Count(strings.Join(j.types(), "\n"), EventFailoverDone+" ") >= n {
			return
		}
	}
	t.Fatalf("fewer than %d failovers ended; journal:\n%s", n, strings.Join(j.types(), "\n"))
}

// order checks that want appear in calls in this order.
func order(t *testing.T, calls []string, want ...string) {
	t.Helper()
	at := -1
	for _, w := range want {
		i := slices.Index(calls[at+1:], w)
		if i < 0 {
			t.Fatalf("calls %v: %q missing or out of order (want %v in order)", calls, w, want)
		}
		at += i + 1
	}
}

// DESIGN.md §6.1 (a failed step leaves the cluster writable somewhere),
// docs/design.md §9.33: the only replica holding the newest transactions
// cannot apply them (its applier is stopped), and the old primary is
// alive but unseen by the fleet. The failover stops the IO threads and
// fences the old primary, fails in the catch-up, and gives the cluster
// back: IO threads first, then read_only=OFF; nothing is promoted, and
// its undo intent supersedes the stop-io intent.
func TestMySQLFailoverThatCannotCatchUpIsUndone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p, r1, r2 = "10.0.1.1:3306", "10.0.1.2:3306", "10.0.1.3:3306"
		f := newMyFleet(p, 100, r1, r2)
		m, j, router, stop := myMonitor(t, f, p, r1, r2)
		f.stallAndKill(t, j, p, r1, false, true)
		stop()

		calls := f.calls.all()
		// The fence runs in the background: before the undo, in any
		// order with the catch-up.
		order(t, calls, "stop-io "+r1, "wait-applied "+r1, "start-io "+r1, "unfence "+p)
		order(t, calls, "stop-io "+r2, "start-io "+r2, "unfence "+p)
		order(t, calls, "fence "+p, "start-io "+r2, "unfence "+p)
		for _, c := range calls {
			if strings.HasPrefix(c, "promote ") {
				t.Errorf("%s: nothing may be promoted", c)
			}
		}
		if it, _ := m.ag.LastIntent(); it.Step != promote.StepUndo || it.Target != p {
			t.Errorf("last intent %+v, want the undo of %s", it, p)
		}
		if e, _ := router.current("msg"); e.Primary != p {
			t.Errorf("route %+v moved", e)
		}
		f.set(func(nodes map[string]*myNode) {
			if nodes[p].facts.ReadOnly {
				t.Errorf("the old primary is still read-only after the undo")
			}
		})
	})
}

// docs/design.md §9.33: when the old primary is gone (admin connections
// refused), a failed failover restarts no IO thread (in GTID mode START
// SLAVE IO_THREAD would discard the relay log, the only copy of what it
// acknowledged); once it answers again, the steward undoes the detach the
// stop-io intent records.
func TestMySQLFailedFailoverKeepsTheDetachUntilThePrimaryReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p, r1, r2 = "10.0.1.1:3306", "10.0.1.2:3306", "10.0.1.3:3306"
		f := newMyFleet(p, 100, r1, r2)
		m, j, _, stop := myMonitor(t, f, p, r1, r2)
		f.stallAndKill(t, j, p, r1, true, true)
		before := len(f.calls.all())
		for _, c := range f.calls.all() {
			if strings.HasPrefix(c, "start-io ") || strings.HasPrefix(c, "promote ") {
				t.Fatalf("%s with the old primary gone (calls %v)", c, f.calls.all())
			}
		}

		// It comes back, unfenced (the fence never reached it).
		f.set(func(nodes map[string]*myNode) { nodes[p].probeDown, nodes[p].adminDown = false, false })
		for range 400 {
			time.Sleep(50 * time.Millisecond)
			if slices.Contains(f.calls.all(), "start-io "+r2) && slices.Contains(f.calls.all(), "start-io "+r1) {
				break
			}
		}
		stop()
		after := f.calls.all()[before:]
		order(t, after, "start-io "+r1)
		order(t, after, "start-io "+r2)
		if slices.Contains(after, "unfence "+p) {
			t.Errorf("unfenced %s, which was never fenced (calls %v)", p, after)
		}
		if it, _ := m.ag.LastIntent(); it.Step != promote.StepUndo {
			t.Errorf("last intent %+v, want the steward's undo", it)
		}
	})
}

// DESIGN.md §6.5, docs/design.md §9.37: the ranking read probes; once the
// IO threads stopped, r1 turns out to have received more than r2, which
// the probes preferred. The failover promotes r1, the one that has
// everything, and repoints r2 to it.
func TestMySQLFailoverRanksAgainOnceTheIOThreadsStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p, r1, r2 = "10.0.1.1:3306", "10.0.1.2:3306", "10.0.1.3:3306"
		f := newMyFleet(p, 100, r1, r2)
		_, j, router, stop := myMonitor(t, f, p, r1, r2)
		f.set(func(nodes map[string]*myNode) {
			nodes[r2].channel().GTIDIOPos = "0-1-105"
			nodes[r1].onStopIO = func(n *myNode) { n.channel().GTIDIOPos = "0-1-110" } // sent just before the stop
		})
		time.Sleep(time.Second)
		f.kill(p, true)
		waitFailovers(t, j, 1)
		stop()
		calls := f.calls.all()
		order(t, calls, "stop-io "+r2, "wait-applied "+r1, "promote "+r1, "repoint "+r1+" on "+r2)
		if slices.Contains(calls, "promote "+r2) {
			t.Errorf("promoted %s, which lacks what %s received (calls %v)", r2, r1, calls)
		}
		if e, _ := router.current("msg"); e.Primary != r1 {
			t.Errorf("route %+v, want %s", e, r1)
		}
	})
}

// The old primary comes back without the transactions its lagging
// replica received (it lost its binlog tail, or restarted from an older
// copy) and read-only, as nodes start: the steward's undo-detach leaves
// that replica's IO thread stopped (restarting it would discard the only
// copy) and does not unfence the primary; a person decides.
func TestMySQLUndoDetachKeepsWhatThePrimaryLacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p, r1, r2 = "10.0.1.1:3306", "10.0.1.2:3306", "10.0.1.3:3306"
		f := newMyFleet(p, 100, r1, r2)
		m, j, _, stop := myMonitor(t, f, p, r1, r2)
		f.stallAndKill(t, j, p, r1, true, false)
		before := len(f.calls.all())
		f.set(func(nodes map[string]*myNode) {
			nodes[p].probeDown, nodes[p].adminDown, nodes[p].facts.ReadOnly = false, false, true // at 0-1-100
		})
		readOnlyRaised := func() bool {
			for _, c := range m.view.Load().Conditions {
				if c.Name == CondPrimaryReadOnly && c.Instance == p && c.Severity == SeverityCritical {
					return true
				}
			}
			return false
		}
		for range 200 {
			time.Sleep(50 * time.Millisecond)
			if strings.Contains(strings.Join(j.types(), "\n"), `"kind":"undo-detach"`) && readOnlyRaised() {
				break
			}
		}
		stop()
		// Nobody unfences it: the cluster takes no writes, and says so.
		if !readOnlyRaised() {
			t.Errorf("no PrimaryReadOnly for %s: %+v", p, m.view.Load().Conditions)
		}
		after := f.calls.all()[before:]
		if slices.Contains(after, "start-io "+r1) || slices.Contains(after, "unfence "+p) {
			t.Errorf("calls %v: restarted %s, which holds what %s lacks, or unfenced %s", after, r1, p, p)
		}
		if !slices.Contains(after, "position "+r1) {
			t.Errorf("calls %v: the steward never looked at %s", after, r1)
		}
	})
}
