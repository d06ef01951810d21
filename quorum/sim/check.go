package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
)

// Invariant names, as a Failure reports them.
const (
	InvOneLeader  = "one-leader-per-epoch"      // 1
	InvNoOverlap  = "no-overlapping-leases"     // 2
	InvMajority   = "majority-elects"           // 3
	InvLearner    = "learner-never-votes"       // 4
	InvMonotone   = "persisted-monotone"        // 5
	InvLiveness   = "liveness"                  // 6
	InvOneVote    = "one-vote-per-epoch"        // a voter grants one candidate per epoch
	InvPersisted  = "persist-before-send"       // a grant is stored before its reply goes out
	InvLearnedAll = "learner-catches-up"        // a learner learns every majority-granted epoch
	InvEpochOrder = "leases-in-epoch-order"     // a later lease has a higher epoch
	InvCovered    = "authority-within-bindings" // a majority's bindings outlast the holder's authority
	InvWire       = "wire"                      // the simulator's own encoding works
)

// leaseRec is one epoch's lease as the simulation saw it, in global time.
type leaseRec struct {
	epoch  uint64
	holder quorum.MemberID
	reason quorum.Reason
	// start is when the holder first held it (it cannot act before it
	// knows it won); end is the mapped expiry of its authority, cut short
	// when the holder released it, lost it or crashed.
	start, end time.Time
	open       bool
	expired    bool // it ran out (not released, not crashed)
}

func (l *leaseRec) String() string {
	return fmt.Sprintf("epoch %d (%s) held by %s over [%.3fs, %.3fs)", l.epoch, l.reason, l.holder,
		l.start.Sub(t0).Seconds(), l.end.Sub(t0).Seconds())
}

// checker holds what the invariants need across the run.
type checker struct {
	s      *sim
	leases map[uint64]*leaseRec
	order  []*leaseRec // by start
	// grants[epoch][voter] is the candidate the voter granted at epoch, in
	// its current data_dir (a wipe forgets them: see wiped).
	grants map[uint64]map[quorum.MemberID]quorum.MemberID
	// everGranted[epoch] counts, by candidate, the distinct voters that
	// ever granted it at epoch (data_dirs wiped since included).
	everGranted map[uint64]map[quorum.MemberID][]quorum.MemberID
	// bound is each voter's latest grant or renewal acknowledgement: to
	// whom, at which epoch, and until when its binding holds, mapped to
	// global time.
	bound map[quorum.MemberID]binding
	// cfg: the intent and config invariants (check_config.go).
	cfg cfgChecks
}

type binding struct {
	holder quorum.MemberID
	epoch  uint64
	until  time.Time
}

func (c *checker) grant(voter quorum.MemberID, epoch uint64, cand quorum.MemberID) {
	s := c.s
	if c.grants[epoch] == nil {
		c.grants[epoch] = map[quorum.MemberID]quorum.MemberID{}
	}
	if prev, ok := c.grants[epoch][voter]; ok && prev != cand {
		s.failf(InvOneVote, "%s granted epoch %d to %s and then to %s (DESIGN.md §5.5: one vote per epoch)",
			voter, epoch, prev, cand)
		return
	}
	c.grants[epoch][voter] = cand
	c.cfg.maxGrant[voter] = max(c.cfg.maxGrant[voter], epoch)
	if c.everGranted == nil {
		c.everGranted = map[uint64]map[quorum.MemberID][]quorum.MemberID{}
	}
	if c.everGranted[epoch] == nil {
		c.everGranted[epoch] = map[quorum.MemberID][]quorum.MemberID{}
	}
	if !slices.Contains(c.everGranted[epoch][cand], voter) {
		c.everGranted[epoch][cand] = append(c.everGranted[epoch][cand], voter)
	}
}

// majorityEpoch is the highest epoch a majority granted to one candidate.
func (c *checker) majorityEpoch() uint64 {
	var top uint64
	for e, byCand := range c.everGranted {
		for _, vs := range byCand {
			if len(vs) >= c.s.voters.Majority() {
				top = max(top, e)
			}
		}
	}
	return top
}

