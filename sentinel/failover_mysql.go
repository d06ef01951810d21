package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/gtid"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/quorum"
)

// mysqlAdmin is what the executors do on one MySQL or MariaDB node:
// promote/mysqlnode in production.
type mysqlAdmin interface {
	KillOtherAdminSessions(ctx context.Context) (int, error)
	StopIOThread(ctx context.Context) error
	Fence(ctx context.Context, lockWait time.Duration) (mysqlnode.FenceResult, error)
	Position(ctx context.Context) (mysqlnode.Position, error)
	WaitApplied(ctx context.Context, gtids string, poll time.Duration, progress func(applied string)) error
	Promote(ctx context.Context, semi *mysqlsql.SemiSync) error
	StartIOThread(ctx context.Context) error
	Unfence(ctx context.Context) error
	Repoint(ctx context.Context, src mysqlsql.Source) error
	SetHeartbeat(ctx context.Context, period time.Duration) error
	Close() error
}

// MySQL executor timing the config does not expose.
const (
	// fenceLockWait bounds SET GLOBAL read_only=ON on the old primary: it
	// waits behind a commit waiting for a semi-sync ack, which is the
	// self-fence holding (promote/mysqlsql).
	fenceLockWait = time.Second
	// undoDeadline bounds the undo of a failover that gave up before
	// promoting: two quick admin calls on each node (START SLAVE
	// IO_THREAD, read_only=OFF). Short, so a lease renewed every third of
	// its length always covers it.
	undoDeadline = 2 * adminTimeout
	// catchUpSlice is how long one authorized slice of the catch-up lasts:
	// the lease is asked again before each, so a long catch-up renews it
	// instead of outliving it.
	catchUpSlice = time.Second
)

// mysqlFenceDeadline is the deadline of a MySQL fence step: the
// configured failover.steps.fence, but at least what a fence blocked by a
// commit waiting for a semi-sync acknowledgement takes (mysqlnode.Fence:
// read_only=ON gives up after fenceLockWait, the application sessions
// are killed, read_only=ON again): with a shorter deadline the fence of a
// live, cut-off semi-sync primary never gets past its first try. The
// fence runs in the background, so this never delays a promotion.
func mysqlFenceDeadline(configured time.Duration) time.Duration {
	return max(configured, 2*fenceLockWait+adminTimeout/2)
}

// mysqlJob is a MySQL failover's input, gathered by the cluster goroutine.
type mysqlJob struct {
	failoverJob
	semi      bool          // the old primary ran semi-sync: the new one does too
	semiTO    time.Duration // its rpl_semi_sync_master_timeout
	catchUp   time.Duration // failover.steps.catch_up
	heartbeat time.Duration
	repl      struct{ user, password string }
	// claim, old and oldSeen are the zero-loss claim at the old primary's
	// last answer, its facts and when it answered: the loss estimate's
	// input (§6.8).
	claim   promote.Claim
	old     *probe.MySQLFacts
	oldSeen time.Time
	// applied is what the candidate had applied when the catch-up ended,
	// in its flavor's GTID notation.
	applied string
	flavor  probe.Flavor
	// ioWasStopped names the replicas whose IO thread was already stopped
	// at their last probe (by a person, or a fatal error): an undo leaves
	// them stopped.
	ioWasStopped map[string]bool
	// rankIn is the ranking's input, ranked again on what the replicas
	// hold once their IO threads stopped (recheck); forcedTo the
	// operator's choice, kept against it.
	rankIn   promote.MySQLRankInput
	forcedTo string
	// acceptedLacks is what the operator's choice lacked when it was
	// planned (the dry run and the overrides showed it); lacks what the
	// promoted replica lacks of what another one received once the IO
	// threads stopped; "" when nothing.
	acceptedLacks, lacks string
	// unverified are stopped replicas whose state could not be read
	// again: what they hold is unknown.
	unverified []string
}

