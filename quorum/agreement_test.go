package quorum

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// testFleet runs agreements over a synchronous network: every message is
// delivered at once, in send order, until none is left. down members
// neither send nor receive.
type testFleet struct {
	t      *testing.T
	now    time.Time
	nodes  map[MemberID]*Agreement
	ids    []MemberID
	local  map[MemberID]Local
	down   map[MemberID]bool
	stored map[MemberID]Persistent
	events map[MemberID][]Event
}

func testParams(self MemberID, v Voters) Params {
	return Params{Self: self, Voters: v, Cluster: "c", Quorum: 2, OpinionTTL: 3 * time.Second,
		OpinionInterval: 500 * time.Millisecond, Lease: 10 * time.Second, DriftMargin: 500 * time.Millisecond,
		ElectionTimeout: time.Second, BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second,
		Auto: true, Cooldown: time.Minute}
}

func newTestFleet(t *testing.T, ids ...MemberID) *testFleet {
	t.Helper()
	v := mustVoters(t, "f", ids...)
	f := &testFleet{t: t, now: t0, nodes: map[MemberID]*Agreement{}, ids: ids, local: map[MemberID]Local{},
		down: map[MemberID]bool{}, stored: map[MemberID]Persistent{}, events: map[MemberID][]Event{}}
	for i, id := range ids {
		f.nodes[id] = NewAgreement(testParams(id, v), Persistent{Learned: true}, false, rand.New(rand.NewPCG(uint64(i), 1)), t0)
		f.local[id] = Local{ConfigEpoch: 0, Primary: "p:1"}
	}
	return f
}

func (f *testFleet) setSDOWN(sdown bool, ids ...MemberID) {
	for _, id := range ids {
		l := f.local[id]
		l.PrimarySDOWN = sdown
		f.local[id] = l
	}
}

// step advances time by d, ticks every live node and delivers messages.
func (f *testFleet) step(d time.Duration) {
	f.now = f.now.Add(d)
	for _, id := range f.ids {
		if !f.down[id] {
			f.nodes[id].Tick(f.now, f.local[id])
		}
	}
	f.deliver()
}

func (f *testFleet) deliver() {
	for range 1000 {
		var queue []Message
		for _, id := range f.ids {
			r := f.nodes[id].Ready()
			if f.down[id] {
				continue
			}
			if r.Persist != nil {
				f.stored[id] = *r.Persist
			}
			f.events[id] = append(f.events[id], r.Events...)
			queue = append(queue, r.Send...)
		}
		if len(queue) == 0 {
			return
		}
		for _, m := range queue {
			for _, to := range f.ids {
				if to == m.From || f.down[to] || (m.To != "" && m.To != to) {
					continue
				}
				f.nodes[to].Step(m, f.now)
			}
		}
	}
	f.t.Fatal("messages never settled")
}

func (f *testFleet) run(d time.Duration) {
	for end := f.now.Add(d); f.now.Before(end); {
		f.step(100 * time.Millisecond)
	}
}

func (f *testFleet) leaders() []MemberID {
	var out []MemberID
	for _, id := range f.ids {
		if _, ok := f.nodes[id].Lease(f.now); ok && !f.down[id] {
			out = append(out, id)
		}
	}
	return out
}

func (f *testFleet) states() string {
	var s []string
	for _, id := range f.ids {
		s = append(s, string(id)+"="+string(f.nodes[id].Status(f.now).State))
	}
	return strings.Join(s, " ")
}