// persist checks a Persistent n is about to store: invariant 5 (never
// backwards, except through a wipe, and a learner catches up with every
// epoch a majority granted), and records a new binding as a grant.
func (c *checker) persist(n *node, p quorum.Persistent) {
	s, old := c.s, n.stored
	if p.HighestEpoch < old.HighestEpoch || p.ConfigEpoch < old.ConfigEpoch {
		s.failf(InvMonotone, "%s persists highest epoch %d, config epoch %d after %d, %d (DESIGN.md §5.5)",
			n.id, p.HighestEpoch, p.ConfigEpoch, old.HighestEpoch, old.ConfigEpoch)
		return
	}
	if p.Learned && !old.Learned && p.HighestEpoch < n.mustLearn {
		s.failf(InvLearnedAll, "%s learned highest epoch %d, but a majority had granted epoch %d before its data_dir was wiped (DESIGN.md §5.2)",
			n.id, p.HighestEpoch, n.mustLearn)
		return
	}
	b := p.Binding
	if b.Holder != "" && (b.Holder != old.Binding.Holder || b.Epoch != old.Binding.Epoch) {
		if !p.Learned {
			s.failf(InvLearner, "%s, a learner, stores a grant of epoch %d to %s (DESIGN.md §5.2)", n.id, b.Epoch, b.Holder)
			return
		}
		c.grant(n.id, b.Epoch, b.Holder)
	}
	c.persistConfig(n, old, p)
}

// send checks a message n sends: a granted vote is stored before the
// reply goes out, and never comes from a learner (invariant 4).
func (c *checker) send(n *node, m quorum.Message, local time.Time) {
	s := c.s
	c.sendConfig(n, m)
	if m.Kind == quorum.KindRenewReply && m.RenewReply.Grant {
		r := m.RenewReply
		c.bind(n, r.Holder, r.Epoch, local)
	}
	if m.Kind != quorum.KindVoteReply || !m.VoteReply.Grant {
		return
	}
	r := m.VoteReply
	c.bind(n, r.Candidate, r.Epoch, local)
	if st := n.ag.Status(local); st.State == quorum.StateLearning || !n.stored.Learned {
		s.failf(InvLearner, "%s grants epoch %d to %s while learning (status %s, stored learned %v; DESIGN.md §5.2)",
			n.id, r.Epoch, r.Candidate, st.State, n.stored.Learned)
		return
	}
	if b := n.stored.Binding; b.Holder != r.Candidate || b.Epoch != r.Epoch || n.stored.HighestEpoch < r.Epoch {
		s.failf(InvPersisted, "%s replies GRANT epoch %d to %s, but its data_dir holds binding %s@%d, highest %d (DESIGN.md §5.5: fsync before the reply)",
			n.id, r.Epoch, r.Candidate, b.Holder, b.Epoch, n.stored.HighestEpoch)
	}
}

// bind records that n, at its local time, bound itself to holder at epoch
// for one lease (DecideVote and DecideRenew: Until = now + lease).
func (c *checker) bind(n *node, holder quorum.MemberID, epoch uint64, local time.Time) {
	if c.bound == nil {
		c.bound = map[quorum.MemberID]binding{}
	}
	c.bound[n.id] = binding{holder: holder, epoch: epoch, until: n.global(local.Add(c.s.params.Lease))}
}

// covered checks the holder's side of a lease against the voters' side
// (DESIGN.md §5.6): until the authority's end, at least a majority
// (the holder included) are bound to it, by the grants and renewal
// acknowledgements they sent. A holder that counts its authority from the
// wrong moment, or without the drift margin, fails this as soon as its
// clock is slower than its voters', long before a rival happens to be
// elected in the gap.
func (c *checker) covered(rec *leaseRec) {
	n, short := 1, []string{}
	for _, id := range c.s.voters.IDs() {
		b, ok := c.bound[id]
		switch {
		case id == rec.holder:
		case !ok || b.holder != rec.holder || b.epoch != rec.epoch:
		case b.until.Before(rec.end):
			short = append(short, fmt.Sprintf("%s until %.3fs", id, b.until.Sub(t0).Seconds()))
		default:
			n++
		}
	}
	if n < c.s.voters.Majority() {
		c.s.failf(InvCovered, "%s: only %d of majority %d are bound to it until its end (holder included); short: %v",
			rec, n, c.s.voters.Majority(), short)
	}
}

