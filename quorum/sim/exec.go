package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
)

// instances are the data nodes a fake failover chooses from: the seed
// primary and three replicas.
var instances = []string{primary, "r1:1", "r2:1", "r3:1"}

// Step deadlines of the fake executor, as the real one will ask
// Agreement.MayStart: each proposal (an intent, a config) needs a round
// trip; a step on a data node (fence, promote) takes up to a quarter of
// the lease.
const proposeDeadline = 300 * time.Millisecond

// proposeRetry: a proposal neither accepted nor refused by then is sent
// again, as the executor will (lost messages are not retransmitted).
const proposeRetry = time.Second

// execution is one fake failover of a lease holder (DESIGN.md §5.7), the
// way the executor of the next stage will run one: intent (fence, then
// promote) on a majority, the step, then the new config committed.
type execution struct {
	epoch  uint64
	reason quorum.Reason
	phase  string // "fence" or "promote": that intent is proposed; "config": the config is
	seq    uint64 // the proposal waited on
	// sent is when it was proposed (global); a proposal not accepted
	// within proposeRetry is proposed again (its acks may be lost, and
	// the machine does not retransmit). cfg is the config proposed.
	sent   time.Time
	cfg    quorum.Config
	old    string // the primary being replaced
	target string
	roll   bool // rolling forward a predecessor's intent
	// die: the holder dies "after-intent" (the promote intent accepted,
	// before the config is proposed), "after-propose" (the config
	// proposed, before its majority), or "at-announce" (the majority
	// reached, part way through the announcement); how: crash, pause or
	// isolate.
	die, how string
	// proposals with the same holder and epoch are ordered by seq: a
	// replica-list update after the commit.
	update bool
}

func (x *execution) String() string {
	s := fmt.Sprintf("e%d %s→%s phase %s", x.epoch, x.old, x.target, x.phase)
	if x.roll {
		s += " (roll-forward)"
	}
	if x.die != "" {
		s += " (dies " + x.die + " by " + x.how + ")"
	}
	return s
}

// execute runs n's fake executor after n ran: it starts a failover when n
// holds a failover or operator lease (at random, or at once to roll a
// predecessor's intent forward), moves it on as its proposals are
// accepted, and drops it when the lease is gone. It calls MayStart before
// every step and records each step that ran.
func (s *sim) execute(n *node, ticked bool) {
	if !n.up || s.now.Before(n.paused) || s.fail != nil || s.cfg.scripted {
		return
	}
	s.advance(n, ticked)
	if n.up && s.fail == nil {
		s.flush(n, true) // what the proposals ask: persist, then send
	}
}

