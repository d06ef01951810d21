package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport/memnet"
)

// Config is one simulation run. Everything else is drawn from Seed.
type Config struct {
	// N is the number of sentinels (3, 5 or 7).
	N int
	// Seed decides everything: parameters, faults, the network's drops and
	// delays, the machines' jitter. The same Config replays exactly.
	Seed uint64
	// Faults is how long faults are injected, in virtual time; then every
	// fault stops and a leader must be elected within Bound. Default 30 s.
	Faults time.Duration
	// TraceLen is how many trace lines a Failure keeps. Default 40.
	TraceLen int

	// scripted: no random faults and no calm; a test drives the faults.
	// Lease 10 s, quorum = majority, every clock at rate 1, every detector
	// on time, every data_dir learned, the primary dead from 1 s.
	scripted bool
}

// Result summarizes a run that kept every invariant.
type Result struct {
	Params quorum.Params
	// Steps is the number of global time steps taken.
	Steps int
	// Leases counts the leases (epochs that had a holder); MaxEpoch is the
	// highest epoch seen.
	Leases   int
	MaxEpoch uint64
	// Faults counts the injected faults by kind.
	Faults map[string]int
	// Leader is how long after the faults stopped a lease was held, and
	// Bound the limit it was checked against.
	Leader, Bound time.Duration
	// Messages counts the agreement messages handed to the network.
	Messages int
	// Configs and Intents count the configs and intents a majority
	// stored; StepsRun the executor steps that ran (fence, promote).
	Configs, Intents, StepsRun int
	// StepsOverlap counts steps started while an earlier holder's step
	// could still run, its lease having ended before the step's deadline
	// (released or crashed): guarded only by the session kill (§5.6).
	StepsOverlap int
	// Converged is how long after the faults stopped every sentinel held
	// the same, latest config, and ConvergeBound its limit.
	Converged, ConvergeBound time.Duration
	// MinGap is the smallest time between one lease's end and the next
	// one's start when the first ran out rather than being released: how
	// close the run came to an overlap (0: no such pair).
	MinGap time.Duration
}

// Failure is a broken invariant, with what is needed to understand and
// replay it.
type Failure struct {
	N         int
	Seed      uint64
	Step      int
	At        time.Duration // virtual time since the start
	Invariant string
	Detail    string
	Trace     []string // the last events and messages, oldest first
	Nodes     []string // each sentinel's state at the failure
	Scripted  bool     // a scripted scenario, not a seed of TestSim
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d seed=%d: step %d at %v: %s: %s\n", f.N, f.Seed, f.Step, f.At, f.Invariant, f.Detail)
	b.WriteString("sentinels:\n")
	for _, s := range f.Nodes {
		b.WriteString("  " + s + "\n")
	}
	fmt.Fprintf(&b, "last %d trace lines:\n", len(f.Trace))
	for _, s := range f.Trace {
		b.WriteString("  " + s + "\n")
	}
	if f.Scripted {
		b.WriteString("replay: the scripted scenario test that failed, with -v")
	} else {
		fmt.Fprintf(&b, "replay: go test ./quorum/sim -run 'TestSim/n=%d$' -seed=%d -v", f.N, f.Seed)
	}
	return b.String()
}

// Run simulates one seed and returns its summary, or a *Failure.
func Run(cfg Config) (Result, error) {
	s := newSim(cfg)
	s.run()
	if s.fail != nil {
		return s.result(), s.fail
	}
	return s.result(), nil
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	// tickInterval is how often a sentinel ticks its machine, on its own
	// clock (the daemon ticks on a timer; messages are stepped as they come).
	tickInterval = 100 * time.Millisecond
	cluster      = "c"
	primary      = "p:1"
)

