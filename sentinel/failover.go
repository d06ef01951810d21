package sentinel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/quorum"
)

// Journal entry types of the executors.
const (
	EventFailoverPlan = "failover-plan" // the ranking and the plan, before the first step
	EventStep         = "step"          // one step: its targets, outcome and duration
	EventFailoverDone = "failover-done" // the outcome of a failover
	EventSplitBrain   = "split-brain"   // writes an old primary may have acknowledged (fast, or a returning primary)
	EventRepair       = "repair"        // one steward repair and its outcome
)

// redisAdmin is what the executors do on one Redis node: promote/redisnode
// in production.
type redisAdmin interface {
	KillOtherSessions(ctx context.Context) (int, error)
	PauseWrites(ctx context.Context, d time.Duration) error
	Promote(ctx context.Context, poll time.Duration) (redisnode.Role, error)
	ReplicaOf(ctx context.Context, primary string) error
	Unpause(ctx context.Context) error
	Role(ctx context.Context) (redisnode.Role, error)
	SetSelfFence(ctx context.Context, minReplicas int, maxLag time.Duration) error
	SetHeartbeat(ctx context.Context, period time.Duration) error
	KillClients(ctx context.Context) (int, error)
	WaitReplicas(ctx context.Context, want int, maxLag, poll time.Duration) (int, error)
	Close() error
}

// routeWriter is the routing Redis: promote/route in production.
type routeWriter interface {
	Write(ctx context.Context, e route.Entry, reason string) (route.Result, error)
	Read(ctx context.Context, cluster string) (route.Entry, bool, error)
}

// Executor timing the config does not expose.
const (
	// promotePoll is how often ROLE is asked after REPLICAOF NO ONE: Redis
	// Sentinel waits for its next 1 s INFO here (notes/redis.md).
	promotePoll = 20 * time.Millisecond
	// gatePoll is how often the old primary is asked while the route waits
	// for it to be fenced.
	gatePoll = 200 * time.Millisecond
	// adminTimeout bounds dialing and each call of an admin connection;
	// the step's deadline bounds the whole step.
	adminTimeout = time.Second
	// leaseShortRetry is how often a step the lease does not cover yet
	// asks again, until the next renewal.
	leaseShortRetry = 50 * time.Millisecond
)

// failoverJob is everything a failover executor needs, gathered by the
// cluster goroutine when the lease is won: the executor reads nothing else
// of the monitor's state.
type failoverJob struct {
	epoch     uint64
	reason    quorum.Reason
	ranking   promote.Ranking
	plan      promote.Plan
	rollFrom  *quorum.Intent // the intent rolled forward, if any
	reachable []string       // the other replicas to repoint
	atRisk    []string       // replicas that could acknowledge for the old primary and are unreachable
	oldFence  promote.SelfFence
	selfFence promote.SelfFence // configured; MinReplicas 0 when disabled
	deadlines promote.Deadlines
	lease     time.Duration // remaining authority when the job was planned
}

// executor runs one task (a failover or a steward's repairs) under this
// sentinel's lease, in its own goroutine. Every write to a node or the
// route is preceded by an authorization from the cluster goroutine
// (DESIGN.md §5.6), and every irreversible one by its intent on a majority
// (§5.7).
type executor struct {
	m     *clusterMonitor
	epoch uint64

	mu     sync.Mutex
	nodes  map[string]redisAdmin
	mnodes map[string]mysqlAdmin
	// fenced names the nodes whose other-sentinel sessions were killed by
	// this holder: the first write there comes after it (§5.6).
	fenced map[string]bool
}

func newExecutor(m *clusterMonitor, epoch uint64) *executor {
	return &executor{m: m, epoch: epoch, nodes: map[string]redisAdmin{}, fenced: map[string]bool{}}
}

func (x *executor) node(addr string) redisAdmin {
	x.mu.Lock()
	defer x.mu.Unlock()
	n, ok := x.nodes[addr]
	if !ok {
		n = x.m.newAdmin(addr)
		x.nodes[addr] = n
	}
	return n
}

