package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
)

// Invariant names of intents and configs (doc.go, "Intents and configs").
const (
	InvConfigBack   = "configs-never-backwards"  // a: Config().Epoch is monotonic per data_dir
	InvLearnedCfg   = "learner-learns-configs"   // a: a wiped sentinel learns every majority-persisted config
	InvOneConfig    = "one-config-per-epoch"     // b: one primary per config epoch, fleet-wide
	InvCommitted    = "committed-by-majority"    // c: announced committed only after a majority persisted it
	InvAckPersisted = "persist-before-ack"       // c: an ack goes out only once the proposal is stored
	InvAckBound     = "ack-only-when-bound"      // c: only voters bound to the holder at its epoch ack
	InvProposer     = "proposer-holds-the-lease" // d: a proposal's epoch is its proposer's valid lease
	InvProvenance   = "config-from-its-holder"   // d: every stored config or intent was proposed by its epoch's holder
	InvStepInLease  = "step-within-authority"    // d: a step's deadline ends within its holder's authority
	InvIntentBack   = "intents-never-backwards"  // e: a data_dir's intent never goes back to an earlier one
	InvRollForward  = "roll-forward-known"       // e: the next leader knows every unsuperseded majority intent
	InvConverge     = "configs-converge"         // f: after the calm every sentinel holds the same, highest config
	InvLeaderConfig = "leader-knows-config"      // a, §5.9: a new leader holds every config a majority stored
)

// propRec is one intent or config a holder proposed.
type propRec struct {
	holder quorum.MemberID
	epoch  uint64
	// order counts proposals across the run; a holder's proposals at one
	// epoch are in this order (its Seq order).
	order int
	what  string
	// persisted: the sentinels whose data_dir stored it (ever, wipes
	// included); committed: when they first made a majority.
	persisted map[quorum.MemberID]bool
	committed time.Time
}

type stepRec struct {
	holder     quorum.MemberID
	epoch      uint64
	step, on   string
	start, end time.Time // global
}

// cfgChecks is what the intent and config invariants need across the run.
type cfgChecks struct {
	props map[string]*propRec // by propKey
	order int
	// epochPrimary is the primary of each config epoch stored anywhere.
	epochPrimary map[uint64]string
	// seen is each sentinel's last Config(), kept across restarts with its
	// data_dir, forgotten by a wipe.
	seen map[quorum.MemberID]quorum.Config
	// maxGrant is each data_dir's highest granted epoch.
	maxGrant map[quorum.MemberID]uint64
	steps    []stepRec
	// cutShort counts steps that may overlap an earlier holder's step
	// whose lease ended before that step's deadline.
	cutShort int
}

func cfgKey(c quorum.Config) string {
	keys := slices.Sorted(maps.Keys(c.Settings))
	var set []string
	for _, k := range keys {
		set = append(set, k+"="+c.Settings[k])
	}
	return fmt.Sprintf("c/%d/%s/%s/%s", c.Epoch, c.Primary, strings.Join(c.Replicas, ","), strings.Join(set, ","))
}

func intentKey(in quorum.Intent) string {
	return fmt.Sprintf("i/%d/%s/%s/%s/%s", in.Epoch, in.Holder, in.Step, in.Target, in.OldPrimary)
}

func cfgString(c quorum.Config) string {
	return fmt.Sprintf("e%d %s %v", c.Epoch, c.Primary, c.Replicas)
}

func storedConfig(p quorum.Persistent) quorum.Config {
	return quorum.Config{Cluster: cluster, Epoch: p.ConfigEpoch, Primary: p.Primary, Replicas: p.Replicas,
		Settings: p.Settings}
}

func sameConfig(a, b quorum.Config) bool { return cfgKey(a) == cfgKey(b) }

// after says whether proposal a comes after b: a higher epoch, or the same
// epoch and proposed later.
func (a *propRec) after(b *propRec) bool {
	return a.epoch > b.epoch || a.epoch == b.epoch && a.order > b.order
}

func (c *checker) majorityOf(set map[quorum.MemberID]bool) bool {
	return len(set) >= c.s.voters.Majority()
}

