package failover

import (
	"context"
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

// (a) kill -9 of the primary: exactly one promotion, of a replica that has
// every acknowledged write; the route moves at a higher epoch, the other
// replica follows the new primary, and no acknowledged write is lost.
func TestKillPrimaryFailsOverWithoutLosingAcknowledgedWrites(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	w := startWriter(t, e.routing.Addr, e.o.cluster)
	w.waitAcked(t, "writes acknowledged on the seed primary", e.top.Primary.Addr, 200)

	e.top.Primary.Kill(t)

	newPrimary, other := e.waitNewPrimary(seedEpoch)
	e.waitFollows(other, newPrimary)
	w.waitAcked(t, "writes acknowledged on the new primary", newPrimary.Addr, 100)
	w.halt()
	if lost := w.lost(t, newPrimary.Addr); len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v (%s)", len(lost), lost[:min(10, len(lost))], w)
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
	t.Logf("writer: %s", w)
	e.logTimeline()
}

// waitNewPrimary waits until the route names one of the replicas above
// minEpoch and that replica answers as a primary; it returns it and the
// other replica.
func (e *env) waitNewPrimary(minEpoch uint64) (*harness.Redis, *harness.Redis) {
	e.t.Helper()
	return e.waitNewPrimaryOf(0, minEpoch)
}

// waitNewPrimaryOf is waitNewPrimary for the i-th cluster.
func (e *env) waitNewPrimaryOf(i int, minEpoch uint64) (*harness.Redis, *harness.Redis) {
	e.t.Helper()
	top, name := e.tops[i], e.names[i]
	var np, other *harness.Redis
	harness.Eventually(e.t, deadline, "the route of "+name+" moves to a promoted replica", func() error {
		e.checkAlive()
		h, err := e.routeOf(name)
		if err != nil {
			return err
		}
		for j, r := range top.Replicas {
			if h["primary"] == r.Addr {
				if rl, _ := role(r); rl != "master" {
					return fmt.Errorf("route names %s, which answers as %q", r.Addr, rl)
				}
				np, other = r, top.Replicas[1-j]
				return nil
			}
		}
		return fmt.Errorf("route is %v", h)
	})
	e.waitRouteOf(name, "the route's epoch is higher", np.Addr, minEpoch)
	return np, other
}

// (i) the routing Redis flushed: the steward writes the route again with
// the committed epoch, never an older one.
func TestFlushedRoutingRedisIsRewrittenAtTheCommittedEpoch(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	epoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	if err := e.routing.Client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("flush the routing redis: %v", err)
	}
	got := e.waitRoute("the route is written again", e.top.Primary.Addr, epoch-1)
	if got != epoch {
		t.Errorf("route rewritten at epoch %d, want the committed epoch %d", got, epoch)
	}
}

// (f) the routing Redis down during the failover: the failover goes on
// (promotion, commit) and the route is written once it answers again.
func TestRoutingRedisDownDuringFailoverRouteWrittenWhenItReturns(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)

	e.routing.Pause(t)
	e.top.Primary.Kill(t)
	var promoted string
	harness.Eventually(t, deadline, "every sentinel believes in a promoted replica", func() error {
		e.checkAlive()
		for _, m := range e.members {
			v, err := e.view(m)
			if err != nil {
				return err
			}
			if v.Primary == e.top.Primary.Addr || (promoted != "" && v.Primary != promoted) {
				return fmt.Errorf("%s believes in %s", m.id, v.Primary)
			}
			promoted = v.Primary
		}
		return nil
	})
	if r, _ := role(e.nodeAt(promoted)); r != "master" {
		t.Fatalf("the committed primary %s answers as %q, want master", promoted, r)
	}
	e.routing.Resume(t)
	e.waitRoute("the route is written once the routing redis answers", promoted, seedEpoch)
}

// nodeAt is the node listening at addr.
func (e *env) nodeAt(addr string) *harness.Redis {
	for _, r := range e.top.All() {
		if r.Addr == addr {
			return r
		}
	}
	e.t.Fatalf("no node at %s", addr)
	return nil
}