// lease records the lease n holds now, if any, and checks invariants 1–3.
func (c *checker) lease(n *node) {
	s := c.s
	local := n.local(s.now)
	l, ok := n.ag.Lease(local)
	if n.holding != 0 && (!ok || l.Epoch != n.holding) {
		c.close(n)
	}
	if !ok {
		return
	}
	end := n.global(l.Expiry())
	rec := c.leases[l.Epoch]
	switch {
	case rec == nil:
		rec = &leaseRec{epoch: l.Epoch, holder: n.id, reason: l.Reason, start: s.now, end: end, open: true}
		if !rec.start.Before(rec.end) {
			return // won and expired in the same instant: never held
		}
		c.leases[l.Epoch] = rec
		for _, o := range c.order {
			if o.epoch > rec.epoch {
				s.failf(InvEpochOrder, "%s holds %s, which starts after %s", n.id, rec, o)
				return
			}
		}
		c.order = append(c.order, rec)
		c.majority(rec)
		c.rollForward(n, rec)
		s.trace.add(s, "%s: holds %s", n.id, rec)
	case rec.holder != n.id:
		s.failf(InvOneLeader, "%s holds a lease at epoch %d, already held by %s: %s", n.id, l.Epoch, rec.holder, rec)
		return
	case !rec.open:
		// A renewal a majority acknowledged may come back after the
		// authority ran out and before the holder's next tick dropped the
		// lease: its authority counts again from that renewal's send
		// time, which the acknowledging voters' bindings cover. The
		// record keeps its start, so the gap counts as held.
		rec.open = true
		rec.end = maxTime(rec.end, end)
		s.trace.add(s, "%s: holds %s again (a late renewal acknowledgement)", n.id, rec)
	case end.After(rec.end):
		rec.end = end
	default:
		n.holding = l.Epoch
		return
	}
	n.holding = l.Epoch
	c.covered(rec)
	c.overlap(rec)
}

// majority checks invariant 3: the epoch was granted by a majority to its
// holder (each grant persisted by its voter).
func (c *checker) majority(rec *leaseRec) {
	vs := c.everGranted[rec.epoch][rec.holder]
	if len(vs) < c.s.voters.Majority() {
		c.s.failf(InvMajority, "%s holds %s granted only by %v, not a majority of %d (DESIGN.md §5.1)",
			rec.holder, rec, vs, c.s.voters.Majority())
	}
}

// overlap checks invariant 2 for rec against every other lease.
func (c *checker) overlap(rec *leaseRec) {
	for _, o := range c.order {
		if o != rec && o.start.Before(rec.end) && rec.start.Before(o.end) {
			end, start := o.end, o.start
			if rec.end.Before(end) {
				end = rec.end
			}
			if rec.start.After(start) {
				start = rec.start
			}
			c.s.failf(InvNoOverlap, "%s overlaps %s by %v (DESIGN.md §5.6)", rec, o, end.Sub(start))
			return
		}
	}
}

// close ends n's lease record now (released, lost, or n crashed).
func (c *checker) close(n *node) {
	if rec := c.leases[n.holding]; rec != nil && rec.open {
		rec.open = false
		rec.expired = !c.s.now.Before(rec.end)
		if !rec.expired {
			rec.end = c.s.now
		}
		c.s.trace.add(c.s, "%s: no longer holds epoch %d", n.id, rec.epoch)
	}
	n.holding = 0
}

func (c *checker) crashed(n *node) { c.close(n) }

// wiped forgets n's grants: its new data_dir has given none (one vote per
// epoch is per data_dir; one leader per epoch still holds across wipes).
func (c *checker) wiped(n *node) {
	for _, byVoter := range c.grants {
		delete(byVoter, n.id)
	}
	delete(c.cfg.maxGrant, n.id)
	delete(c.cfg.seen, n.id)
}

// everyStep closes the leases whose authority ran out while nobody looked
// (their holder paused), so the checks see them end.
func (c *checker) everyStep() {
	for _, n := range c.s.nodes {
		if n.up && !c.s.now.Before(n.paused) {
			c.lease(n)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
