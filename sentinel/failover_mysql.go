package sentinel

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
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
	// catchUpSlice is how long one authorized slice of the catch-up lasts:
	// the lease is asked again before each, so a long catch-up renews it
	// instead of outliving it.
	catchUpSlice = time.Second
)

// mysqlJob is a MySQL failover's input, gathered by the cluster goroutine.
type mysqlJob struct {
	failoverJob
	semi      bool          // the old primary ran semi-sync: the new one does too
	semiTO    time.Duration // its rpl_semi_sync_master_timeout
	catchUp   time.Duration // failover.steps.catch_up
	heartbeat time.Duration
	repl      struct{ user, password string }
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
	log := x.m.log.With("epoch", j.epoch, "old_primary", old, "new_primary", cur)
	log.Info("failover: starting", "fence_wait", p.FenceWait, "roll_forward", j.rollFrom != nil, "why", j.ranking.Why)

	// 1. No replica may keep acknowledging the old primary: stop every
	// reachable replica's IO thread, the candidate's too.
	stopped := append([]string{cur}, j.reachable...)
	var detached time.Time
	err := x.step(ctx, promote.StepStopIO, stopped, j.deadlines.Repoint, j.intent(promote.StepStopIO), func(ctx context.Context) error {
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
		return failoverOutcome{why: "stop the IO threads: " + err.Error()}
	}

	// 2. Fence the old primary in the background; usually it is gone.
	var bg sync.WaitGroup
	defer bg.Wait()
	fenced := make(chan promote.OldState, 1)
	bg.Go(func() {
		err := x.step(ctx, promote.StepFence, []string{old}, j.deadlines.Fence, nil, func(ctx context.Context) error {
			if err := x.mfirst(ctx, old); err != nil {
				return err
			}
			res, err := x.mnode(old).Fence(ctx, fenceLockWait)
			if err == nil && res.Blocked {
				log.Info("failover: the old primary's read_only waited behind a semi-sync commit: its self-fence holds", "killed", res.Killed)
			}
			return err
		})
		switch {
		case err == nil:
			fenced <- promote.OldDemoted // read_only: it refuses writes
		case mysqlnode.Classify(err) == mysqlnode.Refused:
			fenced <- promote.OldRefuses
		default:
			fenced <- promote.OldUnreachable
		}
	})

	// 3. The candidate applies what it received, in authorized slices.
	err = x.catchUp(ctx, j, cur)
	if err != nil {
		return failoverOutcome{why: "catch up on " + cur + ": " + err.Error() + " (nothing promoted; the cluster stays where it was)"}
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
	err = x.step(ctx, promote.StepPromote, []string{cur}, j.deadlines.Promote, j.intent(promote.StepPromote), func(ctx context.Context) error {
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

	// 5. Repoint the others to it (GTID auto-positioning).
	repointed := slices.Clone(j.reachable)
	if len(j.reachable) > 0 {
		host, port, _ := net.SplitHostPort(x.m.announce(cur))
		portN, _ := strconv.Atoi(port)
		src := mysqlsql.Source{Host: host, Port: portN, User: j.repl.user, Password: j.repl.password,
			Heartbeat: j.heartbeat, ConnectRetry: time.Second}
		_ = x.step(ctx, promote.StepRepoint, j.reachable, j.deadlines.Repoint, j.intent(promote.StepRepoint), func(ctx context.Context) error {
			var wg sync.WaitGroup
			errs := make([]error, len(j.reachable))
			for i, r := range j.reachable {
				wg.Go(func() { errs[i] = x.mnode(r).Repoint(ctx, src) })
			}
			wg.Wait()
			for i, e := range errs {
				if e != nil {
					repointed = slices.DeleteFunc(repointed, func(a string) bool { return a == j.reachable[i] })
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
		return failoverOutcome{why: "commit: " + err.Error() + " (the next holder rolls forward from the intent)"}
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
			return failoverOutcome{committed: true, why: "lease lost while the route waited: " + g.Why}
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
	log.Info("failover: done", "repointed", repointed, "routed", routed)
	return failoverOutcome{committed: true, routed: routed}
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
	return nil
}