// mnode opens (once per task) the admin connection to a MySQL node.
func (x *executor) mnode(addr string) mysqlAdmin {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mnodes == nil {
		x.mnodes = map[string]mysqlAdmin{}
	}
	n, ok := x.mnodes[addr]
	if !ok {
		n = x.m.newMySQLAdmin(addr)
		x.mnodes[addr] = n
	}
	return n
}

// mfirst kills the other sentinels' admin sessions on a MySQL node before
// this holder's first write there (§5.6).
func (x *executor) mfirst(ctx context.Context, addr string) error {
	return x.firstWith(ctx, addr, x.mnode(addr).KillOtherAdminSessions)
}

// runMySQLFailover carries out a MySQL failover plan (promote.PlanMySQLFailover):
// stop the IO threads, fence the old primary in the background, let the
// candidate apply what it received, promote it, repoint the others,
// commit, wait when strict says so, route.
func (x *executor) runMySQLFailover(ctx context.Context, j *mysqlJob) failoverOutcome {
	p := j.plan
	old, cur := p.OldPrimary, p.NewPrimary
	// The intents name cur, which a recheck may change: j.plan is read by
	// the operator's request too, and is not written here.
	intent := func(step string) *quorum.Intent { return &quorum.Intent{Step: step, Target: cur, OldPrimary: old} }
	log := x.m.log.With("epoch", j.epoch, "old_primary", old, "new_primary", cur)
	log.Info("failover: starting", "fence_wait", p.FenceWait, "roll_forward", j.rollFrom != nil, "why", j.ranking.Why)

	// 1. No replica may keep acknowledging the old primary: stop every
	// reachable replica's IO thread, the candidate's too.
	stopped := append([]string{cur}, j.reachable...)
	var detached time.Time
	var stoppedOK []string // whose IO thread this failover stopped: the undo starts them again
	err := x.step(ctx, promote.StepStopIO, stopped, j.deadlines.Repoint, intent(promote.StepStopIO), func(ctx context.Context) error {
		var wg sync.WaitGroup
		errs := make([]error, len(stopped))
		for i, a := range stopped {
			wg.Go(func() {
				if err := x.mfirst(ctx, a); err != nil {
					errs[i] = err
					return
				}
				errs[i] = x.mnode(a).StopIOThread(ctx)
			})
		}
		wg.Wait()
		detached = time.Now()
		for i, e := range errs {
			if e == nil {
				stoppedOK = append(stoppedOK, stopped[i])
			}
		}
		if errs[0] != nil {
			return errs[0] // the candidate must have stopped
		}
		for i, e := range errs[1:] {
			if e != nil {
				log.Warn("failover: a replica's IO thread could not be stopped: it may still acknowledge the old primary",
					"instance", stopped[i+1], "err", e)
				j.atRisk = append(j.atRisk, stopped[i+1])
			}
		}
		return nil
	})
	if err != nil {
		why := "stop the IO threads: " + err.Error()
		return failoverOutcome{why: why + x.undoMySQLDetach(ctx, j, stoppedOK, promote.OldUnknown)}
	}

	// 1b. Rank again on what the replicas hold now that none receives:
	// the ranking read probes taken before, and a primary that was alive
	// (a forced failover, a hung one) may have sent more since (§6.5).
	if j.rollFrom == nil || j.rollFrom.Step == promote.StepStopIO {
		next, why := x.recheck(ctx, j, cur, stopped, stoppedOK)
		switch {
		case next == "":
			why = "after the IO threads stopped, " + why
			return failoverOutcome{why: why + x.undoMySQLDetach(ctx, j, stoppedOK, promote.OldUnknown)}
		case next != cur:
			x.m.log.Warn("failover: after the IO threads stopped, another replica received more: it is promoted instead",
				"epoch", j.epoch, "old_primary", old, "planned", cur, "new_primary", next, "why", why)
			x.m.append(EventStep, time.Now(), map[string]any{"step": "recheck", "targets": []string{next}, "epoch": j.epoch,
				"detail": "promote " + next + " instead of " + cur + ": " + why})
			j.reachable = append(slices.DeleteFunc(slices.Clone(j.reachable), func(a string) bool { return a == next }), cur)
			slices.Sort(j.reachable)
			cur = next
			log = x.m.log.With("epoch", j.epoch, "old_primary", old, "new_primary", cur)
		}
	}

	// 2. Fence the old primary in the background; usually it is gone.
	var bg sync.WaitGroup
	defer bg.Wait()
	fenced := make(chan promote.OldState, 1)
	bg.Go(func() {
		var res mysqlnode.FenceResult
		err := x.step(ctx, promote.StepFence, []string{old}, mysqlFenceDeadline(j.deadlines.Fence), nil, func(ctx context.Context) error {
			if err := x.mfirst(ctx, old); err != nil {
				return err
			}
			var err error
			res, err = x.mnode(old).Fence(ctx, fenceLockWait)
			if err == nil && res.Blocked {
				log.Info("failover: the old primary's read_only waited behind a semi-sync commit: its self-fence holds", "killed", res.Killed)
			}
			return err
		})
		switch {
		case err == nil, res.Fenced:
			// read_only took: it refuses writes (also when killing the
			// sessions afterwards failed).
			fenced <- promote.OldDemoted
		case mysqlnode.Classify(err) == mysqlnode.Refused:
			fenced <- promote.OldRefuses
		default:
			fenced <- promote.OldUnreachable
		}
	})

	// 3. The candidate applies what it received, in authorized slices.
	err = x.catchUp(ctx, j, cur)
	if err != nil {
		why := "catch up on " + cur + ": " + err.Error()
		return failoverOutcome{why: why + x.undoMySQLDetach(ctx, j, stoppedOK, <-fenced)}
	}

	// 4. Promote.
	semi := (*mysqlsql.SemiSync)(nil)
	if j.semi {
		acks := min(1, len(j.reachable))
		semi = &mysqlsql.SemiSync{Timeout: j.semiTO, Acks: acks}
		if acks == 0 {
			x.raise(Condition{Name: CondSelfFenceRelaxed, Severity: SeverityWarning, Instance: cur, Since: time.Now(),
				Detail: "semi-sync relaxed on the new primary: no replica remains to acknowledge; no zero-loss claim until replicas return"})
		}
	}
	err = x.step(ctx, promote.StepPromote, []string{cur}, j.deadlines.Promote, intent(promote.StepPromote), func(ctx context.Context) error {
		if err := x.mfirst(ctx, cur); err != nil {
			return err
		}
		return x.mnode(cur).Promote(ctx, semi)
	})
	if err != nil {
		return failoverOutcome{why: "promote " + cur + ": " + err.Error() +
			" (the promote intent stays recorded: the next holder rolls forward or chooses again)"}
	}
	log.Info("failover: promoted")
	loss := promote.EstimateLoss(promote.LossInput{Claim: j.claim, AtRisk: j.atRisk, Old: j.old, OldSeen: j.oldSeen,
		Flavor: j.flavor, Applied: j.applied, Lacks: j.lacks, Unverified: j.unverified})
	if loss.ZeroLoss {
		log.Info("failover: zero acknowledged writes lost", "why", loss.Why)
	} else {
		log.Warn("failover: acknowledged writes may be lost", "why", loss.Why, "missing", loss.Missing)
	}

	// 5. Repoint the others to it (GTID auto-positioning).
	var repointed []string
	if len(j.reachable) > 0 {
		host, port, _ := net.SplitHostPort(x.m.announce(cur))
		portN, _ := strconv.Atoi(port)
		src := mysqlsql.Source{Host: host, Port: portN, User: j.repl.user, Password: j.repl.password,
			Heartbeat: j.heartbeat, ConnectRetry: time.Second}
		_ = x.step(ctx, promote.StepRepoint, j.reachable, j.deadlines.Repoint, intent(promote.StepRepoint), func(ctx context.Context) error {
			var wg sync.WaitGroup
			errs := make([]error, len(j.reachable))
			for i, r := range j.reachable {
				wg.Go(func() { errs[i] = x.mnode(r).Repoint(ctx, src) })
			}
			wg.Wait()
			for i, e := range errs {
				if e == nil {
					repointed = append(repointed, j.reachable[i])
				}
			}
			return errors.Join(errs...)
		})
	}

	// 6. Commit.
	replicas := append(slices.Clone(j.reachable), j.atRisk...)
	replicas = append(replicas, old)
	slices.Sort(replicas)
	replicas = slices.Compact(replicas)
	replicas = slices.DeleteFunc(replicas, func(a string) bool { return a == cur })
	settings := map[string]string{promote.SettingPreviousPrimary: old,
		promote.SettingFailoverEpoch: strconv.FormatUint(j.epoch, 10), promote.SettingFailoverAt: time.Now().UTC().Format(time.RFC3339)}
	start := time.Now()
	err = x.m.commit(ctx, j.deadlines.Commit, quorum.Config{Primary: cur, Replicas: replicas, Settings: settings})
	x.m.append(EventStep, time.Now(), map[string]any{"step": promote.StepCommit, "targets": []string{promote.TargetFleet},
		"epoch": j.epoch, "took_ms": time.Since(start).Milliseconds(), "err": errString(err)})
	if err != nil {
		return failoverOutcome{primary: cur, why: "commit: " + err.Error() + " (the next holder rolls forward from the intent)", loss: &loss}
	}

	// 7. The gate: the old primary's replicas are detached (their IO
	// threads stopped), so a semi-sync primary waiting for no replica can
	// acknowledge nothing; an unreachable replica may still acknowledge.
	state := promote.OldUnknown
	select {
	case state = <-fenced:
		fenced = nil
	default:
	}
	sf := promote.SelfFence{}
	if j.semi {
		sf = promote.SelfFence{MinReplicas: 1}
	}
	for {
		g := promote.RouteGate(promote.GateInput{FenceWait: p.FenceWait, OldPrimary: old, Old: state, OldSelfFence: sf,
			LastDetach: detached.Add(-promote.FenceWindowSlack), AtRisk: j.atRisk}, time.Now())
		if g.Open {
			if g.SplitBrainRisk {
				x.m.append(EventSplitBrain, time.Now(), map[string]any{"epoch": j.epoch, "old_primary": old, "detail": g.Why})
			}
			break
		}
		if g.Critical {
			x.raise(Condition{Name: CondRouteWaitsForFence, Severity: SeverityCritical, Instance: old, Since: time.Now(), Detail: g.Why})
		}
		select {
		case <-ctx.Done():
			return failoverOutcome{primary: cur, committed: true, why: "lease lost while the route waited: " + g.Why, loss: &loss}
		case state = <-fenced:
			fenced = nil
		case <-time.After(gatePoll):
		}
	}

	// 8. Route.
	routed := false
	if x.m.router != nil {
		err := x.writeRoute(ctx, promote.Committed{Epoch: j.epoch, Primary: cur, Replicas: replicas}, string(j.reason), j.deadlines.Route)
		if err != nil {
			log.Warn("failover: route not written; the steward writes it when the routing Redis answers", "err", err)
		}
		routed = err == nil
	}
	log.Info("failover: steps done (the background fence of the old primary may still run)", "repointed", repointed, "routed", routed)
	return failoverOutcome{primary: cur, committed: true, routed: routed, loss: &loss}
}

