package quorum

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// State is a cluster's agreement state as this sentinel sees it.
type State string

const (
	StateLearning       State = "learning"        // catching up from a majority (§5.2)
	StateTilt           State = "tilt"            // observing only (§5.11)
	StateLeading        State = "leading"         // this sentinel holds the lease
	StateElecting       State = "electing"        // this sentinel is a candidate
	StateFollowing      State = "following"       // another sentinel holds the lease
	StateVantageBlocked State = "vantage-blocked" // ODOWN, but a replica sees the primary (§5.4)
	StateODOWN          State = "odown"           // a quorum says the primary is down
	StateSDOWN          State = "sdown"           // this sentinel says the primary is down
	StateOK             State = "ok"
)

// Params configure one cluster's agreement. Durations are on the
// monotonic clock.
type Params struct {
	Self    MemberID
	Voters  Voters
	Cluster string
	// Quorum SDOWN opinions make ODOWN.
	Quorum int
	// OpinionTTL: how long a received opinion counts.
	OpinionTTL time.Duration
	// OpinionInterval: own opinion is sent at least this often, and at once
	// when it changes.
	OpinionInterval time.Duration
	// Lease and DriftMargin: §5.6.
	Lease, DriftMargin time.Duration
	// ElectionTimeout: an election not won by then is abandoned.
	ElectionTimeout time.Duration
	// BackoffBase, BackoffMax: randomized back-off after a lost election.
	BackoffBase, BackoffMax time.Duration
	// Auto: fail over automatically on ODOWN (cluster mode auto).
	Auto bool
	// Cooldown after a failover or operator lease: an automatic failover
	// then needs every live sentinel's SDOWN (§5.10).
	Cooldown time.Duration
}

// Local is this sentinel's own view, given on every Tick.
type Local struct {
	// The config this sentinel believes in (seed or committed).
	ConfigEpoch uint64
	Primary     string
	// PrimarySDOWN is this sentinel's detector's verdict on Primary.
	PrimarySDOWN bool
	// Vantage is the replica-vantage decision from this sentinel's probes.
	Vantage Vantage
	// Tilt: this process or its clock stalled (§5.11).
	Tilt bool
	// Alive are the members the transport sees alive.
	Alive []MemberID
	// Hold, when set, says why this sentinel must not start an automatic
	// failover: observation and config disagree (DESIGN.md §5.9: observe,
	// don't act). Operator requests are not held.
	Hold string
}

// Persistent is the part of the state that must survive a restart. The
// driver writes it (fsync) before it sends the messages of the same Ready.
type Persistent struct {
	HighestEpoch uint64
	Binding      Binding // Until is meaningless after a restart
	// The committed config.
	ConfigEpoch   uint64
	ConfigVersion uint64
	// ConfigCommitted: the config is known to be on a majority (it was
	// accepted, or it was committed). Only a committed one is handed out
	// to a sentinel that pulls a newer config.
	ConfigCommitted bool
	Primary         string
	Replicas        []string
	Settings        map[string]string
	// Intent is the latest intent known for the cluster.
	Intent  Intent
	Learned bool
}

// Event is a state change or step, for the journal and the event stream.
type Event struct {
	At time.Time
	// Type is "state:<state>" for a state change, or one of odown,
	// odown-cleared, electing, elected, refused, abandoned, voted,
	// lease-lost, released, learned.
	Type   string
	Epoch  uint64
	Detail string
}

// Ready is what the machine asks its driver to do, in order: persist, then
// send, then report.
type Ready struct {
	Persist *Persistent
	Send    []Message
	Events  []Event
}

// Status is a snapshot for the admin API.
type Status struct {
	State State
	// Epoch is the highest election epoch seen.
	Epoch uint64
	// Holder, HolderEpoch and HolderReason name the lease holder this
	// sentinel knows of; Remaining is set when this sentinel holds it.
	Holder       MemberID
	HolderEpoch  uint64
	HolderReason Reason
	Remaining    time.Duration
	Tally        string
	Vantage      string
	Election     string
	// AbstainUntil: this sentinel grants no vote until then (a restart or
	// a fresh data_dir, §5.6); zero when not abstaining.
	AbstainUntil time.Time
}

