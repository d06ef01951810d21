package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport/memnet"
)

// faultRate is the probability that a global step injects a fault: with
// steps of 10–50 ms, one fault every second or so.
const faultRate = 0.03

// fault is one kind of fault and how often it is chosen.
type fault struct {
	name   string
	weight int
	do     func(s *sim) bool // false: not applicable now, nothing done
}

// faultKinds is the table of faults the seed chooses from.
func faultKinds() []fault {
	return []fault{
		{"partition", 3, (*sim).partition},
		{"split", 2, (*sim).split},
		{"isolate", 1, (*sim).isolate},
		{"isolate-leader", 2, (*sim).isolateLeader},
		{"heal", 5, (*sim).heal},
		{"links", 2, (*sim).links},
		{"cut-link", 1, (*sim).cutLink},
		{"slow-link", 1, (*sim).slowLink},
		{"slow-inbound", 1, (*sim).slowInbound},
		{"clear-links", 1, (*sim).clearLinks},
		{"crash", 3, (*sim).crashFault},
		{"pause", 2, (*sim).pause},
		{"clock-step", 1, (*sim).clockStep},
		{"detector-wrong", 2, (*sim).detectorWrong},
		{"vantage", 1, (*sim).vantageBlock},
		{"primary-flip", 1, (*sim).primaryFlip},
		{"operator", 1, (*sim).operator},
	}
}

// inject may inject one fault, chosen by the seed.
func (s *sim) inject() {
	for _, n := range s.nodes {
		if n.up && n.crashMid && s.now.After(n.crashBy) {
			// A crash "in the middle of a Ready" that found no Ready to
			// interrupt in time happens now.
			s.crash(n)
		}
		if n.up && !n.wantUntil.IsZero() && !s.now.Before(n.wantUntil) {
			n.wantUntil = time.Time{}
			n.ag.Done(n.local(s.now))
			s.trace.add(s, "%s: operator task done", n.id)
			s.flush(n, true)
		}
	}
	if s.rng.Float64() >= faultRate {
		return
	}
	faults := faultKinds()
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	w := s.rng.IntN(total)
	for _, f := range faults {
		if w -= f.weight; w < 0 {
			if f.do(s) {
				s.faults[f.name]++
			}
			return
		}
	}
}

func (s *sim) ids() []quorum.MemberID { return s.voters.IDs() }

func (s *sim) partition() bool {
	if s.now.Before(s.keepPartition) {
		return false
	}
	k := 2 + s.rng.IntN(2)
	groups := make([][]quorum.MemberID, k)
	for _, id := range s.ids() {
		g := s.rng.IntN(k)
		groups[g] = append(groups[g], id)
	}
	s.net.Partition(groups...)
	s.trace.add(s, "fault: partition %s", groupsString(groups))
	return true
}

// split cuts the fleet into a majority and a minority.
func (s *sim) split() bool {
	if s.now.Before(s.keepPartition) {
		return false
	}
	ids := s.ids()
	s.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	m := s.voters.Majority()
	groups := [][]quorum.MemberID{ids[:m], ids[m:]}
	s.net.Partition(groups...)
	s.trace.add(s, "fault: split %s", groupsString(groups))
	return true
}

func (s *sim) isolate() bool {
	if s.now.Before(s.keepPartition) {
		return false
	}
	ids := s.ids()
	i := s.rng.IntN(len(ids))
	rest := append(append([]quorum.MemberID(nil), ids[:i]...), ids[i+1:]...)
	s.net.Partition([]quorum.MemberID{ids[i]}, rest)
	s.trace.add(s, "fault: isolate %s", ids[i])
	return true
}

// isolateLeader cuts the sentinel holding a lease off from the others,
// the fault that tests whether its authority ends before the others elect.
func (s *sim) isolateLeader() bool {
	if s.now.Before(s.keepPartition) {
		return false
	}
	for _, n := range s.nodes {
		if n.holding == 0 {
			continue
		}
		var rest []quorum.MemberID
		for _, id := range s.ids() {
			if id != n.id {
				rest = append(rest, id)
			}
		}
		s.net.Partition([]quorum.MemberID{n.id}, rest)
		// It lasts at least a lease: long enough for the others to
		// elect, which is when an authority that ends late shows.
		s.keepPartition = s.now.Add(s.params.Lease + 2*time.Second)
		s.trace.add(s, "fault: isolate the leader %s for at least %v", n.id, s.keepPartition.Sub(s.now))
		return true
	}
	return false
}

func (s *sim) heal() bool {
	if s.now.Before(s.keepPartition) {
		return false
	}
	s.net.Heal()
	s.trace.add(s, "fault: heal the partition")
	return true
}