// node is one sentinel process and what survives it (its data_dir, its
// host's clock).
type node struct {
	id quorum.MemberID
	// The host's monotonic clock: local = base + (global − t0)·rate.
	base time.Time
	rate float64

	ag       *quorum.Agreement
	ep       *memnet.Endpoint
	up       bool      // the process runs
	paused   time.Time // global: no ticks, no messages until then
	nextTick time.Time // local
	tilt     quorum.Tilt
	tilted   bool

	// The data_dir: the last Persistent the machine was told to store, and
	// how many times it was wiped.
	stored quorum.Persistent
	wipes  int
	// mustLearn is the highest epoch a majority had granted when this
	// data_dir was wiped: learning must bring HighestEpoch up to it.
	mustLearn uint64
	// mustLearnConfig is the highest config epoch a majority had stored
	// when this data_dir was wiped: learning must bring it back.
	mustLearnConfig uint64

	restartAt    time.Time // global, while down
	restartWiped bool
	crashMid     bool      // crash in the middle of the next Ready's sends
	crashBy      time.Time // global: or at this time if no Ready came

	// The scenario's view for this sentinel.
	lag          time.Duration // sees the primary's state this late
	wrongUntil   time.Time     // global: its detector says the opposite until then
	vantageUntil time.Time     // global: a replica sees the primary until then
	wantUntil    time.Time     // global: an operator lease is wanted until then

	holding uint64 // the epoch of the lease it was last seen holding, 0: none

	// The fake executor (exec.go): the failover in progress, the last
	// epoch that ran one, and how the holder dies at its next commit
	// announcement ("": it does not).
	exec          *execution
	executed      uint64
	dieAtAnnounce string
	// stepping is the message being stepped, for the checks of its replies.
	stepping *quorum.Message
}

func (n *node) local(g time.Time) time.Time {
	return n.base.Add(time.Duration(float64(g.Sub(t0)) * n.rate))
}

func (n *node) global(l time.Time) time.Time {
	return t0.Add(time.Duration(float64(l.Sub(n.base)) / n.rate))
}

// sim is one run.
type sim struct {
	cfg    Config
	rng    *rand.Rand
	net    *memnet.Network
	voters quorum.Voters
	params quorum.Params
	nodes  []*node

	now  time.Time // global virtual time
	step int
	end  time.Time // faults stop
	// keepPartition: the partition stays as it is until then.
	keepPartition time.Time
	calm          bool // faults stopped
	bound         time.Duration
	// convergeBound: every sentinel holds the same, latest config that
	// long after the calm (invariant f); converged is when it last began
	// to (0: it does not now).
	convergeBound time.Duration
	converged     time.Duration

	// The primary's true state: it is down from each downs[i] to ups[i].
	downs, ups []time.Time

	check  checker
	trace  trace
	faults map[string]int
	msgs   int
	leader time.Duration
	fail   *Failure
}

func newSim(cfg Config) *sim {
	if cfg.Faults <= 0 {
		cfg.Faults = 30 * time.Second
	}
	if cfg.TraceLen <= 0 {
		cfg.TraceLen = 40
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1a2b3c4d))
	s := &sim{cfg: cfg, rng: rng, now: t0, end: t0.Add(cfg.Faults), faults: map[string]int{},
		trace: trace{max: cfg.TraceLen}}
	var members []quorum.Member
	for i := range cfg.N {
		members = append(members, quorum.Member{ID: quorum.MemberID(fmt.Sprintf("s%d", i+1))})
	}
	voters, err := quorum.NewVoters("sim", members)
	if err != nil {
		panic(err) // a bug in the simulator: the ids are generated
	}
	s.voters = voters

	// The memnet network shares the run's rng: one goroutine, so the order
	// of draws is fixed by the seed.
	s.net = memnet.New(rng, t0)
	s.net.SetPushPullInterval(0)
	s.net.SetDefaults(memnet.Link{Delay: time.Millisecond, Jitter: 20 * time.Millisecond})

	lease := []time.Duration{3 * time.Second, 5 * time.Second, 10 * time.Second}[rng.IntN(3)]
	maj := voters.Majority()
	s.params = quorum.Params{Cluster: cluster, Voters: voters, Quorum: 2 + rng.IntN(maj-1),
		OpinionTTL: 3 * time.Second, OpinionInterval: 500 * time.Millisecond,
		Lease: lease, DriftMargin: lease / 20, ElectionTimeout: time.Second,
		BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second,
		Auto: true, Cooldown: time.Duration(10+rng.IntN(50)) * time.Second}
	if cfg.scripted {
		s.params.Lease, s.params.DriftMargin, s.params.Quorum = 10*time.Second, 500*time.Millisecond, maj
	}
	s.bound = livenessBound(s.params)
	s.convergeBound = convergenceBound(s.params)
	s.check = checker{s: s, leases: map[uint64]*leaseRec{}, grants: map[uint64]map[quorum.MemberID]quorum.MemberID{},
		cfg: cfgChecks{props: map[string]*propRec{}, epochPrimary: map[uint64]string{},
			seen: map[quorum.MemberID]quorum.Config{}, maxGrant: map[quorum.MemberID]uint64{}}}

	// A new fleet bootstraps from empty data_dirs half of the time;
	// otherwise every data_dir has learned already.
	fresh := rng.IntN(2) == 0 && !cfg.scripted
	// Clock rates within ±1%: uniform, at the extremes, or the first
	// ranked sentinel (the first candidate, see stagger) slow and the
	// others fast, where the drift margin is needed most: a slow holder's
	// authority lasts longest in real time, fast voters' bindings the least.
	rates, slow := rng.IntN(3), voters.IDs()[0]
	for _, id := range voters.IDs() {
		rate := 1 + (rng.Float64()*2-1)*0.01
		switch {
		case rates == 1:
			rate = []float64{0.99, 1.01}[rng.IntN(2)]
		case rates == 2 && id == slow:
			rate = 0.99
		case rates == 2:
			rate = 1.01
		}
		n := &node{id: id, rate: rate,
			base: t0.Add(time.Duration(rng.Int64N(int64(1000 * time.Hour)))),
			tilt: quorum.Tilt{Interval: tickInterval, Threshold: 500 * time.Millisecond, Hold: s.params.OpinionTTL}}
		n.lag = time.Duration(rng.Int64N(int64(2 * time.Second)))
		if rng.IntN(5) == 0 {
			n.lag = time.Duration(rng.Int64N(int64(8 * time.Second))) // sees it late
		}
		if cfg.scripted {
			n.rate, n.lag = 1, 0
		}
		if !fresh {
			n.stored = quorum.Persistent{Learned: true}
		}
		s.nodes = append(s.nodes, n)
		s.start(n, false)
	}
	// The primary dies early in the run.
	s.downs = append(s.downs, t0.Add(time.Second+time.Duration(rng.Int64N(int64(9*time.Second)))))
	if cfg.scripted {
		s.downs[0] = t0.Add(time.Second)
	}
	return s
}