// recheck ranks the replicas again (promote.RankMySQL, the planner's
// input) on what each of stopped holds now, read through the admin
// sessions once their IO threads stopped; a replica that cannot be read
// keeps its last probe. It returns the replica to promote ("" when none
// may be promoted without losing what another received) and why. An
// operator's choice (forcedTo) is kept; what it lacks is recorded for the
// loss estimate.
func (x *executor) recheck(ctx context.Context, j *mysqlJob, cur string, stopped, stoppedOK []string) (string, string) {
	fresh := make([]*probe.MySQLFacts, len(stopped))
	var wg sync.WaitGroup
	for i, a := range stopped {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, adminTimeout)
			defer cancel()
			if p, err := x.mnode(a).Position(rctx); err == nil {
				fresh[i] = positionFacts(p)
			}
		})
	}
	wg.Wait()
	for i, a := range stopped {
		if fresh[i] == nil {
			// What it holds now is unknown: it may have received what the
			// others lack. No zero-loss claim (the loss estimate names it).
			j.unverified = append(j.unverified, a)
		}
	}
	now := time.Now()
	in := j.rankIn
	in.Candidates = slices.Clone(in.Candidates)
	for i := range in.Candidates {
		c := &in.Candidates[i]
		k := slices.Index(stopped, c.Address)
		if k < 0 || fresh[k] == nil {
			continue
		}
		o := c.Observation
		if o.MySQL != nil {
			fresh[k].LagSeconds = o.MySQL.LagSeconds // a tie-break only
		}
		o.MySQL, o.Reachable, o.At = fresh[k], true, now
		c.Observation = o
	}
	rk := promote.RankMySQL(in, now)
	if j.forcedTo == "" {
		if rk.Chosen != "" && !slices.Contains(stoppedOK, rk.Chosen) {
			// Its IO thread did not stop: it may still be receiving and
			// acknowledging for the old primary.
			return "", fmt.Sprintf("the most complete replica %s could not be detached (its IO thread did not stop): nothing promoted", rk.Chosen)
		}
		return rk.Chosen, rk.Why
	}
	lacks := lacksOf(rk, cur)
	if lacks != "" && lacks != j.acceptedLacks {
		// The operator accepted losing what the dry run showed, not more.
		return "", fmt.Sprintf("the operator's choice %s lacks %s since the IO threads stopped (when planned: %s): "+
			"nothing promoted (ask again: the dry run shows it now)", cur, lacks, orNone(j.acceptedLacks))
	}
	j.lacks = lacks
	return cur, "the operator's choice"
}

