package quorum

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ErrNoLease: a proposal needs a lease this sentinel holds.
var ErrNoLease = errors.New("no lease held")

// Intent is an irreversible step the lease holder is about to take,
// persisted on a majority before the step starts (DESIGN.md §5.7). The next
// holder learns the latest one from the grants and rolls forward.
type Intent struct {
	Cluster    string   `json:"cluster"`
	Epoch      uint64   `json:"epoch"` // the holder's lease epoch
	Step       string   `json:"step"`
	Target     string   `json:"target,omitempty"`
	OldPrimary string   `json:"old_primary,omitempty"`
	Holder     MemberID `json:"holder"`
	// Seq orders the holder's intents within its epoch (its proposal
	// sequence): a late or repeated earlier proposal must not replace a
	// later intent (quorum/sim TestScenarioLateIntentDoesNotGoBack).
	Seq uint64 `json:"seq,omitempty"`
}

// after says whether i is a later intent than o: a higher epoch, or the
// same epoch and proposed later.
func (i Intent) after(o Intent) bool {
	return i.Epoch > o.Epoch || i.Epoch == o.Epoch && i.Seq > o.Seq
}

// Config is a cluster's configuration as the fleet agrees on it: committed
// once a majority has persisted it. Higher (epoch, version) wins everywhere.
type Config struct {
	Cluster string `json:"cluster"`
	Epoch   uint64 `json:"epoch"` // the lease epoch that made it
	// Version orders the holder's updates within its epoch (replica list,
	// settings); the primary never changes within an epoch.
	Version  uint64            `json:"version,omitempty"`
	Primary  string            `json:"primary"`
	Replicas []string          `json:"replicas,omitempty"`
	Settings map[string]string `json:"settings,omitempty"` // e.g. paused
}

// supersedes says whether c may replace cur: a higher epoch, or the same
// epoch and primary and a version not older (a repeat is accepted again).
func (c Config) supersedes(cur Config) bool {
	return c.Epoch > cur.Epoch ||
		(c.Epoch == cur.Epoch && c.Primary == cur.Primary && cur.Primary != "" && c.Version >= cur.Version)
}

// newer says whether c is strictly later than cur.
func (c Config) newer(cur Config) bool {
	return c.Epoch > cur.Epoch || (c.Epoch == cur.Epoch && c.Version > cur.Version)
}

func (c Config) equal(o Config) bool {
	return c.Cluster == o.Cluster && c.Epoch == o.Epoch && c.Version == o.Version && c.Primary == o.Primary &&
		slices.Equal(c.Replicas, o.Replicas) && maps.Equal(c.Settings, o.Settings)
}

// Proposal is what a holder asks a majority to persist: an intent or a
// config.
type Proposal struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
	Seq     uint64   `json:"seq"`
	Intent  *Intent  `json:"intent,omitempty"`
	Config  *Config  `json:"config,omitempty"`
}

// ProposalAck answers a Proposal.
type ProposalAck struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
	Seq     uint64   `json:"seq"`
	OK      bool     `json:"ok"`
	Why     string   `json:"why,omitempty"`
}

// proposal is one the holder is waiting on.
type proposal struct {
	p      Proposal
	acks   map[MemberID]bool
	refuse map[MemberID]string
	done   bool
	sent   time.Time // last (re)sent; resent while pending, see resendProposals
}

// Propose asks a majority to persist an intent or a config. The holder
// persists it itself first (in the same Ready). It needs a lease that is
// still valid; Accepted says when a majority has it.
func (a *Agreement) Propose(in *Intent, c *Config, now time.Time) (uint64, error) {
	l, ok := a.Lease(now)
	if !ok {
		return 0, fmt.Errorf("%w: propose for %s", ErrNoLease, a.p.Cluster)
	}
	if (in == nil) == (c == nil) {
		return 0, errors.New("propose exactly one of an intent and a config")
	}
	a.proposalSeq++
	p := Proposal{Cluster: a.p.Cluster, Epoch: l.Epoch, Holder: a.p.Self, Seq: a.proposalSeq}
	if in != nil {
		i := *in
		i.Cluster, i.Epoch, i.Holder, i.Seq = a.p.Cluster, l.Epoch, a.p.Self, a.proposalSeq
		p.Intent = &i
	} else {
		cc := *c
		cc.Cluster, cc.Epoch, cc.Version = a.p.Cluster, l.Epoch, 0
		if cur := a.config(); cur.Epoch == l.Epoch {
			cc.Version = cur.Version + 1 // an update within this lease's epoch
		}
		p.Config = &cc
	}
	ok2, why := a.accept(p, now)
	if !ok2 {
		return 0, fmt.Errorf("propose for %s: refused by this sentinel itself: %s", a.p.Cluster, why)
	}
	a.proposals[p.Seq] = &proposal{p: p, acks: map[MemberID]bool{a.p.Self: true}, refuse: map[MemberID]string{}, sent: now}
	a.send(Message{Kind: KindPropose, Propose: &p})
	a.checkProposal(p.Seq, now)
	return p.Seq, nil
}