// proposed records a proposal n is about to send and checks invariant d:
// its epoch is the lease n holds now, with authority left, and a config
// carries that epoch.
func (c *checker) proposed(n *node, p quorum.Proposal, local time.Time) {
	s := c.s
	l, ok := n.ag.Lease(local)
	rec := c.leases[p.Epoch]
	switch {
	case !ok || l.Epoch != p.Epoch || n.ag.MayStart("propose", 0, local) != nil:
		s.failf(InvProposer, "%s proposes at epoch %d without holding that lease (held %v, epoch %d; DESIGN.md §5.6)",
			n.id, p.Epoch, ok, l.Epoch)
		return
	case rec == nil || rec.holder != n.id:
		s.failf(InvProposer, "%s proposes at epoch %d, whose lease the simulation saw held by %v", n.id, p.Epoch, rec)
		return
	case p.Config != nil && p.Config.Epoch != p.Epoch:
		s.failf(InvProposer, "%s proposes config %s at lease epoch %d", n.id, cfgString(*p.Config), p.Epoch)
		return
	}
	key, what := "", ""
	if p.Intent != nil {
		key, what = intentKey(*p.Intent), fmt.Sprintf("intent e%d %s %s by %s", p.Epoch, p.Intent.Step, p.Intent.Target, n.id)
	} else {
		key, what = cfgKey(*p.Config), "config "+cfgString(*p.Config)+" by "+string(n.id)
	}
	if c.cfg.props[key] != nil {
		return // the same proposal again
	}
	c.cfg.order++
	c.cfg.props[key] = &propRec{holder: n.id, epoch: p.Epoch, order: c.cfg.order, what: what,
		persisted: map[quorum.MemberID]bool{}}
}

// persistConfig checks the intent and config of a Persistent n is about to
// store over old: b, d, e (never backwards) and a (learning).
func (c *checker) persistConfig(n *node, old, p quorum.Persistent) {
	s := c.s
	pc, oc := storedConfig(p), storedConfig(old)
	if pc.Epoch > 0 && !sameConfig(pc, oc) {
		rec := c.cfg.props[cfgKey(pc)]
		if rec == nil {
			s.failf(InvProvenance, "%s stores config %s, which the holder of epoch %d never proposed", n.id, cfgString(pc), pc.Epoch)
			return
		}
		if prim, ok := c.cfg.epochPrimary[pc.Epoch]; ok && prim != pc.Primary {
			s.failf(InvOneConfig, "%s stores config epoch %d with primary %s; another sentinel stored %s at that epoch",
				n.id, pc.Epoch, pc.Primary, prim)
			return
		}
		c.cfg.epochPrimary[pc.Epoch] = pc.Primary
		rec.persisted[n.id] = true
		if rec.committed.IsZero() && c.majorityOf(rec.persisted) {
			rec.committed = s.now
		}
	}
	if pc.Epoch < oc.Epoch || pc.Epoch == oc.Epoch && pc.Primary != oc.Primary && oc.Primary != "" {
		s.failf(InvConfigBack, "%s stores config %s over %s", n.id, cfgString(pc), cfgString(oc))
		return
	}
	if in := p.Intent; in.Step != "" && in != old.Intent {
		rec := c.cfg.props[intentKey(in)]
		if rec == nil {
			s.failf(InvProvenance, "%s stores intent %+v, which its holder never proposed", n.id, in)
			return
		}
		if old.Intent.Step != "" {
			if prev := c.cfg.props[intentKey(old.Intent)]; prev != nil && prev.after(rec) {
				s.failf(InvIntentBack, "%s stores %s (proposal %d) over the later %s (proposal %d): roll-forward information lost (DESIGN.md §5.7)",
					n.id, rec.what, rec.order, prev.what, prev.order)
				return
			}
		}
		rec.persisted[n.id] = true
		if rec.committed.IsZero() && c.majorityOf(rec.persisted) {
			rec.committed = s.now
		}
	}
	if p.Learned && !old.Learned && pc.Epoch < n.mustLearnConfig {
		s.failf(InvLearnedCfg, "%s learned config epoch %d, but a majority had stored config epoch %d before its data_dir was wiped (DESIGN.md §5.2)",
			n.id, pc.Epoch, n.mustLearnConfig)
	}
}

// majorityConfigEpoch is the highest config epoch a majority stored.
// majorityConfigEpoch is the highest config epoch a majority had stored
// by before (global time).
func (c *checker) majorityConfigEpoch(before time.Time) uint64 {
	var top uint64
	for key, r := range c.cfg.props {
		if strings.HasPrefix(key, "c/") && !r.committed.IsZero() && r.committed.Before(before) {
			top = max(top, r.epoch)
		}
	}
	return top
}

// topCommitted is the latest config a majority stored.
func (c *checker) topCommitted() *propRec {
	var top *propRec
	for key, r := range c.cfg.props {
		if strings.HasPrefix(key, "c/") && !r.committed.IsZero() && (top == nil || r.after(top)) {
			top = r
		}
	}
	return top
}

