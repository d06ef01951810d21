package sentinel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum"
)

// Errors of the operator API; the admin API maps them to status codes.
var (
	// ErrRefused: the fleet or this sentinel refuses the request now (no
	// majority, nothing to promote, a task already running): 409.
	ErrRefused = errors.New("refused")
	// ErrBadRequest: the request names something that is not there: 400.
	ErrBadRequest = errors.New("bad request")
)

// Settings keys of a committed config that the operator sets.
const (
	// SettingPausedUntil (RFC 3339): no automatic failover before then,
	// on every sentinel (DESIGN.md §7: cluster pause).
	SettingPausedUntil = "paused_until"
)

// MaxPause bounds a pause: a forgotten pause must end by itself.
const MaxPause = 7 * 24 * time.Hour

// FailoverPlan is what a forced failover would do: the answer to a dry run.
type FailoverPlan struct {
	Cluster string          `json:"cluster"`
	Plan    promote.Plan    `json:"plan"`
	Ranking promote.Ranking `json:"ranking"`
	// Overrides name what the forced failover overrides (ODOWN not
	// reached, replica vantage, cooldown, pause, the ranking), for the
	// operator to confirm.
	Overrides []string `json:"overrides,omitempty"`
}

// FailoverOutcome is how a forced failover ended.
type FailoverOutcome struct {
	Cluster    string `json:"cluster"`
	Epoch      uint64 `json:"epoch"`
	OldPrimary string `json:"old_primary"`
	NewPrimary string `json:"new_primary"`
	Committed  bool   `json:"committed"`
	Routed     bool   `json:"routed"`
	// Why says why it did not finish; empty when it did.
	Why string `json:"why,omitempty"`
	// Loss is a MySQL failover's loss estimate once it promoted (DESIGN.md
	// §6.8): zero acknowledged writes lost, or what may be.
	Loss *promote.LossEstimate `json:"loss,omitempty"`
}

// opRequest asks the cluster goroutine to plan or start an operator's
// failover.
type opRequest struct {
	start bool   // false: plan only (dry run)
	to    string // the operator's choice, or ""
	reply chan opReply
}

type opReply struct {
	plan FailoverPlan
	job  *failoverJob
	done <-chan taskResult // start: the task's outcome
	err  error
}

// handleOp answers an operator request in the cluster goroutine.
func (m *clusterMonitor) handleOp(r *opRequest, now time.Time) {
	if m.ag == nil {
		r.reply <- opReply{err: fmt.Errorf("%w: the agreement of %s is not running", ErrRefused, m.cfg.Name)}
		return
	}
	if (m.kind == probe.KindRedis && m.newAdmin == nil) || (m.kind == probe.KindMySQL && m.newMySQLAdmin == nil) {
		r.reply <- opReply{err: fmt.Errorf("%w: this sentinel observes %s only", ErrRefused, m.cfg.Name)}
		return
	}
	l, held := m.ag.Lease(now)
	if !r.start {
		// A dry run plans as if the lease had just been won.
		l = quorum.Lease{Cluster: m.cfg.Name, Epoch: m.status.Epoch + 1, Reason: quorum.ReasonOperator, Sent: now,
			Duration: m.agParams.Lease, DriftMargin: m.agParams.DriftMargin}
	} else if !held || l.Reason != quorum.ReasonOperator || m.task != nil {
		r.reply <- opReply{err: fmt.Errorf("%w: this sentinel holds no operator lease over %s, or a task runs there", ErrRefused, m.cfg.Name)}
		return
	}
	var j *failoverJob
	var run func(context.Context, *executor) failoverOutcome
	var why string
	if m.kind == probe.KindMySQL {
		mj, w := m.planMySQLFailover(now, l, r.to)
		if mj != nil {
			j, run = &mj.failoverJob, func(ctx context.Context, x *executor) failoverOutcome { return x.runMySQLFailover(ctx, mj) }
		}
		why = w
	} else {
		rj, w := m.planFailover(now, l, r.to)
		if rj != nil {
			j, run = rj, func(ctx context.Context, x *executor) failoverOutcome { return x.runRedisFailover(ctx, rj) }
		}
		why = w
	}
	if j == nil {
		err := fmt.Errorf("%w: nothing to promote in %s: %s", ErrRefused, m.cfg.Name, why)
		if r.to != "" && m.instances[r.to] == nil {
			err = fmt.Errorf("%w: %s", ErrBadRequest, why)
		}
		r.reply <- opReply{err: err}
		return
	}
	plan := FailoverPlan{Cluster: m.cfg.Name, Plan: j.plan, Ranking: j.ranking, Overrides: m.overrides(j, r.to, now)}
	if !r.start {
		r.reply <- opReply{plan: plan}
		return
	}
	m.log.Warn("operator failover: starting", "epoch", l.Epoch, "to", j.plan.NewPrimary, "overrides", plan.Overrides)
	m.append(EventOperator, now, map[string]any{"epoch": l.Epoch, "action": "failover", "to": j.plan.NewPrimary,
		"overrides": plan.Overrides})
	m.append(EventFailoverPlan, now, map[string]any{"epoch": l.Epoch, "plan": j.plan, "ranking": j.ranking})
	done := make(chan taskResult, 1)
	m.opWaiter = done
	m.ag.Want(quorum.ReasonOperator, true) // the task holds the lease until Done
	m.launch(l, func(ctx context.Context, x *executor) taskResult {
		out := run(ctx, x)
		return taskResult{failover: &out}
	})
	r.reply <- opReply{plan: plan, job: j, done: done}
}