// (b) SIGSTOP of the primary: a failover; after SIGCONT the old primary is
// demoted. A stale client that keeps writing to the old primary whatever
// the route says gets no write acknowledged there once it resumes: with
// the self-fence and fence_wait strict, the replicas were detached and the
// window waited out before the route moved.
func TestPausedPrimaryIsFailedOverAndDemotedWhenItResumes(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	e.waitSelfFence(old)
	w := startWriter(t, e.routing.Addr, e.o.cluster)
	stale := startStaleWriter(t, old.Addr)
	w.waitAcked(t, "writes acknowledged on the seed primary", old.Addr, 100)

	old.Pause(t)
	newPrimary, _ := e.waitNewPrimary(seedEpoch)
	resumed := stale.mark()
	old.Resume(t)

	e.waitFollows(old, newPrimary)
	w.waitAcked(t, "writes acknowledged on the new primary", newPrimary.Addr, 100)
	w.halt()
	stale.halt()
	if lost := w.lost(t, newPrimary.Addr); len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v (%s)", len(lost), lost[:min(10, len(lost))], w)
	}
	if n := stale.ackedSince(resumed); n > 0 {
		t.Errorf("the old primary acknowledged %d writes after it resumed (split brain); stale writer: %s", n, stale)
	}
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
	t.Logf("writer: %s; stale writer: %s", w, stale)
	e.logTimeline()
}

// waitSelfFence waits until the steward has set the self-fence on r: strict
// relies on it (without it the route waits, CRITICAL, for a person).
func (e *env) waitSelfFence(r *harness.Redis) {
	e.t.Helper()
	harness.Eventually(e.t, deadline, "the steward sets the self-fence on "+r.Addr, func() error {
		v, err := r.Client(e.t).ConfigGet(context.Background(), "min-replicas-to-write").Result()
		if err != nil {
			return err
		}
		if v["min-replicas-to-write"] != "1" {
			return fmt.Errorf("min-replicas-to-write is %q", v["min-replicas-to-write"])
		}
		return nil
	})
}

// (h) two clusters failing at once are handled independently: each gets
// its own election, promotion and route.
func TestTwoClustersFailingAtOnceFailOverIndependently(t *testing.T) {
	e := start(t, opts{second: true})
	defer e.dumpLogs()
	var seeds []uint64
	for i, name := range e.names {
		seeds = append(seeds, e.waitRouteOf(name, "the steward routes the seed primary of "+name, e.tops[i].Primary.Addr, 0))
	}
	for _, top := range e.tops {
		top.Primary.Kill(t)
	}
	for i, name := range e.names {
		np, other := e.waitNewPrimaryOf(i, seeds[i])
		harness.Eventually(t, deadline, "the other replica of "+name+" follows the new primary", func() error {
			if r, m := role(other); r != "slave" || m != np.Addr {
				return fmt.Errorf("%s: role %s of %q", other.Addr, r, m)
			}
			return nil
		})
	}
	if n := e.logCount("failover: promoted"); n != 2 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 2 (one per cluster)", n)
	}
}