func (x *executor) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for addr, n := range x.nodes {
		if err := n.Close(); err != nil {
			x.m.log.Debug("close admin connection", "instance", addr, "err", err)
		}
	}
	for addr, n := range x.mnodes {
		if err := n.Close(); err != nil {
			x.m.log.Debug("close admin connection", "instance", addr, "err", err)
		}
	}
}

// first kills the other sentinels' admin sessions on addr before this
// holder's first write there (§5.6); once per node per task.
func (x *executor) first(ctx context.Context, addr string) error {
	return x.firstWith(ctx, addr, x.node(addr).KillOtherSessions)
}

// firstWith runs kill, the node kind's way of killing the other
// sentinels' admin sessions, once per node per task.
func (x *executor) firstWith(ctx context.Context, addr string, kill func(context.Context) (int, error)) error {
	x.mu.Lock()
	done := x.fenced[addr]
	x.mu.Unlock()
	if done {
		return nil
	}
	n, err := kill(ctx)
	if err != nil {
		return err // it names the node and what was being done
	}
	if n > 0 {
		x.m.log.Info("killed other sentinels' admin sessions before the first write", "instance", addr, "killed", n, "epoch", x.epoch)
	}
	x.mu.Lock()
	x.fenced[addr] = true
	x.mu.Unlock()
	return nil
}

// step asks for authority to start name with deadline (and records intent
// on a majority first, when set), then runs f under the deadline, and
// journals the outcome.
func (x *executor) step(ctx context.Context, name string, targets []string, deadline time.Duration,
	intent *quorum.Intent, f func(ctx context.Context) error) error {
	start := time.Now()
	err := x.m.authorize(ctx, name, deadline, intent)
	// The lease is renewed every third of its length while the task holds
	// it: a step whose deadline the rest does not cover waits for the next
	// renewal rather than being skipped (a long catch-up left the repoint
	// 6 ms short in test, and the other replica detached).
	for wait := time.Now().Add(x.m.agParams.Lease / 2); errors.Is(err, quorum.ErrLeaseShort) && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
		case <-time.After(leaseShortRetry):
		}
		if ctx.Err() != nil {
			break
		}
		err = x.m.authorize(ctx, name, deadline, intent)
	}
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, deadline)
		err = f(sctx)
		cancel()
	}
	detail := map[string]any{"step": name, "targets": targets, "epoch": x.epoch, "took_ms": time.Since(start).Milliseconds()}
	if err != nil {
		detail["err"] = err.Error()
		x.m.log.Warn("step failed", "step", name, "targets", targets, "epoch", x.epoch, "err", err)
	} else {
		x.m.log.Info("step done", "step", name, "targets", targets, "epoch", x.epoch, "took", time.Since(start))
		faultCrashAfter(name)
	}
	x.m.append(EventStep, time.Now(), detail)
	return err
}

// intent is a failover intent: every step names the new primary, so the
// next holder can roll forward from any of them (§5.7).
func (j *failoverJob) intent(step string) *quorum.Intent {
	return &quorum.Intent{Step: step, Target: j.plan.NewPrimary, OldPrimary: j.plan.OldPrimary}
}

// failoverOutcome is what a failover task reports to the cluster goroutine.
type failoverOutcome struct {
	committed bool   // the new config is on a majority
	routed    bool   // the route was written
	why       string // "" on success
	// loss is what a MySQL failover that promoted may have lost (§6.8).
	loss *promote.LossEstimate
	// primary is the replica promoted, once one was: a MySQL failover may
	// promote another than planned (ranked again after stop-io).
	primary string
}