func (s *sim) links() bool {
	l := memnet.Link{Drop: []float64{0, 0, 0.05, 0.2, 0.5}[s.rng.IntN(5)],
		Delay:  time.Duration(s.rng.Int64N(int64(30 * time.Millisecond))),
		Jitter: time.Duration(1 + s.rng.Int64N(int64(300*time.Millisecond)))}
	s.net.SetDefaults(l)
	s.trace.add(s, "fault: every link drops %.2f, delay %v + jitter <%v", l.Drop, l.Delay.Round(time.Millisecond),
		l.Jitter.Round(time.Millisecond))
	return true
}

func (s *sim) pair() (quorum.MemberID, quorum.MemberID) {
	ids := s.ids()
	i := s.rng.IntN(len(ids))
	j := (i + 1 + s.rng.IntN(len(ids)-1)) % len(ids)
	return ids[i], ids[j]
}

func (s *sim) cutLink() bool {
	a, b := s.pair()
	s.net.SetLink(a, b, memnet.Link{Cut: true})
	s.trace.add(s, "fault: cut the link %s→%s (one way)", a, b)
	return true
}

// slowLink delays one direction by up to 3 s: requests and replies arrive
// after the election they belong to is over.
func (s *sim) slowLink() bool {
	a, b := s.pair()
	l := memnet.Link{Delay: time.Duration(s.rng.Int64N(int64(3 * time.Second))), Jitter: 100 * time.Millisecond}
	s.net.SetLink(a, b, l)
	s.trace.add(s, "fault: slow link %s→%s, delay %v", a, b, l.Delay.Round(time.Millisecond))
	return true
}

// slowInbound delays every message to one sentinel by 0.5–3 s: its vote
// requests go out at once and their grants come back late.
func (s *sim) slowInbound() bool {
	to := s.ids()[s.rng.IntN(len(s.ids()))]
	l := memnet.Link{Delay: 500*time.Millisecond + time.Duration(s.rng.Int64N(int64(2500*time.Millisecond))),
		Jitter: 50 * time.Millisecond}
	for _, from := range s.ids() {
		if from != to {
			s.net.SetLink(from, to, l)
		}
	}
	s.trace.add(s, "fault: every message to %s is %v late", to, l.Delay.Round(time.Millisecond))
	return true
}

func (s *sim) clearLinks() bool {
	s.net.ClearLinks()
	s.trace.add(s, "fault: clear the per-link faults")
	return true
}