// livenessBound is how long after every fault stopped a leader must be
// elected (see doc.go): every binding and abstention started before the
// calm runs out within one lease; TILT entered by a pause that the calm
// ended lasts its hold; a learner needs a sync round and ODOWN fresh
// opinions (two opinion intervals each way, with delays); then each
// election attempt takes at most the election timeout plus the back-off
// cap, and four attempts are allowed for split votes.
func livenessBound(p quorum.Params) time.Duration {
	return p.Lease + p.OpinionTTL + 4*p.OpinionInterval + 4*(p.ElectionTimeout+p.BackoffMax)
}

// convergenceBound is how long after every fault stopped every sentinel
// must hold the same config, the latest committed one (see doc.go): a
// leader within the liveness bound; its executor rolls a pending intent
// forward (an intent, the step, the config: MayStart may wait up to a
// third of a lease for a renewal); the announcement, or an opinion that
// names a newer config and the sync round it starts, reaches every
// sentinel within two opinion intervals.
func convergenceBound(p quorum.Params) time.Duration {
	return livenessBound(p) + p.Lease/3 + 4*p.OpinionInterval + time.Second
}

// start runs n's process: a new machine from its data_dir (restarted) or
// from nothing (a first start, or a wiped data_dir).
func (s *sim) start(n *node, restarted bool) {
	n.up = true
	n.ep = s.net.Restart(n.id)
	p := s.params
	p.Self = n.id
	rng := rand.New(rand.NewPCG(s.rng.Uint64(), s.rng.Uint64()))
	local := n.local(s.now)
	n.ag = quorum.NewAgreement(p, n.stored, restarted, rng, local)
	n.nextTick = local
	n.tilt = quorum.Tilt{Interval: n.tilt.Interval, Threshold: n.tilt.Threshold, Hold: n.tilt.Hold}
	n.holding = 0
	n.exec, n.executed, n.dieAtAnnounce = nil, 0, ""
	s.flush(n, false)
}

func (s *sim) run() {
	for !s.done() && s.fail == nil {
		s.stepOnce()
	}
}