// Accepted says whether a majority has persisted proposal seq, and when it
// cannot be (so many refused that a majority is out of reach), why not.
func (a *Agreement) Accepted(seq uint64) (done bool, failed string) {
	pr, ok := a.proposals[seq]
	if !ok {
		return false, fmt.Sprintf("no proposal %d", seq)
	}
	if pr.done {
		return true, ""
	}
	if a.p.Voters.Len()-len(pr.refuse) < a.p.Voters.Majority() {
		var reasons []string
		for id, why := range pr.refuse {
			reasons = append(reasons, string(id)+": "+why)
		}
		slices.Sort(reasons)
		return false, fmt.Sprintf("a majority refused: %v", reasons)
	}
	return false, ""
}

// accept is a voter's rule for a proposal: only the holder this voter is
// bound to, at that epoch, may record an intent; a config is accepted from
// it when it supersedes the voter's own (configs never go backwards).
func (a *Agreement) accept(p Proposal, now time.Time) (bool, string) {
	b := a.voter.Binding
	switch {
	case !a.learned:
		return false, "learning"
	case !b.Binds(now) || b.Holder != p.Holder || b.Epoch != p.Epoch:
		return false, fmt.Sprintf("not bound to %s at epoch %d (bound to %q at %d)", p.Holder, p.Epoch, b.Holder, b.Epoch)
	case p.Intent != nil:
		if a.intent.after(*p.Intent) {
			// The same holder's steps run in parallel (fence and demote
			// beside promote and repoint), so their intents may arrive out
			// of order: a later intent of this holder and epoch already
			// says where to roll forward. Acknowledge without going back.
			if a.intent.Epoch == p.Intent.Epoch && a.intent.Holder == p.Intent.Holder {
				return true, ""
			}
			return false, fmt.Sprintf("intent epoch %d seq %d is older than %d seq %d", p.Intent.Epoch, p.Intent.Seq,
				a.intent.Epoch, a.intent.Seq)
		}
		a.intent = *p.Intent
		a.dirty = true
		return true, ""
	case p.Config != nil:
		cur := a.config()
		if !p.Config.supersedes(cur) {
			return false, fmt.Sprintf("config epoch %d version %d (primary %s) does not supersede %d version %d (primary %s)",
				p.Config.Epoch, p.Config.Version, p.Config.Primary, cur.Epoch, cur.Version, cur.Primary)
		}
		// Only failover and operator leases may change the primary
		// (DESIGN.md §5.5); a steward updates settings and replicas.
		if p.Config.Primary != cur.Primary && cur.Primary != "" && !b.Reason.MayChangePrimary() {
			return false, fmt.Sprintf("a %s lease may not change the primary (%s to %s)", b.Reason, cur.Primary, p.Config.Primary)
		}
		if !p.Config.equal(cur) {
			a.setConfig(*p.Config)
			a.setCommitted(false) // accepted; committed once a majority has it
		}
		return true, ""
	}
	return false, "empty proposal"
}

func (a *Agreement) onPropose(m Message, now time.Time) {
	p := *m.Propose
	if p.Holder != m.From {
		return
	}
	ok, why := a.accept(p, now)
	a.send(Message{Kind: KindProposeAck, To: m.From, ProposeAck: &ProposalAck{Cluster: p.Cluster, Epoch: p.Epoch,
		Holder: p.Holder, Seq: p.Seq, OK: ok, Why: why}})
}