// sendConfig checks the proposal replies and announcements n sends
// (invariant c): an ack only from a voter bound to the holder at that
// epoch, which granted no later one, with the proposal already stored;
// a committed announcement only for a config a majority stored.
func (c *checker) sendConfig(n *node, m quorum.Message) {
	s := c.s
	switch {
	case m.Kind == quorum.KindProposeAck && m.ProposeAck.OK:
		r := m.ProposeAck
		if h := c.grants[r.Epoch][n.id]; h != r.Holder {
			s.failf(InvAckBound, "%s acks %s's proposal %d at epoch %d, but granted that epoch to %q (DESIGN.md §5.7: only voters bound to the holder)",
				n.id, r.Holder, r.Seq, r.Epoch, h)
			return
		}
		if g := c.cfg.maxGrant[n.id]; g > r.Epoch {
			s.failf(InvAckBound, "%s acks %s's proposal %d at epoch %d after granting epoch %d: the next holder would not learn it",
				n.id, r.Holder, r.Seq, r.Epoch, g)
			return
		}
		p := n.stepping
		if p == nil || p.Kind != quorum.KindPropose || p.Propose.Seq != r.Seq || p.Propose.Holder != r.Holder {
			return
		}
		// An intent is persisted when it is stored, or when a later intent
		// of the same holder and epoch is (parallel steps' intents may
		// arrive out of order; the later one says where to roll forward).
		if in := p.Propose.Intent; in != nil && n.stored.Intent != *in {
			st := n.stored.Intent
			if st.Epoch != in.Epoch || st.Holder != in.Holder || st.Seq < in.Seq {
				s.failf(InvAckPersisted, "%s acks intent %+v with %+v stored", n.id, *in, st)
			}
		}
		if cf := p.Propose.Config; cf != nil && !sameConfig(*cf, storedConfig(n.stored)) {
			s.failf(InvAckPersisted, "%s acks config %s with %s stored", n.id, cfgString(*cf), cfgString(storedConfig(n.stored)))
		}
	case m.Kind == quorum.KindCommitted:
		rec := c.cfg.props[cfgKey(*m.Committed)]
		if rec == nil || !c.majorityOf(rec.persisted) {
			var by []quorum.MemberID
			if rec != nil {
				by = slices.Sorted(maps.Keys(rec.persisted))
			}
			s.failf(InvCommitted, "%s announces config %s committed, stored only by %v (majority %d)", n.id,
				cfgString(*m.Committed), by, s.voters.Majority())
		}
	}
}

// heldConfig checks the config n holds now against what it held before
// (a: never backwards, also across restarts with the data_dir) and against
// the fleet (b: one primary per epoch).
func (c *checker) heldConfig(n *node) {
	s := c.s
	cur := n.ag.Config()
	if prev, ok := c.cfg.seen[n.id]; ok && (cur.Epoch < prev.Epoch || cur.Epoch == prev.Epoch && cur.Primary != prev.Primary && prev.Primary != "") {
		s.failf(InvConfigBack, "%s holds config %s after %s (DESIGN.md §5.9: configs never go backwards)", n.id,
			cfgString(cur), cfgString(prev))
		return
	}
	c.cfg.seen[n.id] = cur
	if prim, ok := c.cfg.epochPrimary[cur.Epoch]; cur.Epoch > 0 && ok && prim != cur.Primary {
		s.failf(InvOneConfig, "%s holds config epoch %d with primary %s; %s was stored at that epoch", n.id, cur.Epoch,
			cur.Primary, prim)
	}
}

