package sentinel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum"
)

// Errors of the step API.
var (
	// ErrNoCluster: no cluster of that name is configured here.
	ErrNoCluster = errors.New("no such cluster")
	// ErrStopped: the cluster's goroutine has stopped (shutdown).
	ErrStopped = errors.New("cluster monitor stopped")
)

// authRequest asks the cluster goroutine for permission to start a step,
// after persisting its intent on a majority (DESIGN.md §5.7), or to commit
// a config on a majority.
type authRequest struct {
	step     string
	deadline time.Duration
	intent   *quorum.Intent
	config   *quorum.Config
	// mutate, when set, makes the config to commit from the current one
	// (in the cluster goroutine, so nothing changes in between); it is
	// given the lease's epoch, which the commit is made at.
	mutate func(c quorum.Config, leaseEpoch uint64) quorum.Config
	reply  chan error
	seq    uint64 // the intent's proposal, once proposed
}

// leaseRequest asks the cluster goroutine to get a lease for reason
// (DESIGN.md §5.5), answered once it holds one or gives up.
type leaseRequest struct {
	reason quorum.Reason
	forced bool
	until  time.Time
	reply  chan error
}

// authorize is the executors' step API: may this sentinel start step with
// deadline now? When intent is set, it is first persisted on a majority of
// the fleet (the next holder rolls it forward if this one dies). It blocks
// until the answer or ctx; an error says why not (no lease, the lease does
// not cover the deadline, a majority refused the intent).
func (m *clusterMonitor) authorize(ctx context.Context, step string, deadline time.Duration, intent *quorum.Intent) error {
	return m.ask(ctx, &authRequest{step: step, deadline: deadline, intent: intent, reply: make(chan error, 1)})
}

// commit persists c on a majority of the fleet under the held lease: the
// answer comes once a majority has it, or with why it cannot.
func (m *clusterMonitor) commit(ctx context.Context, deadline time.Duration, c quorum.Config) error {
	return m.ask(ctx, &authRequest{step: "commit", deadline: deadline, config: &c, reply: make(chan error, 1)})
}

func (m *clusterMonitor) ask(ctx context.Context, r *authRequest) error {
	step := r.step
	select {
	case m.auth <- r:
	case <-ctx.Done():
		return fmt.Errorf("authorize %s on %s: %w", step, m.cfg.Name, ctx.Err())
	case <-m.done:
		return fmt.Errorf("authorize %s on %s: %w", step, m.cfg.Name, ErrStopped)
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("authorize %s on %s: %w", step, m.cfg.Name, ctx.Err())
	case <-m.done:
		return fmt.Errorf("authorize %s on %s: %w", step, m.cfg.Name, ErrStopped)
	}
}

// requestLease asks the fleet for a lease for reason on behalf of an
// operator (a forced failover, a switchover) or a steward, whichever
// sentinel was asked: this one becomes the candidate and the election runs
// over the fleet transport. It returns once this sentinel holds the lease,
// or with why not when ctx ends first. Done releases it.
func (m *clusterMonitor) requestLease(ctx context.Context, reason quorum.Reason, forced bool) error {
	until, ok := ctx.Deadline()
	if !ok {
		return fmt.Errorf("request %s lease on %s: the request needs a deadline", reason, m.cfg.Name)
	}
	r := &leaseRequest{reason: reason, forced: forced, until: until, reply: make(chan error, 1)}
	select {
	case m.leaseReq <- r:
	case <-ctx.Done():
		return fmt.Errorf("request %s lease on %s: %w", reason, m.cfg.Name, ctx.Err())
	case <-m.done:
		return fmt.Errorf("request %s lease on %s: %w", reason, m.cfg.Name, ErrStopped)
	}
	select {
	case err := <-r.reply:
		return err
	case <-m.done:
		return fmt.Errorf("request %s lease on %s: %w", reason, m.cfg.Name, ErrStopped)
	}
}

// releaseLease ends the task of the lease this sentinel holds.
func (m *clusterMonitor) releaseLease(ctx context.Context) error {
	select {
	case m.release <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrStopped
	}
}

// handleAuth starts answering a step request in the cluster goroutine.
func (m *clusterMonitor) handleAuth(r *authRequest, now time.Time) {
	if m.ag == nil {
		r.reply <- fmt.Errorf("authorize %s on %s: the agreement is not running", r.step, m.cfg.Name)
		return
	}
	m.tickAgreement(now) // fresh TILT and lease state before answering
	if m.ag == nil {
		r.reply <- fmt.Errorf("authorize %s on %s: the agreement is not running", r.step, m.cfg.Name)
		return
	}
	if r.mutate != nil {
		if l, ok := m.ag.Lease(now); ok {
			c := m.ag.Config()
			if c.Epoch == 0 || c.Primary == "" {
				c = quorum.Config{Primary: m.cfg.Primary} // the seed, committed with the change
			}
			c = r.mutate(c, l.Epoch)
			r.config = &c
		}
	}
	if r.intent == nil && r.config == nil {
		r.reply <- m.ag.MayStart(r.step, r.deadline, now)
		return
	}
	if err := m.pendingFailoverRefuses(r.intent); err != nil {
		r.reply <- err
		return
	}
	// The intent must reach a majority and leave the step's deadline
	// covered: check before proposing, so no intent is recorded for a step
	// that could not start anyway.
	if err := m.ag.MayStart(r.step, r.deadline, now); err != nil {
		r.reply <- err
		return
	}
	seq, err := m.ag.Propose(r.intent, r.config, now)
	if err != nil {
		r.reply <- err
		return
	}
	r.seq = seq
	m.pendingAuth = append(m.pendingAuth, r)
	m.carryOut(now)
	m.settle(now)
}