// stepOnce advances global time by one step of 10–50 ms: faults, restarts,
// deliveries, every running sentinel's tick and messages, the checks.
func (s *sim) stepOnce() {
	s.step++
	s.now = s.now.Add(time.Duration(10+s.rng.IntN(41)) * time.Millisecond)
	if !s.calm && !s.cfg.scripted && !s.now.Before(s.end) {
		s.calmDown()
	}
	if !s.calm && !s.cfg.scripted {
		s.inject()
	}
	s.restartDue()
	s.net.Advance(s.now)
	for _, n := range s.nodes {
		if n.up && !s.now.Before(n.paused) {
			s.runNode(n)
		}
		if s.fail != nil {
			return
		}
	}
	s.check.everyStep()
}

// done ends the run a little after a leader was elected in the calm.
func (s *sim) done() bool {
	if !s.calm {
		return false
	}
	since := s.now.Sub(s.end)
	if s.leader == 0 {
		for _, n := range s.nodes {
			if n.holding != 0 {
				s.leader = max(since, time.Nanosecond)
			}
		}
	}
	if s.leader == 0 && since > s.bound {
		s.failf(InvLiveness, "no leader %v after the faults stopped (bound %v: %s); configs: %s", since.Round(time.Millisecond),
			s.bound, "lease + opinion TTL + 4 opinion intervals + 4·(election timeout + back-off cap)", s.configs())
		return true
	}
	switch ok, why := s.convergence(); {
	case ok && s.converged == 0:
		s.converged = max(since, time.Nanosecond)
	case !ok:
		s.converged = 0
		if since > s.convergeBound {
			s.failf(InvConverge, "the sentinels do not hold the same, latest committed config %v after the faults stopped (bound %v): %s; configs: %s",
				since.Round(time.Millisecond), s.convergeBound, why, s.configs())
			return true
		}
	}
	return s.leader != 0 && s.converged != 0 && since >= max(s.leader, s.converged)+time.Second
}

// runNode ticks n when its tick is due, then steps every message waiting
// in its inbox, each followed by its Ready.
func (s *sim) runNode(n *node) {
	local := n.local(s.now)
	ticked := false
	defer func() { s.execute(n, ticked) }()
	if !local.Before(n.nextTick) {
		ticked = true
		n.nextTick = local.Add(tickInterval)
		tilt, why := n.tilt.Observe(local)
		if tilt && !n.tilted {
			s.trace.add(s, "%s: TILT: %s", n.id, why)
		}
		n.tilted = tilt
		n.ag.Tick(local, quorum.Local{ConfigEpoch: 0, Primary: primary, PrimarySDOWN: s.sdown(n),
			Vantage: s.vantage(n), Tilt: tilt, Alive: n.ep.Alive()})
		s.flush(n, true)
	}
	for n.up && s.fail == nil {
		select {
		case tm, ok := <-n.ep.Inbox():
			if !ok {
				return
			}
			var m quorum.Message
			if err := json.Unmarshal(tm.Payload, &m); err != nil {
				s.failf(InvWire, "%s received an undecodable message from %s: %v", n.id, tm.From, err)
				return
			}
			n.ag.Step(m, local)
			n.stepping = &m
			s.flush(n, true)
			n.stepping = nil
		default:
			return
		}
	}
}

// flush carries out n's Ready the way the daemon must: persist (fsync)
// first, then send, then report; then checks the invariants it touches.
// A crash planned "in the middle" happens after the persist, part way
// through the sends.
func (s *sim) flush(n *node, running bool) {
	local := n.local(s.now)
	r := n.ag.Ready()
	if running && n.up {
		// A lease won in this very step may already carry a proposal (a
		// new leader recommits a config it does not know to be committed):
		// register the lease before checking the proposals.
		s.check.lease(n)
	}
	for _, m := range r.Send {
		if m.Kind == quorum.KindPropose {
			s.check.proposed(n, *m.Propose, local)
		}
	}
	if r.Persist != nil {
		s.check.persist(n, *r.Persist)
		n.stored = *r.Persist
	}
	cut := len(r.Send)
	if n.crashMid && len(r.Send) > 0 {
		cut = s.rng.IntN(len(r.Send))
	}
	for i, m := range r.Send {
		if i == cut {
			s.trace.add(s, "%s: crashes after persisting, %d of %d sends out", n.id, cut, len(r.Send))
			s.crash(n)
			break
		}
		s.check.send(n, m, local)
		if m.Kind == quorum.KindCommitted && n.dieAtAnnounce != "" && !s.calm {
			// The holder dies between the commit's majority and its
			// announcement: some members hear it, the others do not.
			how := n.dieAtAnnounce
			n.dieAtAnnounce = ""
			var to []quorum.MemberID
			for _, id := range s.ids() {
				if id != n.id && s.rng.IntN(2) == 0 {
					to = append(to, id)
				}
			}
			s.sendTo(n, m, to)
			s.die(n, &execution{die: "at-announce", how: how})
			if !n.up {
				break
			}
			continue
		}
		s.send(n, m)
	}
	for _, e := range r.Events {
		if e.Type == "voted" || e.Type == "elected" || e.Type == "abandoned" || e.Type == "lease-lost" ||
			e.Type == "released" || e.Type == "learned" || e.Type == "refused" || e.Type == "committed" ||
			e.Type == "intent" || e.Type == "config" {
			s.trace.add(s, "%s: %s e%d: %s", n.id, e.Type, e.Epoch, e.Detail)
		}
	}
	if running && n.up {
		s.check.lease(n)
	}
	if n.up && s.fail == nil {
		s.check.heldConfig(n)
	}
}