// catchUp lets the candidate apply everything it received, one authorized
// slice at a time: each slice asks the lease again (renewed while the task
// holds it), and the wait fails when the applier stalls or the whole
// catch_up deadline passes.
func (x *executor) catchUp(ctx context.Context, j *mysqlJob, cur string) error {
	pos, err := x.mnode(cur).Position(ctx)
	if err != nil {
		return err
	}
	target := pos.Applied()
	if ch, ok := pos.Channel(); ok {
		switch {
		case pos.Flavor.Kind == probe.FlavorMariaDB && ch.GTIDIOPos != "":
			a, err1 := gtid.ParsePosition(pos.Applied())
			b, err2 := gtid.ParsePosition(ch.GTIDIOPos)
			if err1 == nil && err2 == nil {
				target = a.Union(b).String()
			}
		case pos.Flavor.Kind == probe.FlavorMySQL && ch.RetrievedGTIDSet != "":
			a, err1 := gtid.ParseSet(pos.Applied())
			b, err2 := gtid.ParseSet(ch.RetrievedGTIDSet)
			if err1 == nil && err2 == nil {
				target = a.Union(b).String()
			}
		}
	}
	// One wait for the whole catch_up deadline, in slices of catchUpSlice:
	// between slices the applier must have advanced (else ErrStalled),
	// and the lease is asked again, so a long catch-up renews it.
	if err := x.m.authorize(ctx, promote.StepCatchUp, catchUpSlice, nil); err != nil {
		return err
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, j.catchUp)
	defer cancel()
	var lost error
	err = x.mnode(cur).WaitApplied(wctx, target, catchUpSlice, func(string) {
		if err := x.m.authorize(wctx, promote.StepCatchUp, catchUpSlice, nil); err != nil {
			lost = err
			cancel()
		}
	})
	if lost != nil {
		return lost
	}
	if err != nil {
		return err
	}
	x.m.append(EventStep, time.Now(), map[string]any{"step": promote.StepCatchUp, "targets": []string{cur},
		"epoch": x.epoch, "took_ms": time.Since(start).Milliseconds(), "detail": "applied " + target})
	j.applied, j.flavor = target, pos.Flavor.Kind
	return nil
}