// runRedisFailover carries out a Redis failover plan in the order of
// DESIGN.md §6.1. It stops at the first failure before the commit (the
// cluster stays writable where it was, or the next holder rolls forward
// from the promote intent); after the commit it goes on (roll forward).
func (x *executor) runRedisFailover(ctx context.Context, j *failoverJob) failoverOutcome {
	p := j.plan
	old, cur := p.OldPrimary, p.NewPrimary
	log := x.m.log.With("epoch", j.epoch, "old_primary", old, "new_primary", cur)
	log.Info("failover: starting", "fence_wait", p.FenceWait, "roll_forward", j.rollFrom != nil, "why", j.ranking.Why)

	// 1. Fence the old primary in the background: it is often
	// unreachable, and that must never delay the promotion.
	var bg sync.WaitGroup
	defer bg.Wait() // the background steps end by their deadlines
	fence := make(chan error, 1)
	bg.Go(func() {
		fence <- x.step(ctx, promote.StepFence, []string{old}, j.deadlines.Fence, nil, func(ctx context.Context) error {
			if err := x.first(ctx, old); err != nil {
				return err
			}
			return x.node(old).PauseWrites(ctx, j.lease)
		})
	})

	// 2. Promote and see it report master.
	err := x.step(ctx, promote.StepPromote, []string{cur}, j.deadlines.Promote, j.intent(promote.StepPromote), func(ctx context.Context) error {
		if err := x.first(ctx, cur); err != nil {
			return err
		}
		role, err := x.node(cur).Promote(ctx, promotePoll)
		if err != nil {
			return err
		}
		log.Info("failover: promoted", "offset", role.Offset)
		return nil
	})
	if err != nil {
		<-fence
		return failoverOutcome{why: "promote " + cur + ": " + err.Error() +
			" (the promote intent stays recorded: the next holder rolls forward or chooses again)"}
	}

	// 3. Demote the old primary in the background, once the promotion is
	// confirmed (before it the chosen replica still followed it).
	demoted := make(chan bool, 1)
	bg.Go(func() {
		<-fence
		err := x.step(ctx, promote.StepDemote, []string{old}, j.deadlines.Fence, j.intent(promote.StepDemote), func(ctx context.Context) error {
			if err := x.first(ctx, old); err != nil {
				return err
			}
			if role, err := x.node(old).Role(ctx); err == nil && role.Role == "master" {
				x.m.append(EventSplitBrain, time.Now(), map[string]any{"instance": old, "epoch": j.epoch,
					"offset": role.Offset, "detail": "the old primary's offset when it was demoted; writes past the promoted replica's offset are lost"})
			}
			if err := x.node(old).ReplicaOf(ctx, x.m.announce(cur)); err != nil {
				return err
			}
			// Replicating, it refuses writes: the pause has done its job
			// and would only hold back the sync from the new primary.
			return x.node(old).Unpause(ctx)
		})
		demoted <- err == nil
	})

	// 4. Repoint the other reachable replicas, in parallel.
	var lastDetach time.Time
	repointed := j.reachable
	if len(j.reachable) > 0 {
		var mu sync.Mutex
		var failed []string
		_ = x.step(ctx, promote.StepRepoint, j.reachable, j.deadlines.Repoint, j.intent(promote.StepRepoint), func(ctx context.Context) error {
			var wg sync.WaitGroup
			var errs []error
			for _, r := range j.reachable {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := x.first(ctx, r)
					if err == nil {
						err = x.node(r).ReplicaOf(ctx, x.m.announce(cur))
					}
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						failed = append(failed, r)
						errs = append(errs, err)
						return
					}
					lastDetach = time.Now()
				}()
			}
			wg.Wait()
			return errors.Join(errs...)
		})
		repointed = slices.DeleteFunc(slices.Clone(j.reachable), func(a string) bool { return slices.Contains(failed, a) })
		j.atRisk = append(j.atRisk, failed...) // may still acknowledge for the old primary
	}

	// 5. The new primary's self-fence, once its replicas are online;
	// relaxed (and journaled) when fewer can meet it.
	settings := map[string]string{promote.SettingPreviousPrimary: old,
		promote.SettingFailoverEpoch: strconv.FormatUint(j.epoch, 10)}
	if sf := j.selfFence; sf.MinReplicas > 0 {
		want := min(sf.MinReplicas, len(repointed))
		_ = x.step(ctx, promote.StepSelfFence, []string{cur}, j.deadlines.Repoint, nil, func(ctx context.Context) error {
			online := 0
			if want > 0 {
				wctx, cancel := context.WithTimeout(ctx, j.deadlines.Repoint/2)
				online, _ = x.node(cur).WaitReplicas(wctx, want, sf.MaxLag, promotePoll)
				cancel()
			}
			n := min(want, online)
			if n < sf.MinReplicas {
				settings[promote.SettingMinReplicas] = fmt.Sprint(n)
				log.Warn("failover: self-fence relaxed on the new primary: no zero-loss claim until replicas return",
					"min_replicas", n, "configured", sf.MinReplicas, "online", online)
				x.raise(Condition{Name: CondSelfFenceRelaxed, Severity: SeverityWarning, Instance: cur, Since: time.Now(),
					Detail: fmt.Sprintf("min-replicas-to-write %d (configured %d): %d replicas online; no zero-loss claim until replicas return",
						n, sf.MinReplicas, online)})
			}
			return x.node(cur).SetSelfFence(ctx, n, sf.MaxLag)
		})
	}

	// 6. Commit the new config on a majority.
	replicas := slices.Clone(j.reachable)
	replicas = append(replicas, j.atRisk...)
	replicas = append(replicas, old)
	slices.Sort(replicas)
	replicas = slices.Compact(replicas)
	replicas = slices.DeleteFunc(replicas, func(a string) bool { return a == cur })
	settings[promote.SettingFailoverAt] = time.Now().UTC().Format(time.RFC3339)
	cfg := quorum.Config{Primary: cur, Replicas: replicas, Settings: settings}
	start := time.Now()
	err = x.m.commit(ctx, j.deadlines.Commit, cfg)
	x.m.append(EventStep, time.Now(), map[string]any{"step": promote.StepCommit, "targets": []string{promote.TargetFleet},
		"epoch": j.epoch, "took_ms": time.Since(start).Milliseconds(), "err": errString(err)})
	if err != nil {
		return failoverOutcome{why: "commit: " + err.Error() + " (the next holder rolls forward from the intent)"}
	}
	log.Info("failover: config committed", "took", time.Since(start))

	// 7. Strict: wait until the old primary is fenced or must have fenced
	// itself; fast: go on and count.
	gate, oldState := x.waitGate(ctx, j, demoted, lastDetach)
	if ctx.Err() != nil {
		return failoverOutcome{committed: true, why: "lease lost while the route waited: " + gate.Why}
	}

	// 8. The route, compare-and-set and published in one script.
	routed := false
	if x.m.router != nil {
		err := x.writeRoute(ctx, promote.Committed{Epoch: j.epoch, Primary: cur, Replicas: replicas}, string(j.reason), j.deadlines.Route)
		if err != nil {
			log.Warn("failover: route not written; the steward writes it when the routing Redis answers", "err", err)
		}
		routed = err == nil
	}

	// 9. Disconnect clients on the reconfigured nodes, so they re-resolve.
	killTargets := append([]string{cur}, repointed...)
	if oldState == promote.OldDemoted || oldState == promote.OldWritable {
		killTargets = append(killTargets, old)
	}
	_ = x.step(ctx, promote.StepClientKill, killTargets, j.deadlines.Route, nil, func(ctx context.Context) error {
		var wg sync.WaitGroup
		for _, a := range killTargets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := x.node(a).KillClients(ctx); err != nil && a != old {
					log.Warn("failover: could not disconnect clients", "instance", a, "err", err)
				}
			}()
		}
		wg.Wait()
		return nil
	})
	return failoverOutcome{committed: true, routed: routed}
}

