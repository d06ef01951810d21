package sentinel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Task timing the config does not expose.
const (
	// routeReadInterval: how often each cluster reads its route, so the
	// steward sees a wiped or older route (DESIGN.md §6.7).
	routeReadInterval = time.Second
	// stewardRetryMin/Max bound the wait before the steward looks again
	// after a task, doubling after each failed one.
	stewardRetryMin = 500 * time.Millisecond
	stewardRetryMax = 30 * time.Second
)

// runningTask is the executor goroutine of a lease this sentinel holds.
type runningTask struct {
	epoch  uint64
	cancel context.CancelFunc
}

// taskResult is what an executor reports when it ends.
type taskResult struct {
	epoch    uint64
	failover *failoverOutcome
	failed   string // steward: the first repair that failed, and why
}

// routeRead is one read of the cluster's route by the route loop.
type routeRead struct {
	entry route.Entry
	found bool
	err   error
	at    time.Time
}

// routeState is the latest route read: known once the routing Redis
// answered.
type routeState struct {
	at     time.Time // when the read started
	known  bool
	found  bool
	entry  route.Entry
	failed bool // the latest read failed (logged once per outage)
}

// routeLoop reads the cluster's route every routeReadInterval until ctx
// ends.
func (m *clusterMonitor) routeLoop(ctx context.Context) {
	t := time.NewTicker(routeReadInterval)
	defer t.Stop()
	for {
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, routeReadInterval)
		e, found, err := m.router.Read(rctx, m.cfg.Name)
		cancel()
		if ctx.Err() != nil {
			return
		}
		select {
		case m.routeReads <- routeRead{entry: e, found: found, err: err, at: start}:
		case <-ctx.Done():
			return
		}
		select {
		case <-t.C:
		case <-m.routePoke:
		case <-ctx.Done():
			return
		}
	}
}

// pokeRoute asks the route loop for a read now (a lease just ended: its
// holder may have written the route).
func (m *clusterMonitor) pokeRoute() {
	select {
	case m.routePoke <- struct{}{}:
	default:
	}
}

// noteRoute records a route read.
func (m *clusterMonitor) noteRoute(r routeRead) {
	if r.err != nil && !r.found {
		if !m.route.failed {
			m.log.Warn("routing redis: cannot read the route; a failover goes on and the route is written when it answers", "err", r.err)
		}
		m.route.failed = true
		m.route.known = false
		return
	}
	if m.route.failed {
		m.log.Info("routing redis answers again")
	}
	m.route = routeState{at: r.at, known: true, found: r.found, entry: r.entry}
}

// steer starts the executor of a lease this sentinel holds, cancels one
// whose lease is gone, and asks for a steward lease when the cluster needs
// a repair. Called at the end of every agreement tick.
func (m *clusterMonitor) steer(now time.Time) {
	if m.ag == nil || m.cfg.Mode == config.ModeObserve || m.newAdmin == nil {
		return
	}
	l, held := m.ag.Lease(now)
	if m.task != nil {
		if !held || l.Epoch != m.task.epoch {
			m.task.cancel() // its steps are refused anyway; end the waits
		}
		return
	}
	switch {
	case held && l.Reason == quorum.ReasonFailover && m.kind == probe.KindMySQL:
		m.stewardWanted = false
		m.startMySQLFailover(now, l)
	case held && l.Reason == quorum.ReasonFailover:
		m.stewardWanted = false
		m.startFailover(now, l)
	case held && l.Reason == quorum.ReasonSteward && m.stewardWanted:
		m.startSteward(now, l)
	case held:
		// An operator lease: the sentinel that asked runs its task.
	default:
		m.wantSteward(now)
	}
}

