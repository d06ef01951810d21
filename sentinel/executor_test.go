package sentinel

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/promote/route"
)

// fakeAdmin acts on the fake fleet as promote/redisnode acts on Redis: a
// node that is down refuses connections. Every call is logged in order.
type fakeAdmin struct {
	f    *fakeFleet
	addr string
	log  *callLog
	hung map[string]bool // down nodes that time out instead of refusing
}

type callLog struct {
	mu    sync.Mutex
	calls []string
	at    map[string]time.Time // first time each call was made (virtual time)
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	if _, ok := l.at[s]; !ok {
		l.at[s] = time.Now()
	}
}

func (l *callLog) when(s string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.at[s]
}

func (l *callLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

func (a *fakeAdmin) do(what string, fn func()) error {
	a.f.mu.Lock()
	down := a.f.down[a.addr]
	if !down && fn != nil {
		fn()
	}
	a.f.mu.Unlock()
	if down && a.hung[a.addr] {
		return fmt.Errorf("%s %s: %w", what, a.addr, os.ErrDeadlineExceeded)
	}
	if down {
		return fmt.Errorf("%s %s: %w", what, a.addr, errRefused)
	}
	a.log.add(what + " " + a.addr)
	return nil
}

func (a *fakeAdmin) KillOtherSessions(context.Context) (int, error) {
	return 0, a.do("kill-sessions", nil)
}
func (a *fakeAdmin) PauseWrites(context.Context, time.Duration) error { return a.do("pause", nil) }
func (a *fakeAdmin) Unpause(context.Context) error                    { return a.do("unpause", nil) }
func (a *fakeAdmin) Promote(context.Context, time.Duration) (redisnode.Role, error) {
	err := a.do("promote", func() {
		a.f.role[a.addr], a.f.primary[a.addr], a.f.writable[a.addr] = probe.RolePrimary, "", true
		if r := a.f.redis[a.addr]; r != nil {
			r.ReplID2, r.SecondOffset, r.ReplID = r.ReplID, r.ReplicaOffset, "new-"+a.addr
		}
	})
	return redisnode.Role{Role: "master"}, err
}
func (a *fakeAdmin) ReplicaOf(_ context.Context, primary string) error {
	return a.do("replicaof "+primary, func() {
		a.f.role[a.addr], a.f.primary[a.addr], a.f.writable[a.addr] = probe.RoleReplica, primary, false
	})
}
func (a *fakeAdmin) Role(context.Context) (redisnode.Role, error) {
	var r redisnode.Role
	err := a.do("role", func() {
		r.Role = "slave"
		if a.f.role[a.addr] == probe.RolePrimary {
			r.Role = "master"
		}
	})
	return r, err
}
func (a *fakeAdmin) SetSelfFence(_ context.Context, n int, lag time.Duration) error {
	return a.do(fmt.Sprintf("self-fence %d %v", n, lag), nil)
}
func (a *fakeAdmin) SetHeartbeat(context.Context, time.Duration) error { return a.do("heartbeat", nil) }
func (a *fakeAdmin) KillClients(context.Context) (int, error)          { return 0, a.do("client-kill", nil) }
func (a *fakeAdmin) WaitReplicas(_ context.Context, want int, _, _ time.Duration) (int, error) {
	n := 0
	err := a.do("wait-replicas", func() {
		for addr, p := range a.f.primary {
			if p == a.addr && !a.f.down[addr] {
				n++
			}
		}
	})
	return min(n, want), err
}
func (a *fakeAdmin) Close() error { return nil }

// fakeRouter is the routing Redis in memory, with the compare-and-set's
// epoch rule.
type fakeRouter struct {
	mu      sync.Mutex
	entries map[string]route.Entry
	writes  []route.Entry
	at      []time.Time // when each write was made (virtual time)
}

func (r *fakeRouter) Write(_ context.Context, e route.Entry, _ string) (route.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.entries[e.Cluster]; ok && (cur.Epoch > e.Epoch || cur.Epoch == e.Epoch && cur.Primary != e.Primary) {
		return route.Result{Refused: "older", Stored: cur}, nil
	}
	r.entries[e.Cluster] = e
	r.writes = append(r.writes, e)
	r.at = append(r.at, time.Now())
	return route.Result{Written: true, Stored: e}, nil
}

func (r *fakeRouter) Read(_ context.Context, cluster string) (route.Entry, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[cluster]
	return e, ok, nil
}

func (r *fakeRouter) current(cluster string) (route.Entry, bool) {
	e, ok, _ := r.Read(context.Background(), cluster)
	return e, ok
}

// The executor in virtual time, with the fleet and the routing Redis
// faked: the steward commits the seed and routes it; kill -9 of the
// primary is failed over in the order of DESIGN.md §6.1 (promote the most
// advanced replica, repoint the other, self-fence, commit, route) with no
// write to the dead primary succeeding, and the route moves to a higher
// epoch exactly once.
func TestExecutorFailsOverInOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fenceWait string
		hung      bool // the old primary times out instead of refusing
	}{
		{"fast, refused", "fast", false},
		{"strict, refused: confirmed fenced at once", "strict", false},
		{"strict, hung: the fence window", "strict", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testExecutorOrder(t, tc.fenceWait, tc.hung) })
	}
}