// waitGate waits until RouteGate opens, asking the old primary every
// gatePoll; a CRITICAL wait is raised as a condition and journaled once.
func (x *executor) waitGate(ctx context.Context, j *failoverJob, demoted <-chan bool, lastDetach time.Time) (promote.Gate, promote.OldState) {
	old := j.plan.OldPrimary
	state := promote.OldUnknown
	raised := false
	// Its own connection: the fence and demote steps may be using theirs.
	probeOld := x.m.newAdmin(old)
	defer probeOld.Close()
	for {
		select {
		case ok := <-demoted:
			if ok {
				state = promote.OldDemoted
			}
			demoted = nil
		default:
		}
		// fast opens whatever the answer: asking a stopped old primary would
		// only cost the probe's timeout.
		if !state.Fenced() && j.plan.FenceWait != promote.FenceWaitFast {
			state = oldState(ctx, probeOld)
		}
		g := promote.RouteGate(promote.GateInput{FenceWait: j.plan.FenceWait, OldPrimary: old, Old: state,
			OldSelfFence: j.oldFence, LastDetach: lastDetach, AtRisk: j.atRisk}, time.Now())
		if g.Open {
			detail := map[string]any{"epoch": j.epoch, "old_primary": old, "old_state": state.String(), "detail": g.Why}
			if g.SplitBrainRisk {
				x.m.append(EventSplitBrain, time.Now(), detail)
			}
			x.m.append(EventStep, time.Now(), map[string]any{"step": promote.StepFenceWindow, "targets": []string{old},
				"epoch": j.epoch, "detail": g.Why})
			return g, state
		}
		if g.Critical && !raised {
			raised = true
			x.m.log.Error("failover: the route waits for the old primary to be fenced", "epoch", j.epoch, "why", g.Why)
			x.raise(Condition{Name: CondRouteWaitsForFence, Severity: SeverityCritical, Instance: old, Since: time.Now(), Detail: g.Why})
		}
		wait := gatePoll
		if !g.Until.IsZero() {
			wait = min(wait, max(time.Until(g.Until), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return g, state
		case <-time.After(wait):
		}
	}
}

// oldState asks the old primary what it is now.
func oldState(ctx context.Context, n redisAdmin) promote.OldState {
	ctx, cancel := context.WithTimeout(ctx, gatePoll)
	defer cancel()
	role, err := n.Role(ctx)
	switch {
	case err == nil && role.Role == "master":
		return promote.OldWritable
	case err == nil:
		return promote.OldDemoted
	}
	switch redisnode.Classify(err) {
	case redisnode.Refused:
		return promote.OldRefuses
	case redisnode.Failed:
		// It answered with an error (-LOADING, a denied command): alive.
		return promote.OldWritable
	}
	return promote.OldUnreachable
}

// Conditions a failover's executor raises; they last while it runs.
const (
	// CondRouteWaitsForFence: fence_wait strict holds the route back
	// because the old primary may still acknowledge writes (DESIGN.md
	// §6.3).
	CondRouteWaitsForFence = "RouteWaitsForFence"
	// CondSelfFenceRelaxed: the new primary has fewer online replicas than
	// the self-fence needs, so it runs relaxed (DESIGN.md §6.2).
	CondSelfFenceRelaxed = "SelfFenceRelaxed"
)

// raise adds a condition to the cluster's view while the task runs; the
// cluster goroutine journals it like any other.
func (x *executor) raise(c Condition) {
	for {
		cur := x.m.taskConds.Load()
		var next []Condition
		if cur != nil {
			next = append(next, *cur...)
		}
		next = append(next, c)
		if x.m.taskConds.CompareAndSwap(cur, &next) {
			return
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// announce is the address servers know an instance by: REPLICAOF takes
// it (the reverse of the address map), since the replica dials it, not
// this sentinel.
func (m *clusterMonitor) announce(addr string) string {
	for reported, reach := range m.addrMap {
		if reach == addr {
			return reported
		}
	}
	return addr
}