// wantSteward asks for a steward lease when a repair is due and the
// cluster is calm, and withdraws the request when it no longer is.
func (m *clusterMonitor) wantSteward(now time.Time) {
	calm := m.status.State == quorum.StateOK || m.status.State == quorum.StateElecting
	if m.stewardWanted {
		if !calm {
			m.stewardWanted = false
			m.endTask(now) // the request is given up; a failover comes first
		}
		return
	}
	if m.status.State != quorum.StateOK || now.Before(m.nextSteward) || len(m.pendingLease) > 0 {
		return // an operator's (or a test's) request comes first
	}
	repairs := m.repairs(m.stewardInput())
	if len(repairs) == 0 {
		return
	}
	m.stewardWanted = true
	m.ag.Want(quorum.ReasonSteward, false)
	m.log.Info("steward: asking for a lease to repair", "repairs", describeRepairs(repairs))
}

func describeRepairs(rs []promote.Repair) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, "; ")
}

// committed is the committed config as the steward and the planner read
// it; with nothing committed, the seed at epoch 0.
func (m *clusterMonitor) committed() promote.Committed {
	c := m.ag.Config()
	if c.Epoch == 0 || c.Primary == "" {
		return promote.Committed{Primary: m.cfg.Primary}
	}
	return promote.Committed{Epoch: c.Epoch, Primary: c.Primary, Replicas: c.Replicas, Settings: c.Settings}
}

// routeEntry is the committed config as a routing entry.
func (m *clusterMonitor) routeEntry(c promote.Committed) route.Entry {
	return route.Entry{Cluster: m.cfg.Name, Primary: c.Primary, Kind: m.cfg.Kind, Epoch: c.Epoch,
		Replicas: slices.Clone(c.Replicas), Fleet: m.fleetName}
}

// stewardInput gathers what RedisRepairs decides from.
func (m *clusterMonitor) stewardInput() promote.StewardInput {
	c := m.committed()
	in := promote.StewardInput{Cluster: m.cfg.Name, Committed: c, AddressMap: m.addrMap}
	for _, addr := range m.order {
		i := m.instances[addr]
		in.Nodes = append(in.Nodes, promote.Node{Address: addr, Observation: i.last, SDOWN: i.sdown})
	}
	if sf := m.cfg.SelfFence; sf.Enabled {
		in.SelfFence = promote.SelfFence{MinReplicas: sf.MinReplicas, MaxLag: sf.MaxLag}
	}
	if it, ok := m.pendingFailover(); ok && it.Step == promote.StepStopIO {
		in.Detached = it.OldPrimary
	}
	if it, ok := m.pendingPromotion(); ok {
		in.PendingTarget = it.Target
	}
	if hb := m.cfg.Heartbeat; hb.Manage {
		in.Heartbeat = hb.Period
	}
	// A read that started before this config was seen, or before the last
	// lease ended, may predate that holder's own route write: wait for a
	// fresh one, or every sentinel would take a lease to write it again.
	if m.router != nil && m.route.known && c.Epoch > 0 && m.route.at.After(m.configSeen) && m.route.at.After(m.leaseEnded) {
		var stored *route.Entry
		if m.route.found {
			e := m.route.entry
			stored = &e
			in.RoutePrimary = e.Primary
		}
		in.RouteKnown = true
		in.RouteNeedsWrite, in.RouteWhy = route.NeedsWrite(stored, m.routeEntry(c))
	}
	return in
}

// startFailover plans a failover under the lease just won and starts its
// executor; with no plan it releases the lease and holds automatic
// failovers back for a while.
func (m *clusterMonitor) startFailover(now time.Time, l quorum.Lease) {
	m.ag.Want(l.Reason, false) // the task holds the lease until Done
	j, why := m.planFailover(now, l, "")
	if j == nil {
		m.log.Error("failover: nothing to promote", "epoch", l.Epoch, "why", why)
		m.append(EventFailoverDone, now, map[string]any{"epoch": l.Epoch, "committed": false, "why": why})
		m.holdFailovers(now, "the last failover found nothing to promote: "+why)
		m.endTask(now)
		return
	}
	m.log.Info("failover: planned", "epoch", l.Epoch, "plan", j.plan.String())
	m.append(EventFailoverPlan, now, map[string]any{"epoch": l.Epoch, "plan": j.plan, "ranking": j.ranking,
		"roll_forward": j.rollFrom})
	m.launch(l, func(ctx context.Context, x *executor) taskResult {
		out := x.runRedisFailover(ctx, j)
		return taskResult{failover: &out}
	})
}