// Agreement is one sentinel's agreement state machine for one cluster
// (DESIGN.md §5): opinions in, ODOWN out; elections with leases; the
// voter's grants. It is deterministic: no clock, no I/O, randomness from
// the injected rng. One goroutine owns it. Feed it with Step and Tick,
// then drain Ready.
type Agreement struct {
	p   Params
	rng *rand.Rand

	voter    VoterState
	learned  bool
	local    Local
	opinions map[MemberID]Heard

	lastOpinion     *Opinion
	lastOpinionSent time.Time
	lastSync        time.Time
	syncReplies     map[MemberID]SyncReply
	lastPull        time.Time // a config pull: see KindOpinion

	election         *Election
	electionDeadline time.Time
	attempts         int
	backoffUntil     time.Time
	want             Reason // a lease the daemon asked for (operator, steward)
	wantForced       bool
	wanting          bool // a lease was wanted at the last Tick
	following        bool // another sentinel held the lease at the last Tick

	lease     *Lease
	renewSeq  uint64
	renewSent map[uint64]time.Time
	renewAcks map[uint64]map[MemberID]bool
	lastRenew time.Time
	cooldown  time.Time // end of the cooldown after the last failover lease

	intent          Intent
	configVersion   uint64
	configCommitted bool // the config is known to be on a majority
	replicas        []string
	settings        map[string]string
	proposalSeq     uint64
	proposals       map[uint64]*proposal

	leader     LeaderNotice
	leaderSeen time.Time // when the leader last showed it is alive (notice, renewal)
	tally      Tally
	state      State

	ready Ready
	dirty bool
}

// NewAgreement restores a cluster's agreement from what was persisted.
// restarted says this process started with that state (as opposed to a
// first start on a fresh data_dir): it abstains for one lease, and the
// persisted binding holds for one more lease (§5.6). A fresh data_dir
// abstains for one lease as well: it cannot tell a first start from a lost
// data_dir (quorum/sim TestScenarioWipedVoterForgetsBinding).
func NewAgreement(p Params, st Persistent, restarted bool, rng *rand.Rand, now time.Time) *Agreement {
	a := &Agreement{p: p, rng: rng, opinions: map[MemberID]Heard{}, state: StateOK,
		renewSent: map[uint64]time.Time{}, renewAcks: map[uint64]map[MemberID]bool{},
		proposals: map[uint64]*proposal{}, intent: st.Intent, configVersion: st.ConfigVersion,
		configCommitted: st.ConfigCommitted,
		replicas:        slices.Clone(st.Replicas), settings: maps.Clone(st.Settings)}
	a.voter = VoterState{HighestEpoch: st.HighestEpoch, Binding: st.Binding,
		ConfigEpoch: st.ConfigEpoch, Primary: st.Primary}
	if a.voter.Binding.Holder != "" {
		a.voter.Binding.Until = now.Add(p.Lease)
	}
	a.learned = st.Learned || p.Voters.Len() == 1
	a.voter.Learner = !a.learned
	// A fresh data_dir abstains too: it may be a lost one, whose grants
	// (bindings still running on the holder's side) it no longer knows,
	// and learning the highest epoch does not bring them back.
	if restarted || !a.learned {
		a.voter.AbstainUntil = now.Add(p.Lease)
	}
	if a.learned && !st.Learned {
		a.dirty = true
	}
	return a
}

// Ready returns what the driver must do and clears it.
func (a *Agreement) Ready() Ready {
	r := a.ready
	if a.dirty {
		ps := a.persistent()
		r.Persist = &ps
		a.dirty = false
	}
	a.ready = Ready{}
	return r
}

func (a *Agreement) persistent() Persistent {
	return Persistent{HighestEpoch: a.voter.HighestEpoch, Binding: a.voter.Binding,
		ConfigEpoch: a.voter.ConfigEpoch, ConfigVersion: a.configVersion, ConfigCommitted: a.configCommitted,
		Primary: a.voter.Primary, Replicas: slices.Clone(a.replicas),
		Settings: maps.Clone(a.settings), Intent: a.intent, Learned: a.learned}
}

func (a *Agreement) send(m Message) {
	m.From = a.p.Self
	a.ready.Send = append(a.ready.Send, m)
}

func (a *Agreement) event(now time.Time, typ string, epoch uint64, format string, args ...any) {
	a.ready.Events = append(a.ready.Events, Event{At: now, Type: typ, Epoch: epoch, Detail: fmt.Sprintf(format, args...)})
}