func TestAgreementElectsOneLeaderOnODOWN(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.run(time.Second)
	if got := f.states(); got != "s1=ok s2=ok s3=ok" {
		t.Fatalf("healthy: %s", got)
	}
	f.setSDOWN(true, "s1", "s2", "s3")
	f.run(2 * time.Second)
	leaders := f.leaders()
	if len(leaders) != 1 {
		t.Fatalf("leaders = %v, want one: %s", leaders, f.states())
	}
	l, _ := f.nodes[leaders[0]].Lease(f.now)
	if l.Epoch != 1 || l.Reason != ReasonFailover {
		t.Errorf("lease = %+v, want epoch 1 failover", l)
	}
	for _, id := range f.ids {
		st := f.nodes[id].Status(f.now)
		want := StateFollowing
		if id == leaders[0] {
			want = StateLeading
		}
		if st.State != want || st.Holder != leaders[0] || st.HolderEpoch != 1 {
			t.Errorf("%s status = %+v, want %s with holder %s at epoch 1", id, st, want, leaders[0])
		}
		if f.stored[id].HighestEpoch != 1 {
			t.Errorf("%s persisted highest epoch %d, want 1", id, f.stored[id].HighestEpoch)
		}
	}
	// The lease is renewed while the task lasts: well past one lease.
	f.run(25 * time.Second)
	if got := f.leaders(); len(got) != 1 || got[0] != leaders[0] {
		t.Fatalf("after 25s leaders = %v, want %s still: %s", got, leaders[0], f.states())
	}
	// The primary answers again: the lease is released.
	f.setSDOWN(false, "s1", "s2", "s3")
	f.run(time.Second)
	if got := f.leaders(); len(got) != 0 {
		t.Errorf("leaders after the primary came back = %v", got)
	}
	if got := f.states(); got != "s1=ok s2=ok s3=ok" {
		t.Errorf("after release: %s", got)
	}
}

func TestAgreementNoQuorumNoElection(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1") // only one sentinel sees it down; quorum is 2
	f.run(5 * time.Second)
	if got := f.leaders(); len(got) != 0 {
		t.Fatalf("leaders = %v with one SDOWN", got)
	}
	if st := f.nodes["s1"].Status(f.now); st.State != StateSDOWN || !strings.Contains(st.Tally, "1 of quorum 2") {
		t.Errorf("s1 status = %+v", st)
	}
}

// DESIGN.md §5.4: a replica that sees the primary alive blocks automatic
// failover.
func TestAgreementVantageBlocks(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2", "s3")
	for _, id := range f.ids {
		l := f.local[id]
		l.Vantage = CheckVantage([]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: true, LastIO: time.Second}}, time.Second, 3)
		f.local[id] = l
	}
	f.run(5 * time.Second)
	if got := f.leaders(); len(got) != 0 {
		t.Fatalf("leaders = %v despite vantage", got)
	}
	st := f.nodes["s2"].Status(f.now)
	if st.State != StateVantageBlocked {
		t.Errorf("state = %s, want vantage-blocked", st.State)
	}
	found := false
	for _, e := range f.events["s2"] {
		if e.Type == "state:"+string(StateVantageBlocked) && strings.Contains(e.Detail, "UnreachablePrimaryWithHealthyReplicas") {
			found = true
		}
	}
	if !found {
		t.Errorf("no vantage-blocked event naming the condition: %+v", f.events["s2"])
	}
}

// DESIGN.md §5.9: when observation and config disagree, observe, don't act.
func TestAgreementHoldBlocksAutomaticFailover(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2", "s3")
	for _, id := range f.ids {
		l := f.local[id]
		l.Hold = "PrimaryIsReplica"
		f.local[id] = l
	}
	f.run(5 * time.Second)
	if got := f.leaders(); len(got) != 0 {
		t.Fatalf("leaders = %v while held", got)
	}
	f.nodes["s1"].Want(ReasonOperator, true)
	f.run(time.Second)
	if got := f.leaders(); len(got) != 1 || got[0] != "s1" {
		t.Errorf("operator request while held: leaders %v, want s1", got)
	}
}

// A voter that sees the primary healthy refuses failover votes, but two
// of three still elect.
func TestAgreementHealthyVoterRefuses(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2")
	f.run(3 * time.Second)
	leaders := f.leaders()
	if len(leaders) != 1 || leaders[0] == "s3" {
		t.Fatalf("leaders = %v, want one of s1, s2", leaders)
	}
}

