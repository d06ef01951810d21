package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// rig is one system under test, started and ready for a fault: what the
// trial procedure (measureFailover) needs to know about it.
type rig struct {
	top *harness.RedisTopology
	// phase is the probe period: the fault falls at a random phase of it.
	phase time.Duration
	// resolver is how a client of this system finds the primary.
	resolver func() resolver
	// watch subscribes to the pushed route changes away from old.
	watch func(old string) (*routeWatch, error)
	srcs  []logSource
	parse func(id, line string) (event, bool)
	setup time.Duration
}

// runFailover is one trial of v: it starts the system, measures, and
// stops everything by its own PID before it returns.
func runFailover(b *testing.B, p profile, v variant, launcher string) failoverTrial {
	b.Helper()
	var rg rig
	var teardown func()
	if v.System == sysImsentinel {
		rg, teardown = setupIM(b, p, v.FenceWait)
	} else {
		rg, teardown = setupRS(b, p, launcher)
	}
	defer teardown()
	return measureFailover(b, v, rg)
}

// setupIM starts a routing Redis, a primary with two replicas and three
// imsentinels with the ci profile and the failover settings, and waits
// until the fresh data_dirs' abstention is over and the fleet has settled
// (imSettled: the seed primary routed and self-fenced, the agreement
// quiet).
func setupIM(b *testing.B, p profile, fenceWait string) (rig, func()) {
	b.Helper()
	start := time.Now()
	routing := harness.StartRedis(b, harness.RedisOptions{})
	rt := harness.StartRedisTopology(b, 2, harness.RedisOptions{})
	primary := rt.Primary.Addr
	var ms []*imMember
	teardown := func() {
		stopIMFleet(b, ms)
		for _, r := range append(rt.All(), routing) {
			r.Kill(b)
		}
	}
	ok := false
	defer func() {
		if !ok { // b.Fatal on the way: stop what was started
			teardown()
		}
	}()
	ms, launched := startIMFleet(b, p, func(m *imMember, ms []*imMember) string {
		return imFailoverConfig(p, m, ms, rt, routing.Addr, fenceWait)
	})
	harness.Eventually(b, readyTimeout, "the imsentinel fleet is ready", func() error { return imReady(p, ms, primary) })
	waitAbstention(p, launched)
	harness.Eventually(b, readyTimeout, "the imsentinel fleet has settled (seed routed, self-fenced, agreement quiet)",
		func() error { return imSettled(p, ms, routing.Addr, rt.Primary, 2) })
	ok = true
	return rig{
		top:      rt,
		phase:    p.IM.ProbeInterval,
		resolver: func() resolver { return newRouteResolver(routing.Addr, imCluster) },
		watch: func(old string) (*routeWatch, error) {
			return watchRoutes([]string{routing.Addr}, "imsentinel:routes", imRouteChange(imCluster, old))
		},
		srcs:  imSources(ms),
		parse: func(id, line string) (event, bool) { return parseImsentinel(id, primary, line) },
		setup: time.Since(start),
	}, teardown
}

// imFailoverConfig is one member's YAML for a failover trial: the
// profile's timings, a routing Redis, and the cluster with its replicas,
// fence_wait, self-fence and heartbeat (as test/failover configures them).
func imFailoverConfig(p profile, m *imMember, ms []*imMember, rt *harness.RedisTopology, routing, fenceWait string) string {
	var replicas []string
	for _, r := range rt.Replicas {
		replicas = append(replicas, strconv.Quote(r.Addr))
	}
	return imConfig(p, m, ms, fmt.Sprintf("routing: {address: %q}\n", routing), fmt.Sprintf(`  - name: %s
    kind: redis
    primary: %q
    replicas: [%s]
    quorum: %d
    fence_wait: %s
    self_fence: {enabled: true, min_replicas: 1, max_lag: 2s}
    heartbeat: {manage: true, period: 1s}
`, imCluster, rt.Primary.Addr, strings.Join(replicas, ", "), quorum, fenceWait))
}