// setVoter replaces the voter state, marking it for persistence when a
// persisted field changed.
func (a *Agreement) setVoter(s VoterState) {
	old := a.voter
	a.voter = s
	if old.HighestEpoch != s.HighestEpoch || old.Binding.Holder != s.Binding.Holder ||
		old.Binding.Epoch != s.Binding.Epoch || old.ConfigEpoch != s.ConfigEpoch || old.Primary != s.Primary {
		a.dirty = true
	}
}

// Want asks for a lease for reason (operator: a forced failover or a
// switchover; steward: a repair). It is requested at the next Tick.
func (a *Agreement) Want(reason Reason, forced bool) {
	a.want, a.wantForced = reason, forced
}

// Done ends the task of the held lease: it is released.
func (a *Agreement) Done(now time.Time) {
	a.want, a.wantForced = "", false
	if a.lease != nil {
		a.release(now, "task done")
	}
	// An automatic failover election goes on (it wants no request); one
	// for a request that was given up is abandoned, or it would win a lease
	// nobody releases.
	if e := a.election; e != nil && e.Request.Reason != ReasonFailover {
		a.abandon(now, "the request was given up")
	}
	a.derive(now) // Status must not say leading once the lease is gone
}

// Lease returns the lease this sentinel holds, if its authority lasts and
// it is not in TILT: a stalled sentinel does not act (DESIGN.md §5.11),
// whatever its lease says.
func (a *Agreement) Lease(now time.Time) (Lease, bool) {
	if a.lease == nil || !a.lease.Valid(now) || a.local.Tilt {
		return Lease{}, false
	}
	return *a.lease, true
}

// MayStart answers the executors: may step start now with deadline?
func (a *Agreement) MayStart(step string, deadline time.Duration, now time.Time) error {
	l, ok := a.Lease(now)
	if !ok {
		return fmt.Errorf("%w: step %s on %s: this sentinel holds no lease", ErrLeaseShort, step, a.p.Cluster)
	}
	return l.MayStart(step, deadline, now)
}

// Tick advances the machine with this sentinel's view at now.
func (a *Agreement) Tick(now time.Time, l Local) {
	a.local = l
	s := a.voter
	s.Tilt = l.Tilt
	s.PrimaryHealthy = !l.PrimarySDOWN
	if l.ConfigEpoch > s.ConfigEpoch || (l.ConfigEpoch == s.ConfigEpoch && s.Primary == "") {
		s.ConfigEpoch, s.Primary = l.ConfigEpoch, l.Primary
	}
	a.setVoter(s)

	if !a.learned {
		a.learn(now)
	}
	a.shareOpinion(now)
	wasODOWN := a.tally.ODOWN
	a.tally = CountODOWN(TallyInput{Voters: a.p.Voters, Cluster: a.p.Cluster, ConfigEpoch: a.voter.ConfigEpoch,
		Primary: a.voter.Primary, Quorum: a.p.Quorum, TTL: a.p.OpinionTTL, Opinions: a.heard(),
		Cooldown: now.Before(a.cooldown), Alive: l.Alive}, now)
	switch {
	case a.tally.ODOWN && !wasODOWN:
		a.event(now, "odown", a.voter.HighestEpoch, "%s", a.tally.Describe())
	case !a.tally.ODOWN && wasODOWN:
		a.event(now, "odown-cleared", a.voter.HighestEpoch, "%s", a.tally.Describe())
	}

	a.keepLease(now)
	if a.election != nil && !now.Before(a.electionDeadline) {
		a.abandon(now, "no majority within "+a.p.ElectionTimeout.String())
	}
	reason, forced, ok := a.wanted()
	following := a.followsLeader(now)
	if ok && (!a.wanting || (a.following && !following)) && a.election == nil && a.lease == nil {
		// A new need, or the leader this sentinel followed is gone: the
		// survivors would all ask at once.
		a.stagger(now)
	}
	a.wanting, a.following = ok, following
	if ok {
		a.maybeElect(now, reason, forced)
	}
	a.derive(now)
}