// launch runs an executor for lease l in its own goroutine.
func (m *clusterMonitor) launch(l quorum.Lease, run func(context.Context, *executor) taskResult) {
	ctx, cancel := context.WithCancel(m.runCtx)
	m.task = &runningTask{epoch: l.Epoch, cancel: cancel}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		x := newExecutor(m, l.Epoch)
		r := run(ctx, x)
		x.close()
		r.epoch = l.Epoch
		select {
		case m.taskDone <- r:
		case <-m.runCtx.Done():
		}
	}()
}

// finishTask ends a task: its lease is released, and what it did is
// journaled.
func (m *clusterMonitor) finishTask(r taskResult, now time.Time) {
	m.task = nil
	m.taskConds.Store(nil)
	if m.opWaiter != nil {
		m.opWaiter <- r
		m.opWaiter = nil
	}
	switch {
	case r.failover != nil:
		o := r.failover
		detail := map[string]any{"epoch": r.epoch, "committed": o.committed, "routed": o.routed}
		if o.loss != nil {
			detail["loss"] = o.loss
		}
		if o.why != "" {
			detail["why"] = o.why
			m.log.Error("failover: ended without finishing", "epoch", r.epoch, "committed", o.committed, "why", o.why)
		} else {
			m.log.Info("failover: done", "epoch", r.epoch, "primary", m.primary(), "routed", o.routed)
		}
		m.append(EventFailoverDone, now, detail)
		if !o.committed {
			m.holdFailovers(now, "the last failover failed: "+o.why)
		}
	default:
		m.stewardWanted = false
		if r.failed != "" {
			m.stewardBackoff = min(max(2*m.stewardBackoff, stewardRetryMin), stewardRetryMax)
		} else {
			m.stewardBackoff = 0
		}
		m.nextSteward = now.Add(max(m.stewardBackoff, stewardRetryMin))
	}
	if m.ag != nil {
		m.endTask(now)
		m.status = m.ag.Status(now)
	}
}

// endTask ends this sentinel's want or lease (the agreement's Done),
// then asks again for a lease a request is still waiting for: the
// agreement has one want, and a steward's or a failover's end must not
// drop an operator's request that came meanwhile.
func (m *clusterMonitor) endTask(now time.Time) {
	m.ag.Done(now)
	if len(m.pendingLease) > 0 {
		r := m.pendingLease[0]
		m.ag.Want(r.reason, r.forced)
	}
	m.carryOut(now)
}

// holdFailovers keeps this sentinel from starting another automatic
// failover for a lease: the others may try (and roll forward), but it does
// not spin on a failover it just saw fail.
func (m *clusterMonitor) holdFailovers(now time.Time, why string) {
	m.holdUntil = now.Add(max(m.agParams.Lease, 5*time.Second))
	m.holdWhy = why
}