// handleLease starts a lease request in the cluster goroutine.
func (m *clusterMonitor) handleLease(r *leaseRequest, now time.Time) {
	if m.ag == nil {
		r.reply <- fmt.Errorf("request %s lease on %s: the agreement is not running", r.reason, m.cfg.Name)
		return
	}
	if m.task != nil {
		// Its lease belongs to the task: an operator's want would replace
		// it, and giving that up would release the task's lease mid-step.
		r.reply <- fmt.Errorf("%w: this sentinel runs a task (a failover or a steward's repairs) on %s at epoch %d: ask again when it ends",
			ErrRefused, m.cfg.Name, m.task.epoch)
		return
	}
	if m.stewardWanted {
		// The request replaces the steward's want (the agreement has one);
		// a steward lease held for it is given back first.
		m.stewardWanted = false
		if l, ok := m.ag.Lease(now); ok && l.Reason != r.reason {
			m.ag.Done(now)
			m.carryOut(now)
		}
	}
	m.ag.Want(r.reason, r.forced)
	m.pendingLease = append(m.pendingLease, r)
	m.tickAgreement(now)
}

// settle answers the pending step and lease requests whose outcome is
// known: after every Tick and Step.
func (m *clusterMonitor) settle(now time.Time) {
	if m.ag == nil {
		return
	}
	keep := m.pendingAuth[:0]
	for _, r := range m.pendingAuth {
		done, failed := m.ag.Accepted(r.seq)
		switch {
		case done:
			r.reply <- m.ag.MayStart(r.step, r.deadline, now)
		case failed != "":
			what := "intent for " + r.step
			if r.config != nil {
				what = "config"
			}
			r.reply <- fmt.Errorf("%s on %s: %s", what, m.cfg.Name, failed)
		default:
			keep = append(keep, r)
			continue
		}
	}
	m.pendingAuth = keep

	keepL := m.pendingLease[:0]
	for _, r := range m.pendingLease {
		l, ok := m.ag.Lease(now)
		switch {
		case ok && l.Reason == r.reason:
			r.reply <- nil
		case !now.Before(r.until):
			m.ag.Done(now) // give up the want; release if it won meanwhile
			m.carryOut(now)
			st := m.ag.Status(now)
			r.reply <- fmt.Errorf("request %s lease on %s: no majority granted it in time (state %s; %s)",
				r.reason, m.cfg.Name, st.State, firstOf(st.Election, st.Tally))
		default:
			keepL = append(keepL, r)
			continue
		}
	}
	m.pendingLease = keepL
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// monitor finds a running cluster's monitor. Safe from any goroutine.
func (d *Daemon) monitor(name string) (*clusterMonitor, error) {
	ms := d.monitors.Load()
	if ms == nil {
		return nil, fmt.Errorf("%w: %s (the daemon is not running yet)", ErrNoCluster, name)
	}
	m, ok := (*ms)[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoCluster, name)
	}
	return m, nil
}

// Authorize is the executors' step API (DESIGN.md §5.6–5.7): may this
// sentinel start step on cluster with deadline now? When intent is set it
// is first persisted on a majority of the fleet. It blocks until the answer
// or ctx; the error says why not.
func (d *Daemon) Authorize(ctx context.Context, cluster, step string, deadline time.Duration, intent *quorum.Intent) error {
	m, err := d.monitor(cluster)
	if err != nil {
		return err
	}
	return m.authorize(ctx, step, deadline, intent)
}

// RequestLease asks the fleet for a lease over cluster for reason, with
// this sentinel as the candidate, whichever sentinel the operator asked
// (DESIGN.md §5.5). ctx must have a deadline; the error says why no
// majority granted it.
func (d *Daemon) RequestLease(ctx context.Context, cluster string, reason quorum.Reason, forced bool) error {
	m, err := d.monitor(cluster)
	if err != nil {
		return err
	}
	return m.requestLease(ctx, reason, forced)
}

// ReleaseLease ends the task of the lease this sentinel holds on cluster.
func (d *Daemon) ReleaseLease(ctx context.Context, cluster string) error {
	m, err := d.monitor(cluster)
	if err != nil {
		return err
	}
	return m.releaseLease(ctx)
}

// pendingFailoverRefuses refuses an operator's intent while the fleet's
// last intent (as this holder learned it with its grants) is a failover's
// step away from the committed primary: its target may be writable
// already, and the operator's intent would hide it from the next holder's
// roll-forward (docs/design.md §9.38).
func (m *clusterMonitor) pendingFailoverRefuses(it *quorum.Intent) error {
	if it == nil || !strings.HasPrefix(it.Step, "operator-") {
		return nil
	}
	last, ok := m.pendingFailover()
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: a failover of %s by %s at epoch %d is not finished (its %s intent moves the primary from %s to %s): %s",
		ErrRefused, m.cfg.Name, last.Holder, last.Epoch, last.Step, last.OldPrimary, last.Target, pendingAdvice(m.cfg.Name, last))
}

// pendingAdvice says what a person does about a failover intent nobody
// finished.
func pendingAdvice(cluster string, last quorum.Intent) string {
	if last.Step == promote.StepStopIO {
		return "nothing was promoted: the next failover holder goes on, or the steward undoes the detach once " + last.OldPrimary + " answers"
	}
	return fmt.Sprintf("if %s answers, no automatic failover finishes it: `imctl failover %s` rolls it forward to %s", last.OldPrimary, cluster, last.Target)
}