// stagger delays a first candidacy by this sentinel's rank among the
// voters, so sentinels that see ODOWN at the same moment do not split the
// vote: the first-ranked one asks at once, the next after one stagger
// step, and so on, each with a little jitter. Random back-off takes over
// after a lost election.
//
// The rank counts only the sentinels that want the same thing: those whose
// fresh opinion says SDOWN (when this one does too), so nobody waits for a
// first-ranked sentinel that does not see the primary down.
func (a *Agreement) stagger(now time.Time) {
	step := a.p.BackoffBase / 2
	ranked := a.p.Voters.IDs()
	if a.local.PrimarySDOWN {
		ranked = ranked[:0:0]
		for _, v := range a.tally.Verdicts {
			if v.Counted {
				ranked = append(ranked, v.Member)
			}
		}
	}
	rank := 0
	for i, id := range ranked {
		if id == a.p.Self {
			rank = i
		}
	}
	if rank == 0 || step <= 0 {
		return
	}
	jitter := time.Duration(a.rng.Int64N(int64(step)/2 + 1))
	a.backoffUntil = later(a.backoffUntil, now.Add(time.Duration(rank)*step+jitter))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (a *Agreement) heard() []Heard {
	out := make([]Heard, 0, len(a.opinions))
	for _, id := range a.p.Voters.IDs() {
		if h, ok := a.opinions[id]; ok {
			out = append(out, h)
		}
	}
	return out
}

// learn asks the others for their state until a majority that remembers
// has answered (DESIGN.md §5.2): any epoch a majority granted was granted
// by a member among any Majority() others that remember, so the learner
// cannot miss it. Failing that, it learns once every other member has
// answered, learners or not: the union of all surviving memory is all
// there is (a new fleet, where everyone starts a learner, bootstraps this
// way). With a member missing and too few remembering, it waits.
func (a *Agreement) learn(now time.Time) {
	if a.syncReplies == nil {
		a.syncReplies = map[MemberID]SyncReply{}
	}
	if a.tryLearn(now) {
		return
	}
	if a.lastSync.IsZero() || now.Sub(a.lastSync) >= a.p.OpinionInterval {
		a.lastSync = now
		a.send(Message{Kind: KindSync, Sync: &SyncRequest{Cluster: a.p.Cluster}})
	}
}

// tryLearn adopts the replies once enough have come, and says whether it
// did.
func (a *Agreement) tryLearn(now time.Time) bool {
	remembering, learners := 0, 0
	for _, r := range a.syncReplies {
		if r.Learner {
			learners++
		} else {
			remembering++
		}
	}
	if remembering >= a.p.Voters.Majority() || remembering+learners == a.p.Voters.Len()-1 {
		s := a.voter
		best, bestCommitted := a.config(), a.configCommitted
		for _, r := range a.syncReplies {
			s.HighestEpoch = max(s.HighestEpoch, r.Highest)
			switch {
			case r.Config.newer(best):
				best, bestCommitted = r.Config, r.Committed
			case r.Config.equal(best) && r.Committed:
				bestCommitted = true
			}
			if r.Intent != nil && r.Intent.after(a.intent) {
				a.intent = *r.Intent
			}
		}
		s.Learner = false
		a.learned = true
		a.setVoter(s)
		// A learner adopts the newest config any member holds, committed or
		// not: a voter must not be behind one a majority may have (§5.5).
		if best.newer(a.config()) {
			a.setConfig(best)
			a.setCommitted(bestCommitted)
		}
		s = a.voter
		a.dirty = true
		a.event(now, "learned", s.HighestEpoch, "caught up from %d members (%d remembering, %d learners): highest epoch %d, config epoch %d",
			len(a.syncReplies), remembering, learners, s.HighestEpoch, s.ConfigEpoch)
		a.syncReplies = nil
		return true
	}
	return false
}

// shareOpinion records and sends this sentinel's own opinion.
func (a *Agreement) shareOpinion(now time.Time) {
	o := Opinion{From: a.p.Self, Cluster: a.p.Cluster, ConfigEpoch: a.voter.ConfigEpoch, ConfigVersion: a.configVersion,
		Primary: a.voter.Primary, SDOWN: a.local.PrimarySDOWN}
	a.opinions[a.p.Self] = Heard{Opinion: o, At: now}
	if a.local.Tilt {
		return // a sentinel in TILT observes without influencing anyone
	}
	if a.lastOpinion == nil || *a.lastOpinion != o || now.Sub(a.lastOpinionSent) >= a.p.OpinionInterval {
		a.lastOpinion, a.lastOpinionSent = &o, now
		a.send(Message{Kind: KindOpinion, Opinion: &o})
	}
}

// wanted says which lease this sentinel should be asking for now.
func (a *Agreement) wanted() (Reason, bool, bool) {
	if a.want != "" {
		return a.want, a.wantForced, true
	}
	if a.p.Auto && a.local.PrimarySDOWN && a.tally.ODOWN && !a.local.Vantage.Blocked && a.local.Hold == "" {
		return ReasonFailover, false, true
	}
	return "", false, false
}

func (a *Agreement) maybeElect(now time.Time, reason Reason, forced bool) {
	switch {
	case a.lease != nil, a.election != nil, now.Before(a.backoffUntil), !a.learned, a.local.Tilt:
		return
	case a.followsLeader(now):
		return // another sentinel holds the lease: follow it
	}
	req := VoteRequest{Cluster: a.p.Cluster, Epoch: a.voter.HighestEpoch + 1, Candidate: a.p.Self, Reason: reason,
		ConfigEpoch: a.voter.ConfigEpoch, Primary: a.voter.Primary, Forced: forced}
	d, s := DecideVote(a.voter, req, a.p.Lease, now)
	a.setVoter(s)
	if !d.Grant {
		a.backoff(now)
		a.event(now, "refused", req.Epoch, "own vote for epoch %d refused: %s", req.Epoch, d.Why)
		return
	}
	a.election = NewElection(a.p.Voters, req, now)
	a.electionDeadline = now.Add(a.p.ElectionTimeout)
	a.election.Record(a.p.Self, d)
	a.send(Message{Kind: KindVote, Vote: &req})
	a.event(now, string(StateElecting), req.Epoch, "asking for a %s lease at epoch %d (%s)", reason, req.Epoch, a.tally.Describe())
	a.checkElection(now)
}

func (a *Agreement) backoff(now time.Time) {
	a.backoffUntil = now.Add(Backoff(a.rng, a.attempts, a.p.BackoffBase, a.p.BackoffMax))
	a.attempts++
}

// checkElection turns a won election into a lease and a lost one into an
// abandon.
func (a *Agreement) checkElection(now time.Time) {
	e := a.election
	switch {
	case e == nil:
	case e.Won():
		l := e.Lease(a.p.Lease, a.p.DriftMargin)
		a.lease = &l
		a.election, a.attempts = nil, 0
		a.lastRenew = e.Sent
		a.leader = LeaderNotice{Cluster: a.p.Cluster, Epoch: l.Epoch, Holder: a.p.Self, Reason: l.Reason}
		if l.Reason.MayChangePrimary() {
			a.cooldown = now.Add(a.p.Cooldown)
		}
		a.send(Message{Kind: KindLeader, Leader: &a.leader})
		a.event(now, "elected", l.Epoch, "%s", e.Describe())

	case e.Lost():
		a.abandon(now, "a majority refused")
	}
}

// abandon gives up an election: voters that granted are released, and the
// candidate backs off.
func (a *Agreement) abandon(now time.Time, why string) {
	e := a.election
	a.election = nil
	a.send(Message{Kind: KindRelease, Release: &ReleaseMsg{Cluster: a.p.Cluster, Epoch: e.Request.Epoch, Holder: a.p.Self}})
	a.setVoter(Release(a.voter, a.p.Self, e.Request.Epoch))
	a.backoff(now)
	a.event(now, "abandoned", e.Request.Epoch, "%s: %s", why, e.Describe())
}

// keepLease renews the held lease while its task lasts, notices when the
// authority ran out, and releases it when the task is over.
func (a *Agreement) keepLease(now time.Time) {
	if a.lease == nil {
		return
	}
	l := *a.lease
	if !l.Valid(now) {
		a.lease = nil
		clear(a.proposals)
		clear(a.renewSent)
		clear(a.renewAcks)
		// Its authority is over already; the release only frees voters
		// early and stops the fleet following it.
		a.setVoter(Release(a.voter, a.p.Self, l.Epoch))
		a.send(Message{Kind: KindRelease, Release: &ReleaseMsg{Cluster: a.p.Cluster, Epoch: l.Epoch, Holder: a.p.Self}})
		a.event(now, "lease-lost", l.Epoch, "authority over %s ended at epoch %d: no majority renewed it", a.p.Cluster, l.Epoch)
		return
	}
	// A lease nobody wants any more (its request was given up while the
	// election ran): release it.
	if l.Reason != ReasonFailover && a.want == "" {
		a.release(now, "no task wants it")
		return
	}
	// The task of a failover lease lasts while this sentinel still sees
	// the primary down (no executor yet in this stage); other tasks last
	// until Done.
	if l.Reason == ReasonFailover && a.want == "" && !a.local.PrimarySDOWN {
		a.release(now, "the primary answers again")
		return
	}
	if a.local.Tilt {
		return // no renewal in TILT: the lease runs out
	}
	a.resendProposals(now)
	if now.Sub(a.lastRenew) >= a.p.Lease/3 {
		a.renewSeq++
		a.lastRenew = now
		a.renewSent[a.renewSeq] = now
		a.renewAcks[a.renewSeq] = map[MemberID]bool{}
		_, s := DecideRenew(a.voter, a.p.Self, l.Epoch, a.p.Lease, now)
		a.setVoter(s)
		a.renewAcks[a.renewSeq][a.p.Self] = true
		a.send(Message{Kind: KindRenew, Renew: &Renew{Cluster: a.p.Cluster, Epoch: l.Epoch, Holder: a.p.Self,
			Reason: l.Reason, Seq: a.renewSeq}})
		a.checkRenewal(a.renewSeq)
	}
}

func (a *Agreement) checkRenewal(seq uint64) {
	if a.lease == nil || len(a.renewAcks[seq]) < a.p.Voters.Majority() {
		return
	}
	renewed := a.lease.Renewed(a.renewSent[seq])
	a.lease = &renewed
	for s := range a.renewSent {
		if s <= seq {
			delete(a.renewSent, s)
			delete(a.renewAcks, s)
		}
	}
}

func (a *Agreement) release(now time.Time, why string) {
	l := *a.lease
	a.lease = nil
	clear(a.proposals)
	clear(a.renewSent)
	clear(a.renewAcks)
	a.setVoter(Release(a.voter, a.p.Self, l.Epoch))
	a.send(Message{Kind: KindRelease, Release: &ReleaseMsg{Cluster: a.p.Cluster, Epoch: l.Epoch, Holder: a.p.Self}})
	if a.leader.Holder == a.p.Self && a.leader.Epoch == l.Epoch {
		a.leader = LeaderNotice{}
	}
	a.event(now, "released", l.Epoch, "%s lease released: %s", l.Reason, why)
}

// Step handles one message from another member.
func (a *Agreement) Step(m Message, now time.Time) {
	if m.From == a.p.Self || !a.p.Voters.Has(m.From) || m.Check() != nil || m.Cluster() != a.p.Cluster {
		return
	}
	switch m.Kind {
	case KindOpinion:
		if m.Opinion.From == m.From {
			a.opinions[m.From] = Heard{Opinion: *m.Opinion, At: now}
			// The sender holds a newer config: this sentinel missed its
			// commit (the announcement is sent once). Ask the sender for
			// it, at most once an opinion interval (DESIGN.md §5.9).
			theirs := Config{Epoch: m.Opinion.ConfigEpoch, Version: m.Opinion.ConfigVersion}
			if a.learned && theirs.newer(a.config()) && now.Sub(a.lastPull) >= a.p.OpinionInterval {
				a.lastPull = now
				a.send(Message{Kind: KindSync, To: m.From, Sync: &SyncRequest{Cluster: a.p.Cluster}})
			}
		}
	case KindVote:
		a.onVote(m, now)
	case KindVoteReply:
		r := m.VoteReply
		if r.Highest > a.voter.HighestEpoch {
			s := a.voter
			s.HighestEpoch = r.Highest
			a.setVoter(s)
		}
		if e := a.election; e != nil && r.Candidate == a.p.Self && r.Epoch == e.Request.Epoch {
			if r.Intent != nil && r.Intent.after(a.intent) {
				a.intent = *r.Intent // the predecessor's step: roll it forward (§5.7)
				a.dirty = true
			}
			e.Record(m.From, Decision{Grant: r.Grant, Why: r.Why})
			a.checkElection(now)
		}
	case KindRenew:
		r := m.Renew
		if r.Holder == m.From && r.Epoch >= a.leader.Epoch {
			a.leader = LeaderNotice{Cluster: r.Cluster, Epoch: r.Epoch, Holder: r.Holder, Reason: r.Reason}
			a.leaderSeen = now
		}
		d, s := DecideRenew(a.voter, r.Holder, r.Epoch, a.p.Lease, now)
		a.setVoter(s)
		a.send(Message{Kind: KindRenewReply, To: m.From, RenewReply: &RenewReply{Cluster: r.Cluster, Epoch: r.Epoch,
			Holder: r.Holder, Seq: r.Seq, Grant: d.Grant, Why: d.Why}})
	case KindRenewReply:
		r := m.RenewReply
		if a.lease != nil && r.Holder == a.p.Self && r.Epoch == a.lease.Epoch && r.Grant {
			if acks, ok := a.renewAcks[r.Seq]; ok {
				acks[m.From] = true
				a.checkRenewal(r.Seq)
			}
		}
	case KindRelease:
		r := m.Release
		if r.Holder == m.From {
			a.setVoter(Release(a.voter, r.Holder, r.Epoch))
			if a.leader.Holder == r.Holder && a.leader.Epoch == r.Epoch {
				a.leader = LeaderNotice{}
			}
		}
	case KindLeader:
		n := m.Leader
		// Only a new (epoch, holder) counts as a sign of life: a repeat of
		// an old notice (push/pull) must not keep the fleet following a
		// lease that is gone; renewals keep followers current.
		if n.Holder == m.From && (n.Epoch > a.leader.Epoch || n.Epoch == a.leader.Epoch && n.Holder != a.leader.Holder) &&
			n.Epoch >= a.voter.HighestEpoch {
			a.leader = *n
			a.leaderSeen = now
			if n.Epoch > a.voter.HighestEpoch {
				s := a.voter
				s.HighestEpoch = n.Epoch
				a.setVoter(s)
			}
			if n.Reason.MayChangePrimary() {
				a.cooldown = now.Add(a.p.Cooldown)
			}
		}
	case KindSync:
		r := &SyncReply{Cluster: a.p.Cluster, Highest: a.voter.HighestEpoch, Config: a.config(),
			Committed: a.configCommitted, Learner: !a.learned}
		if a.intent.Step != "" {
			in := a.intent
			r.Intent = &in
		}
		a.send(Message{Kind: KindSyncReply, To: m.From, SyncReply: r})
	case KindPropose:
		a.onPropose(m, now)
	case KindProposeAck:
		a.onProposeAck(m, now)
	case KindCommitted:
		a.onCommitted(*m.Committed, now)
		if m.Committed.equal(a.config()) {
			a.setCommitted(true) // an announcement is proof of a majority
		}
	case KindSyncReply:
		if a.syncReplies != nil {
			a.syncReplies[m.From] = *m.SyncReply
			a.tryLearn(now)
		} else if a.learned && m.SyncReply.Config.Cluster == a.p.Cluster {
			// The answer to a config pull. A newer config is adopted even if
			// its holder does not know it committed: the executor proposes
			// a config only after the promotion it describes, so it is
			// closer to the truth than an older one, and the next commit
			// supersedes it (a split of configs would otherwise leave no
			// quorum to agree on ODOWN).
			a.onCommitted(m.SyncReply.Config, now)
			if m.SyncReply.Committed && m.SyncReply.Config.equal(a.config()) {
				a.setCommitted(true)
			}
		}
	}
	a.derive(now)
}

func (a *Agreement) onVote(m Message, now time.Time) {
	req := *m.Vote
	if req.Candidate != m.From {
		return
	}
	// A candidate asked for a higher epoch gives up its own election and
	// votes: two candidates refusing each other (each bound to itself)
	// would otherwise climb epochs until their back-offs part them.
	if e := a.election; e != nil && req.Epoch > e.Request.Epoch && req.Reason.Valid() {
		a.abandon(now, fmt.Sprintf("%s asks for the higher epoch %d", req.Candidate, req.Epoch))
	}
	d, s := DecideVote(a.voter, req, a.p.Lease, now)
	a.setVoter(s)
	reply := &VoteReply{Cluster: req.Cluster, Epoch: req.Epoch, Candidate: req.Candidate, Grant: d.Grant, Why: d.Why,
		Highest: a.voter.HighestEpoch}
	if a.intent.Step != "" {
		in := a.intent
		reply.Intent = &in
	}
	a.send(Message{Kind: KindVoteReply, To: m.From, VoteReply: reply})
	if d.Grant {
		a.event(now, "voted", req.Epoch, "%s", d.Why)
	}
}

// followsLeader says whether another sentinel holds the lease as far as
// this one knows: it is bound to it, or the leader showed it is alive
// (notice or renewal) within one lease.
func (a *Agreement) followsLeader(now time.Time) bool {
	if a.voter.Binding.Binds(now) && a.voter.Binding.Holder != a.p.Self {
		return true
	}
	return a.leader.Holder != "" && a.leader.Holder != a.p.Self && now.Sub(a.leaderSeen) < a.p.Lease
}

// derive computes the state and reports a change.
func (a *Agreement) derive(now time.Time) {
	st := StateOK
	switch {
	case !a.learned:
		st = StateLearning
	case a.local.Tilt:
		st = StateTilt
	case a.lease != nil && a.lease.Valid(now):
		st = StateLeading
	case a.election != nil:
		st = StateElecting
	case a.followsLeader(now):
		st = StateFollowing
	case a.tally.ODOWN && a.local.Vantage.Blocked:
		st = StateVantageBlocked
	case a.tally.ODOWN:
		st = StateODOWN
	case a.local.PrimarySDOWN:
		st = StateSDOWN
	}
	if st != a.state {
		detail := a.tally.Describe()
		if st == StateVantageBlocked {
			detail = "UnreachablePrimaryWithHealthyReplicas: " + a.local.Vantage.Why
		}
		a.event(now, "state:"+string(st), a.voter.HighestEpoch, "%s → %s: %s", a.state, st, detail)
		a.state = st
	}
}

// NextWake is when the machine next needs a Tick even if nothing happens:
// the end of a stagger or back-off, an election's deadline, a renewal, the
// lease's expiry, an abstention's end, the next opinion or sync. The
// driver sets a timer for it, so waits end on time rather than at the next
// probe. Zero when nothing is scheduled.
func (a *Agreement) NextWake(now time.Time) time.Time {
	var next time.Time
	at := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	at(a.lastOpinionSent.Add(a.p.OpinionInterval))
	if !a.learned {
		at(a.lastSync.Add(a.p.OpinionInterval))
	}
	switch {
	case a.lease != nil:
		at(a.lastRenew.Add(a.p.Lease / 3))
		at(a.lease.Expiry())
		for _, pr := range a.proposals {
			if !pr.done {
				at(pr.sent.Add(a.p.OpinionInterval))
			}
		}
	case a.election != nil:
		at(a.electionDeadline)
	case a.wanting:
		at(a.backoffUntil)
		at(a.voter.AbstainUntil)
		at(a.voter.Binding.Until)
		if a.leader.Holder != "" && a.leader.Holder != a.p.Self {
			at(a.leaderSeen.Add(a.p.Lease))
		}
	}
	return next
}

// Status reports the machine for the admin API.
func (a *Agreement) Status(now time.Time) Status {
	s := Status{State: a.state, Epoch: a.voter.HighestEpoch, Tally: a.tally.Describe(), Vantage: a.local.Vantage.Why}
	if now.Before(a.voter.AbstainUntil) {
		s.AbstainUntil = a.voter.AbstainUntil
	}
	switch {
	case a.lease != nil && a.lease.Valid(now):
		s.Holder, s.HolderEpoch, s.HolderReason, s.Remaining = a.p.Self, a.lease.Epoch, a.lease.Reason, a.lease.Remaining(now)
	case a.voter.Binding.Binds(now):
		s.Holder, s.HolderEpoch, s.HolderReason = a.voter.Binding.Holder, a.voter.Binding.Epoch, a.voter.Binding.Reason
	case a.leader.Holder != "":
		s.Holder, s.HolderEpoch, s.HolderReason = a.leader.Holder, a.leader.Epoch, a.leader.Reason
	}
	if a.election != nil {
		s.Election = a.election.Describe()
	}
	return s
}