func (s *sim) advance(n *node, ticked bool) {
	local := n.local(s.now)
	l, held := n.ag.Lease(local)
	x := n.exec
	if x != nil && s.calm {
		x.die = "" // no fault after the calm
	}
	if x != nil && (!held || l.Epoch != x.epoch) {
		// An executor racing the loss of its lease tries its next
		// proposal anyway: the machine must refuse it (ErrNoLease).
		if s.rng.IntN(2) == 0 {
			if seq, err := n.ag.Propose(&quorum.Intent{Step: "late", Target: x.target, OldPrimary: x.old}, nil, local); err == nil {
				s.trace.add(s, "%s: a proposal after the lease was lost went out (seq %d)", n.id, seq)
			}
		}
		s.trace.add(s, "%s: executor stops (%v): the lease is gone", n.id, x)
		n.exec, x = nil, nil
	}
	if !held || !l.Reason.MayChangePrimary() {
		return
	}
	if x == nil {
		if !ticked || n.executed == l.Epoch {
			return
		}
		s.startExec(n, l, local)
		return
	}
	if step, ok := strings.CutPrefix(x.phase, "wait-"); ok {
		s.proposeIntent(n, x, step, local)
		return
	}
	done, failed := n.ag.Accepted(x.seq)
	switch {
	case failed != "":
		s.trace.add(s, "%s: executor gives up (%v): %s", n.id, x, failed)
		n.exec, n.executed = nil, x.epoch
		return
	case !done && s.now.Sub(x.sent) >= proposeRetry:
		s.trace.add(s, "%s: executor proposes again (%v): seq %d neither accepted nor refused in %v", n.id, x, x.seq, proposeRetry)
		if x.phase == "config" {
			s.proposeConfig(n, x, x.cfg, local)
		} else {
			s.proposeIntent(n, x, x.phase, local)
		}
		return
	case !done:
		return
	}
	switch x.phase {
	case "fence":
		if !s.runStep(n, x, "fence", x.old, l.Duration/4, local) {
			return
		}
		s.proposeIntent(n, x, "promote", local)
	case "promote":
		if x.die == "after-intent" {
			s.die(n, x)
			return
		}
		if !s.runStep(n, x, "promote", x.target, l.Duration/4, local) {
			return
		}
		var replicas []string
		for _, r := range instances {
			if r != x.target {
				replicas = append(replicas, r)
			}
		}
		if !s.proposeConfig(n, x, quorum.Config{Primary: x.target, Replicas: replicas}, local) {
			return
		}
		switch x.die {
		case "after-propose":
			if x.how == "crash" {
				s.faults["die-after-propose"]++
				s.trace.add(s, "fault: the holder %s dies after-propose by crash", n.id)
				n.exec = nil
				n.restartWiped = s.rng.IntN(10) < 3
				n.crashMid = true // after the persist, part way through the sends
				n.crashBy = s.now
				s.flush(n, true)
				return
			}
			s.flush(n, true)
			s.die(n, x)
		case "at-announce":
			n.dieAtAnnounce = x.how
		}
	case "config":
		s.trace.add(s, "%s: executor done (%v): config committed", n.id, x)
		n.exec, n.executed = nil, x.epoch
		if x.update || s.calm {
			return
		}
		c := n.ag.Config()
		switch s.rng.IntN(8) {
		case 0:
			// The new primary failed too: a second failover in the same
			// lease would be a second config at this epoch with another
			// primary, which the machine must refuse (a new lease is
			// needed).
			other := instances[0]
			if other == c.Primary {
				other = instances[1]
			}
			local := n.local(s.now)
			if seq, err := n.ag.Propose(nil, &quorum.Config{Primary: other}, local); err == nil {
				s.trace.add(s, "%s: a second config at epoch %d with primary %s was accepted for proposal (seq %d)", n.id,
					x.epoch, other, seq)
			} else {
				s.trace.add(s, "%s: a second failover in the same lease is refused: %v", n.id, err)
			}
			return
		case 1, 2:
		default:
			return
		}
		// A replica-list update at the same epoch: the same primary, so it
		// supersedes the config just committed.
		reps := slices.Clone(c.Replicas)
		if len(reps) > 1 {
			reps = reps[1:]
		}
		x.update = true
		if s.proposeConfig(n, x, quorum.Config{Primary: c.Primary, Replicas: reps}, local) {
			n.exec = x
		}
	}
}

// startExec starts a fake failover: rolling an intent forward when one is
// pending (a predecessor's above the config's epoch, or this holder's own at
// this epoch), else, at random and only while faults run, a new one.
func (s *sim) startExec(n *node, l quorum.Lease, local time.Time) {
	cur := n.ag.Config()
	in, pending := n.ag.LastIntent()
	x := &execution{epoch: l.Epoch, reason: l.Reason, old: cur.Primary}
	switch {
	// Roll forward a predecessor's intent that no commit superseded, or
	// this holder's own from this very epoch (it lost and held the lease
	// again): an executor resumes at its latest step, never restarts at an
	// earlier one (DESIGN.md §5.7).
	case pending && (in.Epoch > cur.Epoch || in.Epoch == l.Epoch && in.Holder == n.id):
		x.roll = true
		x.target = in.Target
		if in.Step != "promote" || in.Target == cur.Primary || in.Target == "" {
			x.target = ""
		}
	case s.calm || s.rng.Float64() >= 0.1: // about once a second of holding
		return
	}
	if x.target == "" {
		var choice []string
		for _, r := range instances {
			if r != cur.Primary {
				choice = append(choice, r)
			}
		}
		x.target = choice[s.rng.IntN(len(choice))]
	}
	if !s.calm {
		switch s.rng.IntN(10) {
		case 0, 1:
			x.die = "after-intent"
		case 2, 3:
			x.die = "after-propose"
		case 4, 5:
			x.die = "at-announce"
		}
		x.how = []string{"crash", "pause", "isolate"}[s.rng.IntN(3)]
	}
	n.exec = x
	step := "promote"
	if !x.roll && s.rng.IntN(3) == 0 {
		step = "fence"
	}
	s.trace.add(s, "%s: executor starts %v", n.id, x)
	s.proposeIntent(n, x, step, local)
}