// setupRS starts a primary with two replicas and three Redis Sentinels
// (the ci profile) and waits until they know each other.
func setupRS(b *testing.B, p profile, launcher string) (rig, func()) {
	b.Helper()
	start := time.Now()
	rt := harness.StartRedisTopology(b, 2, harness.RedisOptions{})
	var ms []*rsMember
	teardown := func() {
		stopRSFleet(b, ms)
		for _, r := range rt.All() {
			r.Kill(b)
		}
	}
	ok := false
	defer func() {
		if !ok {
			teardown()
		}
	}()
	ms = startRSFleet(b, p, launcher, rt.Primary)
	harness.Eventually(b, readyTimeout, "the Redis Sentinels know each other", func() error { return rsReady(ms) })
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", m.port))
	}
	ok = true
	return rig{
		top:      rt,
		phase:    time.Second, // Redis Sentinel PINGs once a second
		resolver: func() resolver { return newSentinelResolver(addrs, masterName) },
		watch: func(string) (*routeWatch, error) {
			return watchRoutes(addrs, "+switch-master", switchMaster(masterName))
		},
		srcs:  rsSources(ms),
		parse: func(id, line string) (event, bool) { return parseRedisSentinel(id, masterName, line) },
		setup: time.Since(start),
	}, teardown
}