// The leader dies: its lease runs out and another sentinel is elected at a
// higher epoch; the two leases never overlap.
func TestAgreementLeaderCrashTakeover(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2", "s3")
	f.run(2 * time.Second)
	first := f.leaders()
	if len(first) != 1 {
		t.Fatalf("leaders = %v", first)
	}
	old, _ := f.nodes[first[0]].Lease(f.now)
	f.down[first[0]] = true
	var next []MemberID
	for range 400 {
		f.step(100 * time.Millisecond)
		if next = f.leaders(); len(next) > 0 {
			break
		}
	}
	if len(next) != 1 || next[0] == first[0] {
		t.Fatalf("after the leader died: leaders %v: %s", next, f.states())
	}
	nl, _ := f.nodes[next[0]].Lease(f.now)
	if nl.Epoch <= old.Epoch {
		t.Errorf("new epoch %d not above %d", nl.Epoch, old.Epoch)
	}
	// The old holder's authority (by its own clock, which the test shares)
	// ended before the new lease's send time.
	if !old.Renewed(old.Sent).Expiry().Before(f.now) {
		t.Errorf("old authority not over")
	}
}

// A fresh data_dir is a learner: it neither votes nor elects until it has
// caught up from a majority (DESIGN.md §5.2); a whole new fleet bootstraps.
func TestAgreementLearner(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.setSDOWN(true, "s1", "s2", "s3")
	f.run(2 * time.Second)
	f.setSDOWN(false, "s1", "s2", "s3")
	f.run(time.Second)
	// s3 loses its data_dir.
	v := mustVoters(t, "f", "s1", "s2", "s3")
	f.nodes["s3"] = NewAgreement(testParams("s3", v), Persistent{}, false, rand.New(rand.NewPCG(9, 9)), f.now)
	if st := f.nodes["s3"].Status(f.now); st.Epoch != 0 {
		t.Fatalf("fresh s3 epoch %d", st.Epoch)
	}
	f.step(100 * time.Millisecond)
	if st := f.nodes["s3"].Status(f.now); st.State == StateLearning || st.Epoch != 1 || !f.stored["s3"].Learned {
		t.Errorf("s3 after sync: %+v (stored %+v), want learned with epoch 1", st, f.stored["s3"])
	}

	// A new fleet: everyone a learner.
	g := newTestFleet(t, "a", "b", "c")
	vg := mustVoters(t, "f", "a", "b", "c")
	for i, id := range g.ids {
		g.nodes[id] = NewAgreement(testParams(id, vg), Persistent{}, false, rand.New(rand.NewPCG(uint64(i), 3)), g.now)
	}
	g.step(100 * time.Millisecond)
	g.step(100 * time.Millisecond)
	if got := g.states(); strings.Contains(got, "learning") {
		t.Errorf("a new fleet stays learning: %s", got)
	}

	// One member of a new fleet bootstrapped before the others asked: they
	// still learn, from everyone's answers (no deadlock on a mix).
	m := newTestFleet(t, "a", "b", "c")
	for i, id := range m.ids {
		learned := id == "b"
		m.nodes[id] = NewAgreement(testParams(id, vg), Persistent{Learned: learned}, false, rand.New(rand.NewPCG(uint64(i), 5)), m.now)
	}
	m.step(100 * time.Millisecond)
	m.step(100 * time.Millisecond)
	if got := m.states(); strings.Contains(got, "learning") {
		t.Errorf("a fleet where one member bootstrapped first stays learning: %s", got)
	}

	// A learner whose only peer answering is a learner too stays a learner.
	h := newTestFleet(t, "a", "b", "c")
	for i, id := range h.ids {
		h.nodes[id] = NewAgreement(testParams(id, vg), Persistent{}, false, rand.New(rand.NewPCG(uint64(i), 4)), h.now)
	}
	h.down["c"] = true
	h.run(2 * time.Second)
	if got := h.nodes["a"].Status(h.now).State; got != StateLearning {
		t.Errorf("a with only learner b answering: %s, want learning", got)
	}
}