// proposeIntent asks a majority to persist the intent of step, after
// MayStart allowed it.
func (s *sim) proposeIntent(n *node, x *execution, step string, local time.Time) {
	if err := n.ag.MayStart(step+"-intent", proposeDeadline, local); err != nil {
		s.trace.add(s, "%s: step %s-intent waits: %v", n.id, step, err)
		x.phase, x.seq = "wait-"+step, 0
		return
	}
	target := x.target
	if step == "fence" {
		target = x.old
	}
	seq, err := n.ag.Propose(&quorum.Intent{Step: step, Target: target, OldPrimary: x.old}, nil, local)
	if err != nil {
		s.trace.add(s, "%s: executor gives up (%v): %v", n.id, x, err)
		n.exec, n.executed = nil, x.epoch
		return
	}
	x.phase, x.seq, x.sent = step, seq, s.now
	s.trace.add(s, "%s: executor proposes intent e%d %s %s (seq %d)", n.id, x.epoch, step, target, seq)
}

// proposeConfig asks a majority to persist c after MayStart allowed it;
// false: not now (it waits) or not at all (the executor gave up).
func (s *sim) proposeConfig(n *node, x *execution, c quorum.Config, local time.Time) bool {
	if err := n.ag.MayStart("commit", proposeDeadline, local); err != nil {
		s.trace.add(s, "%s: step commit waits: %v", n.id, err)
		return false
	}
	seq, err := n.ag.Propose(nil, &c, local)
	if err != nil {
		s.trace.add(s, "%s: executor gives up (%v): %v", n.id, x, err)
		n.exec, n.executed = nil, x.epoch
		return false
	}
	x.phase, x.seq, x.sent, x.cfg = "config", seq, s.now, c
	s.trace.add(s, "%s: executor proposes config e%d primary %s %v (seq %d)", n.id, x.epoch, c.Primary, c.Replicas, seq)
	return true
}

// runStep runs a step on a data node if MayStart allows it now, and
// records it; false: it waits for a renewal.
func (s *sim) runStep(n *node, x *execution, step, on string, deadline time.Duration, local time.Time) bool {
	if err := n.ag.MayStart(step, deadline, local); err != nil {
		s.trace.add(s, "%s: step %s waits: %v", n.id, step, err)
		return false
	}
	s.check.stepRan(n, x.epoch, step, on, deadline, local)
	s.trace.add(s, "%s: step %s on %s ran (e%d, deadline %v)", n.id, step, on, x.epoch, deadline)
	return true
}

// die makes the holder die mid-failover.
func (s *sim) die(n *node, x *execution) {
	s.faults["die-"+x.die]++
	s.trace.add(s, "fault: the holder %s dies %s by %s", n.id, x.die, x.how)
	n.exec = nil
	switch x.how {
	case "crash":
		n.restartWiped = s.rng.IntN(10) < 3
		s.crash(n)
	case "pause":
		n.paused = s.now.Add(time.Second + time.Duration(s.rng.Int64N(int64(2*s.params.Lease))))
	default:
		var rest []quorum.MemberID
		for _, id := range s.ids() {
			if id != n.id {
				rest = append(rest, id)
			}
		}
		s.net.Partition([]quorum.MemberID{n.id}, rest)
		s.keepPartition = s.now.Add(s.params.Lease + 2*time.Second)
	}
}