// upNode picks a running, unpaused sentinel.
func (s *sim) upNode() *node {
	var up []*node
	for _, n := range s.nodes {
		if n.up && !s.now.Before(n.paused) {
			up = append(up, n)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[s.rng.IntN(len(up))]
}

// crashFault kills a process: at once, or in the middle of its next Ready
// (after the persist, part way through the sends). It restarts later,
// with its data_dir or wiped.
func (s *sim) crashFault() bool {
	n := s.upNode()
	if n == nil || n.crashMid {
		return false
	}
	n.restartWiped = s.rng.IntN(10) < 3
	if s.rng.IntN(10) < 3 {
		n.crashMid = true
		n.crashBy = s.now.Add(2 * time.Second)
		s.trace.add(s, "fault: %s will crash in the middle of its next Ready", n.id)
		return true
	}
	s.crash(n)
	return true
}

func (s *sim) crash(n *node) {
	s.net.Crash(n.id)
	n.up, n.crashMid, n.paused, n.wantUntil = false, false, time.Time{}, time.Time{}
	n.exec, n.dieAtAnnounce = nil, ""
	s.check.crashed(n)
	n.restartAt = s.now.Add(200*time.Millisecond + time.Duration(s.rng.Int64N(int64(8*time.Second))))
	how := "with its data_dir"
	if n.restartWiped {
		how = "wiped (if a majority keeps its data)"
	}
	s.trace.add(s, "fault: %s crashes; restarts %s in %v", n.id, how, n.restartAt.Sub(s.now).Round(time.Millisecond))
}

// restartDue restarts the crashed sentinels whose time has come. A wipe
// happens only while a majority of the others would still remember: with
// more learners than N − majority no learner can ever catch up (DESIGN.md
// §5.2 assumes a majority keeps its data).
func (s *sim) restartDue() {
	for _, n := range s.nodes {
		if n.up || s.now.Before(n.restartAt) && !s.calm {
			continue
		}
		learners := 1
		for _, o := range s.nodes {
			if o != n && !o.stored.Learned {
				learners++
			}
		}
		if n.restartWiped && learners <= s.voters.Len()-s.voters.Majority() {
			n.stored = quorum.Persistent{}
			n.wipes++
			n.mustLearn = s.check.majorityEpoch()
			n.mustLearnConfig = s.check.majorityConfigEpoch(s.now)
			s.check.wiped(n)
			s.trace.add(s, "%s: restarts with a wiped data_dir (a learner; must learn epoch ≥ %d)", n.id, n.mustLearn)
			s.start(n, false)
			continue
		}
		s.trace.add(s, "%s: restarts with its data_dir (highest %d, binding %s@%d)", n.id, n.stored.HighestEpoch,
			n.stored.Binding.Holder, n.stored.Binding.Epoch)
		s.start(n, true)
	}
}

// pause stops a process (SIGSTOP, a long GC, a starved VM) for 1–15 s:
// no ticks, no messages; what arrives waits in its inbox. Its monotonic
// clock runs on, so it resumes with a jump, and its TILT detector sees the
// late tick.
func (s *sim) pause() bool {
	return s.freeze("pause", time.Second+time.Duration(s.rng.Int64N(int64(14*time.Second))))
}

// clockStep: the host's clock steps forward by 1–5 s. The monotonic clock
// the machine runs on cannot step; what the process sees is its next tick
// arriving seconds late on that clock, exactly like a pause of the same
// length, and it is modelled as one (see doc.go).
func (s *sim) clockStep() bool {
	return s.freeze("clock-step", time.Second+time.Duration(s.rng.Int64N(int64(4*time.Second))))
}

func (s *sim) freeze(kind string, d time.Duration) bool {
	n := s.upNode()
	if n == nil {
		return false
	}
	n.paused = s.now.Add(d)
	s.trace.add(s, "fault: %s %s for %v", kind, n.id, d.Round(time.Millisecond))
	return true
}

// detectorWrong: one sentinel's detector says the opposite of the truth
// for a while (a flap, or a late view).
func (s *sim) detectorWrong() bool {
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	n.wrongUntil = s.now.Add(300*time.Millisecond + time.Duration(s.rng.Int64N(int64(5*time.Second))))
	s.trace.add(s, "fault: %s's detector is wrong for %v", n.id, n.wrongUntil.Sub(s.now).Round(time.Millisecond))
	return true
}

func (s *sim) vantageBlock() bool {
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	n.vantageUntil = s.now.Add(time.Second + time.Duration(s.rng.Int64N(int64(9*time.Second))))
	s.trace.add(s, "fault: a replica shows %s the primary alive for %v", n.id, n.vantageUntil.Sub(s.now).Round(time.Millisecond))
	return true
}

// primaryFlip revives the dead primary or kills it again.
func (s *sim) primaryFlip() bool {
	switch {
	case s.now.Before(s.downs[0]):
		return false
	case len(s.ups) < len(s.downs):
		s.ups = append(s.ups, s.now)
		s.trace.add(s, "fault: the primary answers again")
	default:
		s.downs = append(s.downs, s.now)
		s.trace.add(s, "fault: the primary dies again")
	}
	return true
}

// operator asks one sentinel for an operator lease for 1–6 s.
func (s *sim) operator() bool {
	n := s.upNode()
	if n == nil || !n.wantUntil.IsZero() {
		return false
	}
	forced := s.rng.IntN(2) == 0
	n.ag.Want(quorum.ReasonOperator, forced)
	n.wantUntil = s.now.Add(time.Second + time.Duration(s.rng.Int64N(int64(5*time.Second))))
	s.trace.add(s, "fault: an operator asks %s for a lease (forced %v)", n.id, forced)
	return true
}

// calmDown stops every fault: the network heals, crashed sentinels
// restart, paused ones resume, every detector says the primary is down,
// no replica blocks, no operator task is pending. A leader must follow
// within the liveness bound.
func (s *sim) calmDown() {
	s.calm = true
	s.trace.add(s, "calm: every fault stops; a leader is due within %v", s.bound)
	s.net.Heal()
	s.net.ClearLinks()
	s.net.SetDefaults(memnet.Link{Delay: time.Millisecond, Jitter: 20 * time.Millisecond})
	if len(s.ups) == len(s.downs) {
		s.downs = append(s.downs, s.now)
	}
	for _, n := range s.nodes {
		if n.crashMid {
			s.crash(n)
		}
		n.paused, n.wrongUntil, n.vantageUntil = time.Time{}, time.Time{}, time.Time{}
		if n.up && !n.wantUntil.IsZero() {
			n.wantUntil = time.Time{}
			n.ag.Done(n.local(s.now))
			s.flush(n, true)
		}
	}
}

func groupsString(groups [][]quorum.MemberID) string {
	var parts []string
	for _, g := range groups {
		ids := make([]string, len(g))
		for i, id := range g {
			ids[i] = string(id)
		}
		parts = append(parts, "["+strings.Join(ids, " ")+"]")
	}
	return fmt.Sprint(strings.Join(parts, " "))
}