// (g) a primary restarted empty inside the detection window is never
// routed to: its replication history broke, so the fleet treats it as
// failed and promotes a replica that still has the data. The nodes run with
// a full-sync delay (repl-diskless-sync-delay), which keeps the replicas'
// data while the restarted primary waits to send them its empty dataset:
// the setting an operator should use where a primary may restart empty.
func TestPrimaryRestartedEmptyIsNeverRoutedTo(t *testing.T) {
	e := start(t, opts{redisConfig: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 5"}})
	defer e.dumpLogs()
	old := e.top.Primary
	seedEpoch := e.waitRoute("the steward routes the seed primary", old.Addr, 0)
	w := startWriter(t, e.routing.Addr, e.o.cluster)
	w.waitAcked(t, "writes acknowledged on the seed primary", old.Addr, 200)
	w.halt() // the restarted node answers at the same address: judge the data, not the writer's view

	old.Kill(t)
	old.Restart(t) // empty: nothing is persisted

	newPrimary, _ := e.waitNewPrimary(seedEpoch)
	if lost := w.lost(t, newPrimary.Addr); len(lost) > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v (%s)", len(lost), lost[:min(10, len(lost))], w)
	}
	e.waitFollows(old, newPrimary)
	if n := e.logCount("condition=PrimaryLineageBroken"); n == 0 {
		t.Errorf("no sentinel raised PrimaryLineageBroken")
	}
	e.logTimeline()
}

// (c) a sentinel cut off from the fleet never promotes: it sees the
// primary down but cannot reach a quorum or a majority; the two others
// fail over, and once the link is back it learns their config.
func TestSentinelCutOffFromTheFleetNeverPromotes(t *testing.T) {
	e := start(t, opts{faults: true})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	cut := e.members[0]
	cut.s.SetFaults(t, harness.Faults{Isolate: true})
	harness.Eventually(t, deadline, cut.id+" stops hearing the others", func() error {
		v, err := e.view(cut)
		if err != nil {
			return err
		}
		if !strings.Contains(v.Agreement.Tally, "s2 stale") || !strings.Contains(v.Agreement.Tally, "s3 stale") {
			return fmt.Errorf("%s's tally: %s", cut.id, v.Agreement.Tally)
		}
		return nil
	})

	e.top.Primary.Kill(t)
	np, _ := e.waitNewPrimary(seedEpoch)
	if n := strings.Count(cut.s.Logs(), "failover: starting"); n != 0 {
		t.Errorf("%s, cut off from the fleet, started %d failovers", cut.id, n)
	}
	cut.s.SetFaults(t, harness.Faults{})
	harness.Eventually(t, deadline, cut.id+" learns the new config once the link is back", func() error {
		v, err := e.view(cut)
		if err != nil {
			return err
		}
		if v.Primary != np.Addr {
			return fmt.Errorf("%s believes in %s", cut.id, v.Primary)
		}
		return nil
	})
	if n := e.logCount("failover: promoted"); n != 1 {
		t.Errorf("%d promotions in the sentinels' logs, want exactly 1", n)
	}
}

// (d) every sentinel cut off from a primary that its replicas still
// reach: no failover, and UnreachablePrimaryWithHealthyReplicas is
// reported for a person.
func TestPrimaryCutOffFromTheFleetButNotItsReplicasIsNotFailedOver(t *testing.T) {
	e := start(t, opts{proxyPrimary: true})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.proxy.Addr(), 0)
	e.proxy.Cut()
	harness.Eventually(t, deadline, "every sentinel reports UnreachablePrimaryWithHealthyReplicas", func() error {
		for _, m := range e.members {
			v, err := e.view(m)
			if err != nil {
				return err
			}
			found := false
			for _, c := range v.Conditions {
				found = found || c.Name == sentinel.CondVantageBlocked
			}
			if !found {
				return fmt.Errorf("%s: state %s, conditions %+v", m.id, v.State, v.Conditions)
			}
		}
		return nil
	})
	// Hold the cut for several detection windows: still no failover.
	time.Sleep(10 * time.Second)
	h, err := e.route()
	if err != nil {
		t.Fatal(err)
	}
	if h["primary"] != e.proxy.Addr() || h["epoch"] != strconv.FormatUint(seedEpoch, 10) {
		t.Errorf("route moved while the replicas still saw the primary: %v", h)
	}
	for _, r := range e.top.Replicas {
		if rl, _ := role(r); rl != "slave" {
			t.Errorf("replica %s answers as %q: promoted", r.Addr, rl)
		}
	}
	if n := e.logCount("failover: starting"); n != 0 {
		t.Errorf("%d failovers started", n)
	}
	e.proxy.Restore()
}

// (e) the leader killed right after the promotion: the next leader rolls
// forward from the promote intent (the same replica), and no other replica
// is promoted.
func TestLeaderKilledAfterPromotionNextLeaderRollsForward(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crashed")
	e := start(t, opts{faults: true, env: []string{"IMSENTINEL_CRASH_AFTER_STEP=promote", "IMSENTINEL_CRASH_MARKER=" + marker}})
	e.mayExit = map[string]bool{"s1": true, "s2": true, "s3": true}
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	e.top.Primary.Kill(t)

	np, other := e.waitNewPrimary(seedEpoch)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no leader crashed after the promotion: %v", err)
	}
	crashed := 0
	for _, m := range e.members {
		if m.s.Exited() {
			crashed++
		}
	}
	if crashed != 1 {
		t.Fatalf("%d sentinels exited, want the one leader", crashed)
	}
	if n := e.logCount("rolling forward the promote intent"); n == 0 {
		t.Errorf("the next leader did not roll forward the promote intent")
	}
	for _, m := range e.members {
		for _, line := range strings.Split(m.s.Logs(), "\n") {
			if strings.Contains(line, "failover: promoted") && !strings.Contains(line, "new_primary="+np.Addr) {
				t.Errorf("%s promoted another replica: %s", m.id, line)
			}
		}
	}
	e.waitFollows(other, np)
	e.logTimeline()
}

// waitFollows waits until r answers as a replica of primary.
func (e *env) waitFollows(r, primary *harness.Redis) {
	e.t.Helper()
	harness.Eventually(e.t, deadline, r.Addr+" replicates "+primary.Addr, func() error {
		if rl, m := role(r); rl != "slave" || m != primary.Addr {
			return fmt.Errorf("%s: role %s of %q", r.Addr, rl, m)
		}
		return nil
	})
}