// undoMySQLDetach gives the cluster back to the old primary when the
// failover failed before its promote intent, so a failed step leaves the
// cluster writable where it was (DESIGN.md §6.1; docs/design.md §9.33).
//
// Only a live old primary is given back: one this failover fenced, or
// one that answers now. It has every commit it acknowledged, and accepts
// writes again once its replicas receive again. So first the replicas
// whose IO thread this failover stopped (and that ran before it) start
// receiving again (a semi-sync primary with wait_no_slave needs their
// acknowledgements), then read_only=OFF if this failover fenced it
// (giveBack). Nothing was promoted, so no other node is writable and
// nothing is lost; what the fence ended unacknowledged on the old primary
// reaches the replicas.
//
// An old primary that does not answer is left alone, and so are the IO
// threads: in GTID mode START SLAVE IO_THREAD discards the relay
// log and fetches again from the applier's position (measured on MariaDB
// 10.11), so on a replica whose applier lags, received and acknowledged
// transactions whose only other copy was on a dead primary would be lost,
// and the next attempt would promote without them. Stopped, they keep
// what they received for the next attempt to rank and apply.
//
// The step records its own intent, which supersedes the stop-io intent:
// a later holder ranks afresh instead of rolling forward from a detach
// that was undone. Without the lease (the cause of many failures here)
// nothing can be undone: the next holder rolls forward from the stop-io
// intent; that is logged as an error for a person.
//
// It returns what to add to the failover's why.
func (x *executor) undoMySQLDetach(ctx context.Context, j *mysqlJob, stopped []string, old promote.OldState) string {
	p := j.plan
	if r := j.rollFrom; r != nil && r.Step != promote.StepStopIO {
		// An earlier holder's promote (or later) intent: the target may
		// be writable already. Nothing is undone; the next holder rolls
		// forward (§5.7).
		return " (rolling forward from the " + r.Step + " intent of " + string(r.Holder) + ": nothing undone; the next holder rolls forward)"
	}
	unfence := old == promote.OldDemoted
	if !unfence && !x.answers(ctx, p.OldPrimary) {
		if len(stopped) > 0 {
			x.m.log.Warn("failover: gave up before promoting; the old primary does not answer, so the replicas keep their IO threads stopped and what they received for the next attempt (the steward restarts them if it comes back)",
				"epoch", j.epoch, "old_primary", p.OldPrimary, "old_state", old.String(), "replicas", stopped)
		}
		return " (nothing promoted; the old primary does not answer: the replicas' IO threads stay stopped, keeping what they received for the next attempt)"
	}
	restart := slices.DeleteFunc(slices.Clone(stopped), func(a string) bool { return j.ioWasStopped[a] })
	targets := slices.Clone(restart)
	if unfence {
		targets = append(targets, p.OldPrimary)
	}
	it := &quorum.Intent{Step: promote.StepUndo, Target: p.OldPrimary, OldPrimary: p.OldPrimary}
	err := x.step(ctx, promote.StepUndo, targets, undoDeadline, it, func(ctx context.Context) error {
		return x.giveBack(ctx, p.OldPrimary, restart, unfence)
	})
	left := slices.DeleteFunc(slices.Clone(stopped), func(a string) bool { return slices.Contains(restart, a) })
	if err != nil {
		x.m.log.Error("failover: could not give the cluster back to the old primary after the failover failed: it may be read-only and its replicas detached until the next holder rolls forward or the steward undoes the detach (runbook PrimaryReadOnly)",
			"epoch", j.epoch, "old_primary", p.OldPrimary, "unfence", unfence, "replicas", restart, "err", err)
		return " (nothing promoted; the undo failed: " + err.Error() + ")"
	}
	x.m.log.Warn("failover: gave up before promoting; the cluster is back on the old primary",
		"epoch", j.epoch, "old_primary", p.OldPrimary, "unfenced", unfence, "receiving_again", restart, "left_stopped", left)
	why := " (nothing promoted; undone: the replicas receive again"
	if unfence {
		why += " and the old primary accepts writes"
	}
	if len(left) > 0 {
		why += "; " + strings.Join(left, ", ") + " had the IO thread stopped before the failover and keep it so"
	}
	return why + ")"
}