// planFailover gathers the ranking input, ranks, and plans. It rolls
// forward the latest intent of an earlier holder when it names the same
// old primary and its target still answers (DESIGN.md §5.7).
//
// to, when set, is an operator's choice (a forced failover): it must be a
// replica of the cluster that answers; the ranking's verdict on it is kept
// for the record but does not exclude it.
func (m *clusterMonitor) planFailover(now time.Time, l quorum.Lease, to string) (*failoverJob, string) {
	old := m.primary()
	oldIn := m.instances[old]
	in := promote.RankInput{Cluster: m.cfg.Name, OldPrimary: old, OldLineage: m.lineage, AddressMap: m.addrMap,
		Limits: promote.Limits{DownAfter: m.detector.DownAfter, MaxObservationAge: m.maxObservationAge()}}
	if oldIn != nil && oldIn.sdown {
		in.Limits.PrimaryDownSince = oldIn.sdownSince
	}
	in.Candidates = m.candidates(old)
	rk := promote.Rank(in, now)
	roll := m.rollForward(old, l.Epoch, &rk)
	if to != "" && roll == nil {
		if why := m.operatorChoice(&rk, old, to); why != "" {
			return nil, why
		}
	}
	if rk.Chosen == "" {
		return nil, rk.Why
	}
	reachable, unreachable := m.partition(old, rk.Chosen)
	sf := promote.SelfFence{}
	if m.cfg.SelfFence.Enabled {
		sf = promote.SelfFence{MinReplicas: m.cfg.SelfFence.MinReplicas, MaxLag: m.cfg.SelfFence.MaxLag}
	}
	var oldSF *promote.SelfFence
	if oldIn != nil && oldIn.lastReachable != nil && oldIn.lastReachable.Redis != nil && oldIn.lastReachable.Redis.Settings != nil {
		s := oldIn.lastReachable.Redis.Settings
		oldSF = &promote.SelfFence{MinReplicas: s.MinReplicasToWrite, MaxLag: time.Duration(s.MinReplicasMaxLagSeconds) * time.Second}
	}
	fw, err := promote.ParseFenceWait(m.cfg.FenceWait)
	if err != nil {
		fw = promote.FenceWaitStrict
	}
	steps := m.steps
	d := promote.Deadlines{Fence: steps.Fence, Promote: steps.Promote, Repoint: steps.Repoint, Commit: steps.Commit, Route: steps.Route}
	lease := l.Remaining(now)
	plan := promote.PlanRedisFailover(promote.PlanInput{Ranking: rk, FenceWait: fw, SelfFence: sf, OldSelfFence: oldSF,
		Reachable: reachable, Unreachable: unreachable, Deadlines: d, Lease: lease})
	oldFence := sf
	if oldSF != nil {
		oldFence = promote.SelfFence{MinReplicas: min(sf.MinReplicas, oldSF.MinReplicas), MaxLag: max(sf.MaxLag, oldSF.MaxLag)}
	}
	return &failoverJob{epoch: l.Epoch, reason: l.Reason, ranking: rk, plan: plan, rollFrom: roll,
		reachable: reachable, atRisk: unreachable, oldFence: oldFence, selfFence: sf, deadlines: d, lease: lease}, ""
}

// operatorChoice makes to, an operator's choice in a forced failover, the
// ranking's: it must be a replica of the cluster that answers; the
// ranking's verdict on it is kept in Why for the record but does not
// exclude it. It returns why to cannot be chosen, or "".
func (m *clusterMonitor) operatorChoice(rk *promote.Ranking, old, to string) string {
	t := m.instances[to]
	switch {
	case t == nil:
		return fmt.Sprintf("%s is not an instance of cluster %s", to, m.cfg.Name)
	case to == old:
		return fmt.Sprintf("%s is the primary", to)
	case t.sdown || t.last == nil || !t.last.Reachable:
		return fmt.Sprintf("no replica reachable: %s does not answer", to)
	case t.last.LoginRefused():
		return fmt.Sprintf("%s refuses this sentinel's login (CredentialsRefused): it cannot be promoted", to)
	}
	verdict := ""
	for _, v := range rk.Verdicts {
		if v.Address == to {
			verdict = v.Reason
		}
	}
	if rk.Chosen != to {
		rk.Why = fmt.Sprintf("operator chose %s over the ranking's %s (%s)", to, orNone(rk.Chosen), verdict)
	} else {
		rk.Why = fmt.Sprintf("operator chose %s, the ranking's choice too (%s)", to, verdict)
	}
	rk.Chosen = to
	return ""
}

// priorityOf is an instance's configured priority, nil when unset.
func (m *clusterMonitor) priorityOf(addr string) *int {
	for _, in := range m.cfg.Instances {
		if in.Address == addr || probe.MapAddress(m.addrMap, in.Address) == addr {
			return in.Priority
		}
	}
	return nil
}