// A restarted sentinel abstains for one lease (DESIGN.md §5.6).
func TestAgreementRestartAbstains(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	v := mustVoters(t, "f", "s1", "s2", "s3")
	f.nodes["s3"] = NewAgreement(testParams("s3", v), Persistent{Learned: true}, true, rand.New(rand.NewPCG(5, 5)), f.now)
	f.down["s1"] = true
	f.setSDOWN(true, "s2", "s3")
	f.run(5 * time.Second)
	if got := f.leaders(); len(got) != 0 {
		t.Fatalf("elected %v with s3 abstaining and s1 down", got)
	}
	f.run(10 * time.Second)
	if got := f.leaders(); len(got) != 1 {
		t.Fatalf("after the abstention: leaders %v: %s", got, f.states())
	}
}

// An operator request gets a lease without ODOWN and keeps it until Done.
func TestAgreementOperatorLease(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.run(time.Second)
	f.nodes["s2"].Want(ReasonOperator, true)
	f.run(time.Second)
	l, ok := f.nodes["s2"].Lease(f.now)
	if !ok || l.Reason != ReasonOperator {
		t.Fatalf("s2 lease %+v %v: %s", l, ok, f.states())
	}
	if err := f.nodes["s2"].MayStart("promote", 3*time.Second, f.now); err != nil {
		t.Errorf("MayStart: %v", err)
	}
	if err := f.nodes["s1"].MayStart("promote", 3*time.Second, f.now); err == nil {
		t.Errorf("a non-holder may start a step")
	}
	// DESIGN.md §5.11: in TILT the holder does not act.
	tilted := f.local["s2"]
	tilted.Tilt = true
	f.nodes["s2"].Tick(f.now, tilted)
	if err := f.nodes["s2"].MayStart("promote", time.Second, f.now); err == nil {
		t.Errorf("the holder may start a step in TILT")
	}
	f.nodes["s2"].Tick(f.now, f.local["s2"])
	f.run(20 * time.Second)
	if _, ok := f.nodes["s2"].Lease(f.now); !ok {
		t.Fatalf("operator lease lost while the task lasts")
	}
	f.nodes["s2"].Done(f.now)
	f.deliver()
	if got := f.leaders(); len(got) != 0 {
		t.Errorf("leaders after Done = %v", got)
	}
	if st := f.nodes["s1"].Status(f.now); st.State != StateOK {
		t.Errorf("s1 after release: %+v", st)
	}
}

// NextWake names the deadline the driver must wake for: the stagger's end
// for a waiting candidate, then the renewal for a holder.
func TestAgreementNextWake(t *testing.T) {
	f := newTestFleet(t, "s1", "s2", "s3")
	f.run(time.Second)
	f.setSDOWN(true, "s1", "s2", "s3")
	f.down["s1"] = true // the first-ranked one is gone: s2 and s3 stagger
	f.step(100 * time.Millisecond)
	f.step(100 * time.Millisecond)
	s3 := f.nodes["s3"]
	wake := s3.NextWake(f.now)
	if wake.IsZero() || !wake.After(f.now) || wake.Sub(f.now) > time.Second {
		t.Fatalf("s3 NextWake = %v (now %v), want within its stagger or opinion interval", wake, f.now)
	}
	f.run(2 * time.Second)
	leaders := f.leaders()
	if len(leaders) != 1 {
		t.Fatalf("leaders %v", leaders)
	}
	l := f.nodes[leaders[0]]
	if w := l.NextWake(f.now); w.IsZero() || w.Sub(f.now) > testParams("x", mustVoters(t, "f", "x")).Lease/3 {
		t.Errorf("holder NextWake in %v, want within lease/3 (its renewal)", w.Sub(f.now))
	}
}