// overrides lists what an operator's forced failover overrides.
func (m *clusterMonitor) overrides(j *failoverJob, to string, now time.Time) []string {
	var out []string
	st := m.status
	if p := m.instances[j.plan.OldPrimary]; p == nil || !p.sdown {
		out = append(out, m.liveFailoverCost(j.plan.OldPrimary))
	}
	if st.State != quorum.StateODOWN && st.State != quorum.StateVantageBlocked {
		out = append(out, "ODOWN not reached: "+st.Tally)
	}
	if st.State == quorum.StateVantageBlocked {
		out = append(out, "replica vantage: "+st.Vantage)
	}
	if strings.Contains(st.Tally, "in cooldown") {
		out = append(out, "the cooldown after the last failover (failover.cooldown): an automatic failover would need every live sentinel's SDOWN")
	}
	if until, ok := m.pausedUntil(); ok && now.Before(until) {
		out = append(out, "the cluster is paused until "+until.Format(time.RFC3339))
	}
	switch {
	case to != "" && j.rollFrom != nil:
		out = append(out, fmt.Sprintf("--to %s is ignored: the %s intent of %s at epoch %d is rolled forward to %s (§5.7)",
			to, j.rollFrom.Step, j.rollFrom.Holder, j.rollFrom.Epoch, j.rollFrom.Target))
	case to != "":
		out = append(out, "ranking: "+j.ranking.Why)
	}
	return out
}

// beginOp takes this sentinel's one operator action slot (opBusy); the
// caller ends it with m.opBusy.Store(false).
func (m *clusterMonitor) beginOp() error {
	if !m.opBusy.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: another operator action on %s runs on this sentinel: wait for it to end", ErrRefused, m.cfg.Name)
	}
	return nil
}

// liveFailoverCost says what a forced failover of a primary that answers
// costs, by kind: a Redis primary's unreplicated acknowledged writes are
// lost; a semi-sync MySQL primary acknowledged nothing a replica lacks
// (AFTER_SYNC), but the commits in flight when its replicas stop
// receiving end on it alone, unacknowledged, and keep it from rejoining
// (ErrantReturningPrimary); an asynchronous one loses what it did not
// send.
func (m *clusterMonitor) liveFailoverCost(old string) string {
	const switchover = " (a switchover does not)"
	if m.kind != probe.KindMySQL {
		return fmt.Sprintf("the primary %s answers: a forced failover loses the writes it acknowledged and did not replicate", old) + switchover
	}
	if p := m.instances[old]; p != nil && p.lastReachable != nil && p.lastReachable.MySQL != nil && p.lastReachable.MySQL.SemiSync.PrimaryEnabled {
		return fmt.Sprintf("the primary %s answers: its commits in flight when the replicas stop receiving are never acknowledged, stay on it alone and keep it from rejoining until a person discards them", old) + switchover
	}
	return fmt.Sprintf("the primary %s answers and is not semi-synchronous: a forced failover loses the writes it acknowledged and did not send to a replica", old) + switchover
}