// trackLineage follows the believed primary's replication history: it
// moves on while the history continues (same replid, or a promotion that
// kept the old one as replid2), and stays put when it breaks (a primary
// restarted empty), so ranking still knows which data is the cluster's.
func (m *clusterMonitor) trackLineage(addr string, obs probe.Observation) {
	if addr != m.primary() || !obs.Reachable || obs.Role != probe.RolePrimary || obs.Redis == nil {
		return
	}
	lin := promote.RedisLineage(obs.Redis)
	cur := m.lineage
	switch {
	case !lin.Known():
	case !cur.Known(), lin.ReplID == cur.ReplID && lin.Offset >= cur.Offset, lin.ReplID2 == cur.ReplID:
		m.lineage = lin
		m.lineageBroken = false
	default:
		m.lineageSeen = lin
		if !m.lineageBroken {
			m.lineageBroken = true
			m.log.Error("the primary's replication history broke: it restarted without its data, or was replaced",
				"instance", addr, "replid", lin.ReplID, "offset", lin.Offset, "known_replid", cur.ReplID, "known_offset", cur.Offset)
		}
	}
}

// startSteward carries out the repairs due now under the steward lease
// just won; with none left it releases the lease at once.
func (m *clusterMonitor) startSteward(now time.Time, l quorum.Lease) {
	in := m.stewardInput()
	repairs := m.repairs(in)
	if len(repairs) == 0 {
		m.stewardWanted = false
		m.endTask(now)
		return
	}
	j := &stewardJob{epoch: l.Epoch, committed: in.Committed, repairs: repairs, gates: map[string]promote.GateInput{}}
	for _, r := range repairs {
		if r.Kind == promote.RepairRoute && r.OldPrimary != "" {
			j.gates[r.OldPrimary] = m.gateFromObservations(r.OldPrimary)
		}
	}
	steps := m.steps
	j.deadlines = promote.Deadlines{Fence: steps.Fence, Promote: steps.Promote, Repoint: steps.Repoint, Commit: steps.Commit, Route: steps.Route}
	m.launch(l, func(ctx context.Context, x *executor) taskResult {
		return taskResult{failed: x.runRepairs(ctx, j)}
	})
}

// gateFromObservations is the route gate's input for moving the route
// away from old, from this sentinel's observations: the steward's view
// when the failover's holder did not write the route itself.
func (m *clusterMonitor) gateFromObservations(old string) promote.GateInput {
	fw, err := promote.ParseFenceWait(m.cfg.FenceWait)
	if err != nil {
		fw = promote.FenceWaitStrict
	}
	g := promote.GateInput{FenceWait: fw, OldPrimary: old, LastDetach: m.configSeen}
	if sf := m.cfg.SelfFence; sf.Enabled {
		g.OldSelfFence = promote.SelfFence{MinReplicas: sf.MinReplicas, MaxLag: sf.MaxLag}
	}
	i := m.instances[old]
	switch {
	case i == nil || i.last == nil:
	case i.last.Reachable && i.last.Role == probe.RoleReplica:
		g.Old = promote.OldDemoted
	case i.last.Reachable:
		g.Old = promote.OldWritable
	case refusedConnection(i.last.Error):
		g.Old = promote.OldRefuses
	default:
		g.Old = promote.OldUnreachable
	}
	for _, addr := range m.order {
		in := m.instances[addr]
		// A replica that refuses this sentinel's login answers, but
		// nothing says it is detached: it may still acknowledge for old.
		if addr == old || in.lastReachable == nil || (in.last != nil && in.last.Reachable && !in.last.LoginRefused()) {
			continue
		}
		if probe.MapAddress(m.addrMap, in.lastReachable.Primary) == old {
			g.AtRisk = append(g.AtRisk, addr)
		}
	}
	return g
}

// refusedConnection says whether a probe error means nothing listens at
// the address: the process is gone, so it acknowledges nothing.
func refusedConnection(err string) bool {
	return strings.Contains(err, "connection refused")
}

// repairs lists the steward's repairs for the cluster's kind.
func (m *clusterMonitor) repairs(in promote.StewardInput) []promote.Repair {
	if m.kind == probe.KindMySQL {
		return promote.MySQLRepairs(in)
	}
	return promote.RedisRepairs(in)
}