func testExecutorOrder(t *testing.T, fenceWait string, hung bool) {
	synctest.Test(t, func(t *testing.T) {
		const p, r1, r2 = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
		fleet := newFakeFleet()
		fleet.role[p], fleet.writable[p] = probe.RolePrimary, true
		fleet.replicas[p] = []string{r1, r2}
		settings := &probe.RedisSettings{MinReplicasToWrite: 1, MinReplicasMaxLagSeconds: 10, PingReplicaPeriodSeconds: 1}
		fleet.redis[p] = &probe.RedisFacts{ReplID: "old", Offset: 1000, SecondOffset: -1, LastIOSecondsAgo: -1, Settings: settings}
		for addr, off := range map[string]int64{r1: 900, r2: 1000} {
			fleet.role[addr], fleet.primary[addr] = probe.RoleReplica, p
			fleet.redis[addr] = &probe.RedisFacts{ReplID: "old", Offset: off, ReplicaOffset: off, SecondOffset: -1, LinkUp: true,
				LastIOSecondsAgo: 0, Priority: 100, Settings: settings}
		}
		calls := &callLog{}
		router := &fakeRouter{entries: map[string]route.Entry{}}
		cfg := testConfig(t.TempDir())
		cfg.Clusters = cfg.Clusters[:1]
		cfg.Clusters[0].FenceWait = fenceWait
		cfg.Clusters[0].SelfFence.MaxLag = 10 * time.Second
		m, j := testMonitor(t, cfg, fleet, func(d *Daemon) { d.executors = true })
		m.router = router
		m.newAdmin = func(addr string) redisAdmin {
			return &fakeAdmin{f: fleet, addr: addr, log: calls, hung: map[string]bool{p: hung}}
		}
		stop := runMonitor(t, m)

		for range 100 {
			time.Sleep(100 * time.Millisecond)
			if e, ok := router.current("sessions"); ok && e.Primary == p {
				break
			}
		}
		seed, ok := router.current("sessions")
		if !ok || seed.Primary != p || seed.Epoch == 0 {
			t.Fatalf("the steward did not route the seed: %+v (calls %v)", seed, calls.all())
		}

		before := len(calls.all())
		fleet.set(func() {
			fleet.down[p] = true
			for _, a := range []string{r1, r2} {
				fleet.redis[a].LinkUp, fleet.redis[a].LastIOSecondsAgo, fleet.redis[a].LinkDownSinceSeconds = false, -1, 1
			}
		})
		for range 400 {
			time.Sleep(50 * time.Millisecond)
			if e, ok := router.current("sessions"); ok && e.Primary != p {
				break
			}
		}
		stop()
		repointedAt := calls.when("replicaof " + r2 + " " + r1)
		var routedAt time.Time
		for i, w := range router.writes {
			if w.Primary != p {
				routedAt = router.at[i]
				break
			}
		}
		// Virtual time: the window is exact, not a flaky wall-clock bound.
		window := routedAt.Sub(repointedAt)
		switch {
		case hung && fenceWait == "strict" && window < 11*time.Second:
			t.Errorf("strict with a hung old primary routed %v after the last detach, want at least max_lag 10s + 1s", window)
		case (!hung || fenceWait == "fast") && window > 2*time.Second:
			t.Errorf("routed %v after the last detach, want at once (old primary refused, or fast)", window)
		}

		moved, _ := router.current("sessions")
		if moved.Primary != r2 || moved.Epoch <= seed.Epoch {
			t.Fatalf("route %+v, want %s (the most advanced replica) above epoch %d; journal:\n%s", moved, r2, seed.Epoch,
				strings.Join(j.types(), "\n"))
		}
		got := calls.all()[before:]
		order := []string{"promote " + r2, "replicaof " + r2 + " " + r1, "self-fence 1 10s " + r2, "client-kill " + r2}
		at := -1
		for _, want := range order {
			i := slices.Index(got, want)
			if i < 0 || i < at {
				t.Fatalf("calls %v: %q missing or out of order (want %v)", got, want, order)
			}
			at = i
		}
		for _, c := range got {
			if strings.HasSuffix(c, " "+p) {
				t.Errorf("a call to the dead primary succeeded: %s", c)
			}
		}
		var steps []string
		for _, e := range j.entries {
			if e.Type == EventStep {
				var d struct {
					Step string `json:"step"`
					Err  string `json:"err"`
				}
				_ = json.Unmarshal(e.Detail, &d)
				if d.Err == "" {
					steps = append(steps, d.Step)
				}
			}
		}
		steps = steps[slices.Index(steps, "promote"):] // after the seed's route
		iCommit, iRoute := slices.Index(steps, "commit"), slices.Index(steps, "route")
		if iCommit < 0 || iRoute < 0 || iRoute < iCommit {
			t.Errorf("journaled steps %v: want promote, then commit, then route", steps)
		}
		promotions := 0
		for _, w := range router.writes {
			if w.Primary != p {
				promotions++
			}
		}
		if promotions != 1 {
			t.Errorf("the route moved %d times, want once: %+v", promotions, router.writes)
		}
	})
}