// measureFailover runs the fault and the measurements of one trial (the
// procedure at the top of failover_test.go). Whatever goes wrong after
// the fault is recorded in the trial's Error, not fatal: one bad trial
// must not throw away a long run.
func measureFailover(b *testing.B, v variant, rg rig) (ft failoverTrial) {
	b.Helper()
	old := rg.top.Primary
	ft = failoverTrial{Variant: v.Key, OldPrimary: old.Addr, Metrics: map[string]float64{}, SetupSeconds: rg.setup.Seconds()}
	fail := func(format string, args ...any) failoverTrial {
		ft.Error = fmt.Sprintf(format, args...)
		fmt.Printf("    %s trial failed: %s; log tails:\n%s", v.Key, ft.Error, tails(rg.srcs, 15))
		return ft
	}

	w := startWriter("w:", rg.resolver())
	defer w.halt()
	if err := waitFor(failoverTimeout, func() error {
		if n := w.ackedOn(old.Addr); n < seedWrites {
			return fmt.Errorf("%d writes acknowledged on the seed primary (%+v)", n, w.stats())
		}
		return nil
	}); err != nil {
		return fail("before the fault: %v", err)
	}
	var stale *writer
	if v.Fault == faultStop {
		stale = startStaleWriter("stale:", old.Addr)
		defer stale.halt()
		if err := waitFor(failoverTimeout, func() error {
			if n := stale.ackedOn(old.Addr); n < staleSeedWrites {
				return fmt.Errorf("stale writer: %d writes acknowledged", n)
			}
			return nil
		}); err != nil {
			return fail("before the fault: %v", err)
		}
	}
	rw, err := rg.watch(old.Addr)
	if err != nil {
		return fail("before the fault: %v", err)
	}
	defer rw.close()

	// A random phase against the probes, as a real fault's.
	time.Sleep(rand.N(rg.phase))
	fault := time.Now()
	ft.Fault = fault
	if v.Fault == faultKill {
		old.Kill(b)
	} else {
		old.Pause(b)
	}

	select {
	case <-rw.seen:
	case <-time.After(failoverTimeout):
		evs, _ := readAll(rg.srcs, rg.parse)
		ft.Events = eventsFrom(evs, fault.Add(-time.Second))
		return fail("no route change pushed within %v of the fault", failoverTimeout)
	}
	routed, np := rw.first()
	ft.NewPrimary = np
	ft.Metrics["fault_to_route"] = msSince(fault, routed)
	var resumed time.Time
	if v.Fault == faultStop {
		resumed = time.Now()
		old.Resume(b)
	}

	if err := waitFor(failoverTimeout, func() error {
		if w.firstAckOn(np).IsZero() {
			return fmt.Errorf("no write acknowledged on %s yet (%+v)", np, w.stats())
		}
		return nil
	}); err != nil {
		return fail("after the route moved: %v", err)
	}
	ft.Metrics["fault_to_first_ack"] = msSince(fault, w.firstAckOn(np))
	if at, to := w.movedAt(old.Addr); !at.IsZero() {
		ft.Metrics["fault_to_client_switch"] = msSince(fault, at)
		if to != np {
			return fail("the writer moved to %s, the pushed route names %s", to, np)
		}
	}

	if v.Fault == faultStop {
		if err := waitFor(demoteTimeout, func() error {
			role, master, err := roleOf(old.Addr)
			if err != nil || role != "slave" || master != np {
				return fmt.Errorf("old primary %s: role %q of %q (%v)", old.Addr, role, master, err)
			}
			return nil
		}); err != nil {
			return fail("after SIGCONT: %v", err)
		}
		ft.Metrics["resume_to_demoted"] = msSince(resumed, time.Now())
	}

	base := w.ackedOn(np)
	if err := waitFor(failoverTimeout, func() error {
		if n := w.ackedOn(np); n < base+afterWrites {
			return fmt.Errorf("%d writes acknowledged on %s, waiting for %d", n, np, base+afterWrites)
		}
		return nil
	}); err != nil {
		return fail("after the first acknowledged write: %v", err)
	}

	var events []event
	var lt logTimes
	if err := waitFor(logTimeout, func() error {
		var err error
		if events, err = readAll(rg.srcs, rg.parse); err != nil {
			return err
		}
		if lt, err = analyzeFailover(fault, events); err != nil {
			return err
		}
		if _, ok := lt.Metrics["fault_to_route_log"]; !ok {
			return fmt.Errorf("no route line in the logs")
		}
		return nil
	}); err != nil {
		ft.Events = eventsFrom(events, fault.Add(-time.Second))
		return fail("the supervisors' logs: %v", err)
	}
	ft.Events, ft.Leader = eventsFrom(events, fault.Add(-time.Second)), lt.Leader
	for k, x := range lt.Metrics {
		ft.Metrics[k] = x
	}

	w.halt()
	ft.Writer = w.stats()
	acked := w.ackedWrites()
	lost, err := missingOn(np, "w:", acked)
	if err != nil {
		return fail("read back: %v", err)
	}
	ft.Metrics["lost_acked"] = float64(len(lost))
	ft.LostSample = lost[:min(len(lost), 20)]
	if stale != nil {
		// Split brain is what the old primary took after it resumed: it
		// can take nothing while stopped, and a write it answered just
		// before the SIGSTOP may reach the client a little after the
		// fault's timestamp.
		stale.halt()
		st := stale.stats()
		ft.Stale = &st
		ft.Resumed = resumed
		afterFault := setOKSince(stale.setOKWrites(), fault)
		ft.StaleAfterFault = afterFault[:min(len(afterFault), 50)]
		sbAcked := setOKSince(stale.ackedWrites(), resumed)
		ft.Metrics["split_brain_set_ok"] = float64(len(setOKSince(stale.setOKWrites(), resumed)))
		ft.Metrics["split_brain_acked"] = float64(len(sbAcked))
		gone, err := missingOn(np, "stale:", sbAcked)
		if err != nil {
			return fail("read back the stale writes: %v", err)
		}
		ft.Metrics["split_brain_surviving"] = float64(len(sbAcked) - len(gone))
	}
	return ft
}

// waitFor polls cond every 20 ms until it returns nil or timeout passes,
// and returns its last error then.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventsFrom keeps the events at or after t (the results file keeps a
// trial's events from just before its fault, not the start-up's).
func eventsFrom(evs []event, t time.Time) []event {
	var out []event
	for _, e := range evs {
		if !e.At.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// roleOf asks a node INFO replication: its role and, for a replica, the
// primary it follows.
func roleOf(addr string) (string, string, error) {
	c := benchClient(addr, time.Second)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", "", err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = v
		}
	}
	if kv["role"] == "slave" {
		return "slave", kv["master_host"] + ":" + kv["master_port"], nil
	}
	return kv["role"], "", nil
}

// readAll reads every supervisor's log with parse.
func readAll(srcs []logSource, parse func(id, line string) (event, bool)) ([]event, error) {
	var all []event
	for _, src := range srcs {
		evs, err := readEvents(src.s.LogPath, func(line string) (event, bool) { return parse(src.id, line) })
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

func tails(srcs []logSource, n int) string {
	var sb strings.Builder
	for _, src := range srcs {
		fmt.Fprintf(&sb, "--- %s (%s):\n%s\n", src.id, src.s.LogPath, tail(src.s.Logs(), n))
	}
	return sb.String()
}