func (a *Agreement) onProposeAck(m Message, now time.Time) {
	r := m.ProposeAck
	pr, ok := a.proposals[r.Seq]
	if !ok || r.Holder != a.p.Self || r.Epoch != pr.p.Epoch {
		return
	}
	if r.OK {
		pr.acks[m.From] = true
	} else {
		pr.refuse[m.From] = r.Why
	}
	a.checkProposal(r.Seq, now)
}

// checkProposal marks a proposal accepted once a majority has it; a
// committed config is then announced to every member.
func (a *Agreement) checkProposal(seq uint64, now time.Time) {
	pr := a.proposals[seq]
	if pr.done || len(pr.acks) < a.p.Voters.Majority() {
		return
	}
	pr.done = true
	if c := pr.p.Config; c != nil {
		if a.config().equal(*c) {
			a.setCommitted(true)
		}
		a.send(Message{Kind: KindCommitted, Committed: c})
		a.event(now, "committed", c.Epoch, "config epoch %d, primary %s, replicas %v committed by %v",
			c.Epoch, c.Primary, c.Replicas, sortedIDs(pr.acks))
	} else {
		a.event(now, "intent", pr.p.Epoch, "intent %s on %s persisted by %v", pr.p.Intent.Step, pr.p.Intent.Target,
			sortedIDs(pr.acks))
	}
}

// onCommitted adopts a newer config (an announced commit or a pulled
// one), and marks its own as committed when an announcement names it.
func (a *Agreement) onCommitted(c Config, now time.Time) {
	cur := a.config()
	switch {
	case c.equal(cur):
	case c.supersedes(cur) && c.newer(cur):
		a.setConfig(c)
		a.setCommitted(false) // the caller marks it when it knows
		a.event(now, "config", c.Epoch, "adopted committed config epoch %d version %d, primary %s", c.Epoch, c.Version, c.Primary)
	}
}

// setCommitted records whether this sentinel's config is known to be
// committed (on a majority): only such a config is handed out by a pull,
// so a proposal that reached no majority (its holder died) never spreads
// as if it had.
func (a *Agreement) setCommitted(v bool) {
	if a.configCommitted != v {
		a.configCommitted = v
		a.dirty = true
	}
}

// Primary is the config's primary and epoch, without copying the rest.
func (a *Agreement) Primary() (string, uint64) { return a.voter.Primary, a.voter.ConfigEpoch }

// Config returns the latest config this sentinel holds: committed when a
// majority has persisted it, which this sentinel cannot always know (it
// may have accepted a proposal whose holder died before the majority).
// Higher (epoch, version) wins; the next holder commits over it.
func (a *Agreement) Config() Config {
	c := a.config()
	c.Replicas, c.Settings = slices.Clone(c.Replicas), maps.Clone(c.Settings) // the caller's own copy
	return c
}

func (a *Agreement) config() Config {
	return Config{Cluster: a.p.Cluster, Epoch: a.voter.ConfigEpoch, Version: a.configVersion, Primary: a.voter.Primary,
		Replicas: a.replicas, Settings: a.settings}
}

func (a *Agreement) setConfig(c Config) {
	s := a.voter
	s.ConfigEpoch, s.Primary = c.Epoch, c.Primary
	a.setVoter(s)
	a.configVersion = c.Version
	a.replicas, a.settings = slices.Clone(c.Replicas), maps.Clone(c.Settings)
	a.dirty = true
}

// LastIntent is the latest intent this sentinel knows for the cluster: its
// own, or one a voter returned with its grant (DESIGN.md §5.7). A new
// holder rolls it forward.
func (a *Agreement) LastIntent() (Intent, bool) {
	return a.intent, a.intent.Step != ""
}

func sortedIDs(m map[MemberID]bool) []MemberID {
	out := make([]MemberID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// resendProposals sends again, every opinion interval, each proposal that
// neither a majority accepted nor enough refused: messages are lost, and
// a config only this holder stored would otherwise never be committed.
// Voters accept a repeat as they accepted the original. In sequence order,
// so simulations replay exactly.
func (a *Agreement) resendProposals(now time.Time) {
	seqs := make([]uint64, 0, len(a.proposals))
	for seq, pr := range a.proposals {
		if !pr.done && now.Sub(pr.sent) >= a.p.OpinionInterval {
			if _, failed := a.Accepted(seq); failed == "" {
				seqs = append(seqs, seq)
			}
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		pr := a.proposals[seq]
		pr.sent = now
		p := pr.p
		a.send(Message{Kind: KindPropose, Propose: &p})
	}
}