// pausedUntil reads the committed pause.
func (m *clusterMonitor) pausedUntil() (time.Time, bool) {
	if m.ag == nil {
		return time.Time{}, false
	}
	s, ok := m.ag.Config().Settings[SettingPausedUntil]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// op sends an operator request to the cluster goroutine.
func (m *clusterMonitor) op(ctx context.Context, r *opRequest) opReply {
	select {
	case m.ops <- r:
	case <-ctx.Done():
		return opReply{err: ctx.Err()}
	case <-m.done:
		return opReply{err: ErrStopped}
	}
	select {
	case rep := <-r.reply:
		return rep
	case <-ctx.Done():
		return opReply{err: ctx.Err()}
	case <-m.done:
		return opReply{err: ErrStopped}
	}
}

// operatorLeaseTimeout bounds how long an operator request waits for the
// fleet to grant its lease: voters bound to another holder (a steward
// repairing, or one that died) grant nothing before its lease ends, so one
// lease and a few election rounds.
func (m *clusterMonitor) operatorLeaseTimeout() time.Duration {
	return m.agParams.Lease + 3*m.agParams.ElectionTimeout
}

// lease gets an operator lease for the request, with the reason a person
// needs when the fleet refuses.
func (m *clusterMonitor) operatorLease(ctx context.Context, forced bool) error {
	lctx, cancel := context.WithTimeout(ctx, m.operatorLeaseTimeout())
	defer cancel()
	if err := m.requestLease(lctx, quorum.ReasonOperator, forced); errors.Is(err, ErrRefused) {
		return err // this sentinel's own reason
	} else if err != nil {
		return fmt.Errorf("%w: no majority reachable: %v", ErrRefused, err)
	}
	return nil
}

// PlanFailover answers a dry run of a forced failover of cluster: the
// plan, the ranking and what it would override. Nothing is elected or
// written.
func (d *Daemon) PlanFailover(ctx context.Context, cluster, to string) (FailoverPlan, error) {
	m, err := d.monitor(cluster)
	if err != nil {
		return FailoverPlan{}, err
	}
	rep := m.op(ctx, &opRequest{to: to, reply: make(chan opReply, 1)})
	return rep.plan, rep.err
}

// Failover runs a forced (operator) failover of cluster with this
// sentinel as the candidate (DESIGN.md §5.5): it asks the fleet for an
// operator lease, plans (to, when set, is promoted), and carries the plan
// out under the lease. steps, when set, is called with each step as it is
// journaled. It returns once the failover ended.
func (d *Daemon) Failover(ctx context.Context, cluster, to string) (FailoverOutcome, error) {
	m, err := d.monitor(cluster)
	if err != nil {
		return FailoverOutcome{}, err
	}
	if err := m.beginOp(); err != nil {
		return FailoverOutcome{Cluster: cluster}, err
	}
	defer m.opBusy.Store(false)
	if err := m.operatorLease(ctx, true); err != nil {
		return FailoverOutcome{Cluster: cluster}, err
	}
	rep := m.op(ctx, &opRequest{start: true, to: to, reply: make(chan opReply, 1)})
	if rep.err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.releaseLease(rctx)
		return FailoverOutcome{Cluster: cluster}, rep.err
	}
	out := FailoverOutcome{Cluster: cluster, Epoch: rep.job.epoch, OldPrimary: rep.job.plan.OldPrimary, NewPrimary: rep.job.plan.NewPrimary}
	select {
	case r := <-rep.done:
		if f := r.failover; f != nil {
			out.Committed, out.Routed, out.Why, out.Loss = f.committed, f.routed, f.why, f.loss
			if f.primary != "" {
				out.NewPrimary = f.primary
			}
		}
		return out, nil
	case <-m.done:
		out.Why = "the sentinel stopped"
		return out, ErrStopped
	}
}

// Pause stops automatic failovers of cluster on every sentinel until
// until (a zero until resumes): a setting of the committed config, so the
// whole fleet honours it and it survives restarts. It returns the config
// epoch it was committed at.
func (d *Daemon) Pause(ctx context.Context, cluster string, until time.Time) (uint64, error) {
	m, err := d.monitor(cluster)
	if err != nil {
		return 0, err
	}
	if err := m.beginOp(); err != nil {
		return 0, err
	}
	defer m.opBusy.Store(false)
	if err := m.operatorLease(ctx, false); err != nil {
		return 0, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.releaseLease(rctx)
	}()
	var epoch uint64
	err = m.ask(ctx, &authRequest{step: "commit", deadline: m.steps.Commit, reply: make(chan error, 1),
		mutate: func(c quorum.Config, leaseEpoch uint64) quorum.Config {
			c.Settings = maps.Clone(c.Settings)
			if c.Settings == nil {
				c.Settings = map[string]string{}
			}
			if until.IsZero() {
				delete(c.Settings, SettingPausedUntil)
			} else {
				c.Settings[SettingPausedUntil] = until.UTC().Format(time.RFC3339)
			}
			epoch = leaseEpoch
			return c
		}})
	if err != nil {
		return 0, fmt.Errorf("%w: commit the pause of %s: %v", ErrRefused, cluster, err)
	}
	action := "pause"
	if until.IsZero() {
		action = "resume"
	}
	m.append(EventOperator, time.Now(), map[string]any{"action": action, "paused_until": until})
	return epoch, nil
}