func (s *sim) send(n *node, m quorum.Message) {
	payload, err := json.Marshal(m)
	if err != nil {
		s.failf(InvWire, "%s cannot encode %+v: %v", n.id, m, err)
		return
	}
	if m.Kind != quorum.KindOpinion {
		to := "all"
		if m.To != "" {
			to = string(m.To)
		}
		s.trace.add(s, "%s→%s %s", n.id, to, describe(m))
	}
	for _, id := range s.voters.IDs() {
		if id == n.id || (m.To != "" && m.To != id) {
			continue
		}
		s.msgs++
		// Unreachable: the message is lost, as on a real network.
		_ = n.ep.Send(context.Background(), id, payload)
	}
}

// sendTo sends a message meant for every member to some of them only.
func (s *sim) sendTo(n *node, m quorum.Message, to []quorum.MemberID) {
	payload, err := json.Marshal(m)
	if err != nil {
		s.failf(InvWire, "%s cannot encode %+v: %v", n.id, m, err)
		return
	}
	s.trace.add(s, "%s→%v %s (the rest never sent)", n.id, to, describe(m))
	for _, id := range to {
		s.msgs++
		// Unreachable: the message is lost, as on a real network.
		_ = n.ep.Send(context.Background(), id, payload)
	}
}

// sdown is n's detector's verdict on the primary now.
func (s *sim) sdown(n *node) bool {
	if s.calm {
		return true
	}
	down := s.primaryDown(s.now.Add(-n.lag))
	if s.now.Before(n.wrongUntil) {
		down = !down
	}
	return down
}

func (s *sim) primaryDown(g time.Time) bool {
	for i, d := range s.downs {
		if !g.Before(d) && (i >= len(s.ups) || g.Before(s.ups[i])) {
			return true
		}
	}
	return false
}

func (s *sim) vantage(n *node) quorum.Vantage {
	if !s.calm && s.now.Before(n.vantageUntil) {
		return quorum.CheckVantage([]quorum.ReplicaLink{{Replica: "r:1", Reachable: true, LinkUp: true, LastIO: time.Second}},
			time.Second, 3)
	}
	return quorum.CheckVantage(nil, time.Second, 3)
}

func (s *sim) failf(invariant, format string, args ...any) {
	if s.fail != nil {
		return
	}
	f := &Failure{N: s.cfg.N, Seed: s.cfg.Seed, Step: s.step, At: s.now.Sub(t0), Invariant: invariant,
		Detail: fmt.Sprintf(format, args...), Trace: s.trace.lines(), Scripted: s.cfg.scripted}
	for _, n := range s.nodes {
		f.Nodes = append(f.Nodes, s.describeNode(n))
	}
	s.fail = f
}

func (s *sim) describeNode(n *node) string {
	local := n.local(s.now)
	st := "down"
	if n.up {
		ss := n.ag.Status(local)
		st = fmt.Sprintf("%s epoch %d holder %s@%d", ss.State, ss.Epoch, ss.Holder, ss.HolderEpoch)
		if s.now.Before(n.paused) {
			st += fmt.Sprintf(" (paused %v more)", n.paused.Sub(s.now).Round(time.Millisecond))
		}
	}
	b := n.stored.Binding
	return fmt.Sprintf("%s rate %.4f: %s; stored highest %d, binding %s@%d, learned %v, wiped %d×", n.id, n.rate, st,
		n.stored.HighestEpoch, b.Holder, b.Epoch, n.stored.Learned, n.wipes)
}