// giveBack gives primary back its replicas after a failover detached
// them and went no further (both undos: the executor's and the steward's
// undo-detach): each replica whose IO thread is stopped cleanly receives
// again, if primary holds everything it received (resumeIO), then
// read_only=OFF on primary when unfence. A replica that received what
// primary lacks keeps its relay log, and primary is not unfenced: a
// person decides. Another replica's failure does not keep primary fenced:
// with wait_no_slave its commits stall until one receives; none is lost.
func (x *executor) giveBack(ctx context.Context, primary string, replicas []string, unfence bool) error {
	pp, err := x.mnode(primary).Position(ctx) // it must still answer
	if err != nil {
		return err
	}
	facts := positionFacts(pp)
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i, a := range replicas {
		wg.Go(func() { errs[i] = x.resumeIO(ctx, a, facts) })
	}
	wg.Wait()
	for _, e := range errs {
		if errors.Is(e, errPrimaryLacks) {
			return errors.Join(errs...)
		}
	}
	if unfence {
		if err := x.mfirst(ctx, primary); err != nil {
			return errors.Join(append(errs, err)...)
		}
		errs = append(errs, x.mnode(primary).Unfence(ctx))
	}
	return errors.Join(errs...)
}

// errPrimaryLacks: a replica received what its primary lacks.
var errPrimaryLacks = errors.New("the primary lacks what the replica received")