// startMySQLFailover plans a MySQL failover under the lease just won and
// starts its executor (as startFailover does for Redis).
func (m *clusterMonitor) startMySQLFailover(now time.Time, l quorum.Lease) {
	m.ag.Want(l.Reason, false)
	j, why := m.planMySQLFailover(now, l, "")
	if j == nil {
		m.log.Error("failover: nothing to promote", "epoch", l.Epoch, "why", why)
		m.append(EventFailoverDone, now, map[string]any{"epoch": l.Epoch, "committed": false, "why": why})
		m.holdFailovers(now, "the last failover found nothing to promote: "+why)
		m.endTask(now)
		return
	}
	m.log.Info("failover: planned", "epoch", l.Epoch, "plan", j.plan.String())
	m.append(EventFailoverPlan, now, map[string]any{"epoch": l.Epoch, "plan": j.plan, "ranking": j.ranking, "roll_forward": j.rollFrom})
	m.launch(l, func(ctx context.Context, x *executor) taskResult {
		out := x.runMySQLFailover(ctx, j)
		return taskResult{failover: &out}
	})
}

// planMySQLFailover ranks the replicas of the failed primary (errant
// transactions judged against the primaries this sentinel knows of: the
// old one, and the previous one of the committed config) and plans. to,
// when set, is an operator's choice (operatorChoice).
func (m *clusterMonitor) planMySQLFailover(now time.Time, l quorum.Lease, to string) (*mysqlJob, string) {
	old := m.primary()
	in := promote.MySQLRankInput{Cluster: m.cfg.Name, OldPrimary: old, AddressMap: m.addrMap,
		MaxObservationAge: m.maxObservationAge(), MaxBroken: m.detector.DownAfter}
	var semi bool
	var semiTO time.Duration
	var oldFacts *probe.MySQLFacts
	var oldSeen time.Time
	for _, addr := range []string{old, m.ag.Config().Settings[promote.SettingPreviousPrimary]} {
		if i := m.instances[addr]; i != nil && i.lastReachable != nil && i.lastReachable.MySQL != nil {
			f := i.lastReachable.MySQL
			in.PrimaryServerIDs = append(in.PrimaryServerIDs, f.ServerID)
			if f.ServerUUID != "" {
				in.PrimaryUUIDs = append(in.PrimaryUUIDs, f.ServerUUID)
			}
			if addr == old {
				semi, semiTO = f.SemiSync.PrimaryEnabled, f.SemiSync.Timeout
				oldFacts, oldSeen = f, i.lastReachable.At
			}
		}
	}
	in.Candidates = m.candidates(old)
	rk := promote.RankMySQL(in, now)
	roll := m.rollForward(old, l.Epoch, &rk)
	forced, accepted := "", ""
	if to != "" && roll == nil {
		if why := m.operatorChoice(&rk, old, to); why != "" {
			return nil, why
		}
		forced, accepted = to, lacksOf(rk, to) // the dry run showed it
	}
	if rk.Chosen == "" {
		return nil, rk.Why
	}
	reachable, unreachable := m.partition(old, rk.Chosen)
	fw, err := promote.ParseFenceWait(m.cfg.FenceWait)
	if err != nil {
		fw = promote.FenceWaitStrict
	}
	st := m.steps
	d := promote.Deadlines{Fence: st.Fence, Promote: st.Promote, Repoint: st.Repoint, Commit: st.Commit, Route: st.Route}
	lease := l.Remaining(now)
	plan := promote.PlanMySQLFailover(promote.MySQLPlanInput{Ranking: rk, FenceWait: fw, SemiSync: semi, Reachable: reachable,
		Unreachable: unreachable, Deadlines: d, CatchUp: st.CatchUp, Lease: lease})
	j := &mysqlJob{failoverJob: failoverJob{epoch: l.Epoch, reason: l.Reason, ranking: rk, plan: plan, rollFrom: roll,
		reachable: reachable, atRisk: unreachable, deadlines: d, lease: lease},
		semi: semi, semiTO: semiTO, catchUp: st.CatchUp, heartbeat: m.cfg.Heartbeat.Period,
		claim: promote.ZeroLossClaim(m.kind, oldFacts, m.replicating()), old: oldFacts, oldSeen: oldSeen, ioWasStopped: m.ioStoppedBefore(append([]string{rk.Chosen}, reachable...)),
		rankIn: in, forcedTo: forced, acceptedLacks: accepted}
	if j.semi && j.semiTO <= 0 {
		j.semiTO = 24 * time.Hour // unknown: very long, as §6.2 wants
	}
	j.repl.user, j.repl.password = m.cfg.Credentials.Replication.Username, m.cfg.Credentials.Replication.Password.Reveal()
	return j, ""
}