// rollForward checks invariant e when rec's holder first holds it: it
// knows (LastIntent) every intent a majority stored at an earlier epoch
// that no later committed config superseded (DESIGN.md §5.7).
func (c *checker) rollForward(n *node, rec *leaseRec) {
	s := c.s
	// The voters checked the candidate's config when they granted, so what
	// the leader must hold is every config a majority had stored when it
	// asked (a config can reach a majority later, through a pull, while
	// the grants are on their way; the next commit supersedes it).
	asked := s.now
	if l, ok := n.ag.Lease(n.local(s.now)); ok {
		asked = n.global(l.Sent)
	}
	if cur, top := n.ag.Config(), c.majorityConfigEpoch(asked); cur.Epoch < top {
		s.failf(InvLeaderConfig, "%s holds epoch %d with config %s, but a majority stored config epoch %d before it asked for votes (DESIGN.md §5.5, §5.9: a voter refuses a candidate with an older config)",
			n.id, rec.epoch, cfgString(cur), top)
		return
	}
	know := &propRec{}
	in, ok := n.ag.LastIntent()
	if ok {
		if k := c.cfg.props[intentKey(in)]; k != nil {
			know = k
		} else {
			know = &propRec{epoch: in.Epoch, order: 1 << 60}
		}
	}
	for key, i := range c.cfg.props {
		if !strings.HasPrefix(key, "i/") || i.epoch >= rec.epoch || i.committed.IsZero() || !i.after(know) {
			continue
		}
		superseded := false
		for key2, cf := range c.cfg.props {
			if strings.HasPrefix(key2, "c/") && !cf.committed.IsZero() && cf.after(i) {
				superseded = true
				break
			}
		}
		if !superseded {
			s.failf(InvRollForward, "%s holds epoch %d knowing intent %+v (%v), but a majority %v stored the later %s, which no commit superseded (DESIGN.md §5.7)",
				n.id, rec.epoch, in, ok, slices.Sorted(maps.Keys(i.persisted)), i.what)
			return
		}
	}
}

// stepRan records a step n's executor started now with deadline, and
// checks that it ends within n's authority and overlaps no step of
// another epoch.
func (c *checker) stepRan(n *node, epoch uint64, step, on string, deadline time.Duration, local time.Time) {
	s := c.s
	l, ok := n.ag.Lease(local)
	st := stepRec{holder: n.id, epoch: epoch, step: step, on: on, start: s.now, end: n.global(local.Add(deadline))}
	if !ok || l.Epoch != epoch || n.global(l.Expiry()).Before(st.end) {
		s.failf(InvStepInLease, "%s runs %s on %s at epoch %d until %.3fs, beyond its authority (lease %v %v)", n.id,
			step, on, epoch, st.end.Sub(t0).Seconds(), ok, l)
		return
	}
	for _, o := range c.cfg.steps {
		if rec := c.leases[o.epoch]; rec != nil && !rec.open && rec.end.Before(o.end) {
			// That lease ended before its step's deadline: released (the
			// operator's Done, or the primary answered again) or its
			// holder crashed, so a new holder may be elected while the
			// step may still land. Only the session kill of DESIGN.md
			// §5.6 guards that; the executor must keep its lease until
			// its steps' deadlines passed (see doc.go).
			if o.start.Before(st.end) && st.start.Before(o.end) {
				c.cfg.cutShort++
				s.trace.add(s, "%s's step %s (e%d) may overlap %s's step %s (e%d), whose lease ended before its deadline",
					n.id, step, epoch, o.holder, o.step, o.epoch)
			}
			continue
		}
		if o.epoch != epoch && o.start.Before(st.end) && st.start.Before(o.end) {
			s.failf(InvStepInLease, "%s's step %s on %s (e%d) overlaps %s's step %s on %s (e%d)", n.id, step, on, epoch,
				o.holder, o.step, o.on, o.epoch)
			return
		}
	}
	c.cfg.steps = append(c.cfg.steps, st)
}

// convergence says whether every sentinel runs, has learned, runs no
// executor and holds the same config (epoch, version, primary, replicas,
// settings), at least the latest committed one (invariant f); otherwise why
// not.
func (s *sim) convergence() (bool, string) {
	var first quorum.Config
	var why []string
	for i, n := range s.nodes {
		if !n.up {
			return false, string(n.id) + " is down"
		}
		c := n.ag.Config()
		if i == 0 {
			first = c
		}
		why = append(why, fmt.Sprintf("%s %s", n.id, cfgString(c)))
		switch {
		case !n.stored.Learned:
			return false, string(n.id) + " is learning"
		case n.exec != nil:
			return false, string(n.id) + " runs an executor"
		case c.Epoch != first.Epoch || c.Version != first.Version || c.Primary != first.Primary ||
			!slices.Equal(c.Replicas, first.Replicas) || !maps.Equal(c.Settings, first.Settings):
			return false, strings.Join(why, "; ") + "; …"
		}
	}
	if top := s.check.topCommitted(); top != nil && top.epoch > first.Epoch {
		return false, fmt.Sprintf("every sentinel holds %s, below the committed %s", cfgString(first), top.what)
	}
	return true, ""
}

func (s *sim) configs() string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, fmt.Sprintf("%s %s", n.id, cfgString(n.ag.Config())))
	}
	return strings.Join(out, "; ")
}