// resumeIO starts a MySQL replica's IO thread if it is stopped cleanly (no
// receiver error: a failover stopped it), read when the step runs, and
// only if primary has everything it received (the restart discards its
// relay log).
func (x *executor) resumeIO(ctx context.Context, addr string, primary *probe.MySQLFacts) error {
	if err := x.mfirst(ctx, addr); err != nil {
		return err
	}
	p, err := x.mnode(addr).Position(ctx)
	if err != nil {
		return err
	}
	if ch, ok := p.Channel(); !ok || ch.IO != probe.IOStopped || ch.LastIOErrno != 0 {
		return nil
	}
	beyond, err := promote.ReceivedBeyond(positionFacts(p), primary)
	switch {
	case err != nil:
		return fmt.Errorf("compare what %s received with its primary: %w", addr, err)
	case beyond != "":
		x.m.log.Error("undo: a replica received transactions its primary lacks: its IO thread stays stopped, keeping them, and the primary is not unfenced (a person decides: runbook PrimaryReadOnly)",
			"instance", addr, "missing_on_primary", beyond)
		return fmt.Errorf("%s received %s: %w", addr, beyond, errPrimaryLacks)
	}
	return x.mnode(addr).StartIOThread(ctx)
}

// answers says whether a MySQL node answers its admin session now, within
// one admin timeout.
func (x *executor) answers(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	_, err := x.mnode(addr).Position(ctx)
	return err == nil || mysqlnode.Classify(err) == mysqlnode.Failed
}