// lacksOf says what the ranking found addr lacks of what other replicas
// received: "" when nothing, "unknown: …" when it was excluded for
// another reason than data and never compared.
func lacksOf(rk promote.Ranking, addr string) string {
	for _, v := range rk.Verdicts {
		switch {
		case v.Address != addr:
		case strings.HasPrefix(v.Reason, "lacks "):
			return strings.TrimPrefix(v.Reason, "lacks ")
		case v.Exclusion != promote.NotExcluded:
			return "unknown: it was not compared with the other replicas (" + v.Reason + ")"
		}
	}
	return ""
}

// ioStoppedBefore names those of addrs whose replication IO thread was
// stopped at their last probe (not connecting or running), by someone
// else than a failover: none while the fleet's last intent is an earlier
// failover's stop-io away from old (it stopped them; an undo restarts
// them).
func (m *clusterMonitor) ioStoppedBefore(addrs []string) map[string]bool {
	if it, ok := m.pendingFailover(); ok && it.Step == promote.StepStopIO {
		return nil
	}
	out := map[string]bool{}
	for _, a := range addrs {
		if i := m.instances[a]; i != nil && i.last != nil && i.last.MySQL != nil {
			for _, c := range i.last.MySQL.Channels {
				if c.Name == "" && c.IO == probe.IOStopped {
					out[a] = true
				}
			}
		}
	}
	return out
}

// candidates are the instances other than old, as ranking takes them.
func (m *clusterMonitor) candidates(old string) []promote.Candidate {
	var out []promote.Candidate
	for _, addr := range m.order {
		if addr == old {
			continue
		}
		i := m.instances[addr]
		c := promote.Candidate{Address: addr, SDOWN: i.sdown, Priority: m.priorityOf(addr)}
		if i.last != nil {
			c.Observation = *i.last
		} else {
			c.Observation = probe.Observation{Instance: addr, Error: "never probed"}
		}
		out = append(out, c)
	}
	return out
}

// partition splits the instances other than old and chosen into those
// that answer now and those that do not (which may still acknowledge for
// the old primary). One that refuses this sentinel's login answers but
// cannot be detached or repointed: it counts as unreachable (at risk).
func (m *clusterMonitor) partition(old, chosen string) (reachable, unreachable []string) {
	for _, addr := range m.order {
		if addr == old || addr == chosen {
			continue
		}
		if i := m.instances[addr]; !i.sdown && i.last != nil && i.last.Reachable && !i.last.LoginRefused() {
			reachable = append(reachable, addr)
		} else {
			unreachable = append(unreachable, addr)
		}
	}
	return reachable, unreachable
}

// failoverIntentSteps are the intents of a failover's executor (Redis and
// MySQL): each names the new primary, so the next holder can roll forward.
var failoverIntentSteps = []string{promote.StepStopIO, promote.StepPromote, promote.StepDemote, promote.StepRepoint}

// rollForward takes the latest intent of an earlier holder when it moves
// the primary this sentinel believes in (old) to a target that still
// answers, and makes that target the choice (DESIGN.md §5.7); nil when
// there is none to roll forward.
func (m *clusterMonitor) rollForward(old string, epoch uint64, rk *promote.Ranking) *quorum.Intent {
	it, ok := m.ag.LastIntent()
	if !ok || it.Epoch >= epoch || it.OldPrimary != old || it.Target == old || !slices.Contains(failoverIntentSteps, it.Step) {
		return nil
	}
	if t := m.instances[it.Target]; t == nil || t.sdown || t.last == nil || !t.last.Reachable {
		return nil
	}
	rk.Chosen = it.Target
	rk.Why = fmt.Sprintf("rolling forward the %s intent of %s at epoch %d: %s is the new primary", it.Step, it.Holder, it.Epoch, it.Target)
	return &it
}