func (s *sim) result() Result {
	r := Result{Params: s.params, Steps: s.step, Faults: s.faults, Leader: s.leader, Bound: s.bound, Messages: s.msgs,
		Leases: len(s.check.leases), Converged: s.converged, ConvergeBound: s.convergeBound,
		StepsRun: len(s.check.cfg.steps), StepsOverlap: s.check.cfg.cutShort}
	for key, p := range s.check.cfg.props {
		if !p.committed.IsZero() && strings.HasPrefix(key, "c/") {
			r.Configs++
		} else if !p.committed.IsZero() {
			r.Intents++
		}
	}
	for e := range s.check.leases {
		r.MaxEpoch = max(r.MaxEpoch, e)
	}
	for i := 1; i < len(s.check.order); i++ {
		prev, next := s.check.order[i-1], s.check.order[i]
		if gap := next.start.Sub(prev.end); prev.expired && prev.holder != next.holder && (r.MinGap == 0 || gap < r.MinGap) {
			r.MinGap = gap
		}
	}
	return r
}

// describe is a message in a trace line.
func describe(m quorum.Message) string {
	switch m.Kind {
	case quorum.KindVote:
		v := m.Vote
		return fmt.Sprintf("vote e%d %s cfg %d/%s", v.Epoch, v.Reason, v.ConfigEpoch, v.Primary)
	case quorum.KindVoteReply:
		v := m.VoteReply
		if v.Grant {
			return fmt.Sprintf("vote-reply e%d GRANT (highest %d)", v.Epoch, v.Highest)
		}
		return fmt.Sprintf("vote-reply e%d refuse (highest %d): %s", v.Epoch, v.Highest, v.Why)
	case quorum.KindRenew:
		return fmt.Sprintf("renew e%d seq %d", m.Renew.Epoch, m.Renew.Seq)
	case quorum.KindRenewReply:
		r := m.RenewReply
		if r.Grant {
			return fmt.Sprintf("renew-reply e%d seq %d ack", r.Epoch, r.Seq)
		}
		return fmt.Sprintf("renew-reply e%d seq %d refuse: %s", r.Epoch, r.Seq, r.Why)
	case quorum.KindRelease:
		return fmt.Sprintf("release e%d", m.Release.Epoch)
	case quorum.KindLeader:
		return fmt.Sprintf("leader e%d %s", m.Leader.Epoch, m.Leader.Reason)
	case quorum.KindSyncReply:
		r := m.SyncReply
		return fmt.Sprintf("sync-reply highest %d learner %v config %s", r.Highest, r.Learner, cfgString(r.Config))
	case quorum.KindPropose:
		p := m.Propose
		if p.Intent != nil {
			return fmt.Sprintf("propose e%d seq %d intent %s %s", p.Epoch, p.Seq, p.Intent.Step, p.Intent.Target)
		}
		return fmt.Sprintf("propose e%d seq %d config %s", p.Epoch, p.Seq, cfgString(*p.Config))
	case quorum.KindProposeAck:
		r := m.ProposeAck
		if r.OK {
			return fmt.Sprintf("propose-ack e%d seq %d ok", r.Epoch, r.Seq)
		}
		return fmt.Sprintf("propose-ack e%d seq %d refuse: %s", r.Epoch, r.Seq, r.Why)
	case quorum.KindCommitted:
		return "committed " + cfgString(*m.Committed)
	}
	return string(m.Kind)
}

// trace keeps the last lines of what happened.
type trace struct {
	max int
	buf []string
}

func (t *trace) add(s *sim, format string, args ...any) {
	line := fmt.Sprintf("[%d %8.3fs] ", s.step, s.now.Sub(t0).Seconds()) + fmt.Sprintf(format, args...)
	if len(line) > 240 {
		line = line[:240] + "…"
	}
	if len(t.buf) == 2*t.max {
		copy(t.buf, t.buf[t.max:])
		t.buf = t.buf[:t.max]
	}
	t.buf = append(t.buf, line)
}

func (t *trace) lines() []string {
	if len(t.buf) > t.max {
		return append([]string(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return append([]string(nil), t.buf...)
}
