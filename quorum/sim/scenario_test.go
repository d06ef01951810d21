package sim

import (
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport/memnet"
)

// runUntil steps the scripted simulation until cond holds, failing the
// test when an invariant breaks or within has passed.
func (s *sim) runUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for end := s.now.Add(within); !cond(); {
		if s.fail != nil {
			t.Fatalf("while waiting for %s: %v", what, s.fail)
		}
		if s.now.After(end) {
			t.Fatalf("no %s within %v:\n%v", what, within, s.describeAll())
		}
		s.stepOnce()
	}
}

func (s *sim) describeAll() string {
	out := ""
	for _, n := range s.nodes {
		out += "  " + s.describeNode(n) + "\n"
	}
	for _, l := range s.trace.lines() {
		out += "  " + l + "\n"
	}
	return out
}

func (s *sim) node(id quorum.MemberID) *node {
	for _, n := range s.nodes {
		if n.id == id {
			return n
		}
	}
	panic("no sentinel " + id)
}

// A voter whose data_dir is lost forgets the binding it granted; once it
// has learned it must not help elect anyone while the holder's authority
// lasts (DESIGN.md §5.2, §5.6). s1 leads with the grants of s2 and s3; s1
// is cut off; s2 loses its data_dir and restarts at once, learns from s3,
// s4 and s5, and asks for the next epoch: s4 and s5 were never bound to
// s1, so without an abstention after a fresh start s2 is elected while
// s1's authority still runs.
func TestScenarioWipedVoterForgetsBinding(t *testing.T) {
	s := newSim(Config{N: 5, Seed: 1, scripted: true})
	s.net.Partition([]quorum.MemberID{"s1", "s2", "s3"}, []quorum.MemberID{"s4", "s5"})
	s1, s2 := s.node("s1"), s.node("s2")
	s.runUntil(t, "s1 elected by s1, s2, s3", 10*time.Second, func() bool { return s1.holding != 0 })
	s.net.Partition([]quorum.MemberID{"s1"}, []quorum.MemberID{"s2", "s3", "s4", "s5"})
	s2.restartWiped = true
	s.crash(s2)
	s2.restartAt = s.now.Add(300 * time.Millisecond)
	s.runUntil(t, "s1's lease to end", 15*time.Second, func() bool { return s1.holding == 0 })
	s.runUntil(t, "a new leader", 30*time.Second, func() bool {
		for _, n := range s.nodes {
			if n.holding != 0 {
				return true
			}
		}
		return false
	})
}

// propose makes n propose an intent or a config now, as its executor
// would, and carries out the Ready.
func (s *sim) propose(t *testing.T, n *node, in *quorum.Intent, c *quorum.Config) uint64 {
	t.Helper()
	local := n.local(s.now)
	if err := n.ag.MayStart("propose", proposeDeadline, local); err != nil {
		t.Fatalf("%s may not propose: %v", n.id, err)
	}
	seq, err := n.ag.Propose(in, c, local)
	if err != nil {
		t.Fatalf("%s proposes: %v", n.id, err)
	}
	s.flush(n, true)
	return seq
}

// run steps the scripted simulation for d, failing the test when an
// invariant breaks.
func (s *sim) run1(t *testing.T, d time.Duration) {
	t.Helper()
	for end := s.now.Add(d); s.now.Before(end); s.stepOnce() {
		if s.fail != nil {
			t.Fatalf("%v", s.fail)
		}
	}
	if s.fail != nil {
		t.Fatalf("%v", s.fail)
	}
}

// A sentinel that missed a commit (its announcement lost, here because it
// was cut off while the holder proposed) catches up once it hears from
// the others: their opinions name the newer config epoch, and it asks
// them for it (DESIGN.md §5.9; invariant f). Without that, nothing ever
// sends the committed config again: the announcement is sent once, the
// holder's proposals go to the voters bound to it, and a laggard is not a
// learner. Found by the simulation (n=3 seed 12, n=5 seed 3, …: configs
// never converge; n=3 seed 35: a laggard blocks every automatic failover
// during a cooldown, which needs every live sentinel's SDOWN about the
// same config).
func TestScenarioLaggardCatchesUp(t *testing.T) {
	s := newSim(Config{N: 3, Seed: 1, scripted: true})
	s1, s3 := s.node("s1"), s.node("s3")
	s.runUntil(t, "s1 elected", 10*time.Second, func() bool { return s1.holding != 0 })
	s.net.Partition([]quorum.MemberID{"s1", "s2"}, []quorum.MemberID{"s3"})
	seq := s.propose(t, s1, nil, &quorum.Config{Primary: "r1:1", Replicas: []string{"p:1", "r2:1"}})
	s.runUntil(t, "the config committed by s1 and s2", 2*time.Second, func() bool {
		done, _ := s1.ag.Accepted(seq)
		return done
	})
	s.net.Heal()
	s.run1(t, 2*time.Second)
	if got, want := s3.ag.Config(), s1.ag.Config(); !sameConfig(got, want) {
		t.Fatalf("s3 holds config %s 2 s after the partition healed, the fleet %s: a sentinel that missed a commit never catches up\n%s",
			cfgString(got), cfgString(want), s.describeAll())
	}
}

// A holder's intents at one epoch are ordered: a voter must not let an
// earlier one, delivered late (a slow link, a retransmission), replace a
// later one it already stored, or the next holder learns the earlier step
// and the later one is lost (DESIGN.md §5.7: roll-forward). Found by the
// simulation (n=5 seed 70: a delayed "fence" intent replaces "promote").
func TestScenarioLateIntentDoesNotGoBack(t *testing.T) {
	s := newSim(Config{N: 3, Seed: 1, scripted: true})
	s1, s3 := s.node("s1"), s.node("s3")
	s.runUntil(t, "s1 elected", 10*time.Second, func() bool { return s1.holding != 0 })
	s.net.SetLink("s1", "s3", memnet.Link{Delay: 2 * time.Second})
	fence := s.propose(t, s1, &quorum.Intent{Step: "fence", Target: primary, OldPrimary: primary}, nil)
	s.runUntil(t, "the fence intent accepted by s1 and s2", time.Second, func() bool {
		done, _ := s1.ag.Accepted(fence)
		return done
	})
	s.net.SetLink("s1", "s3", memnet.Link{Delay: time.Millisecond})
	s.propose(t, s1, &quorum.Intent{Step: "promote", Target: "r1:1", OldPrimary: primary}, nil)
	s.runUntil(t, "s3 stores the promote intent", time.Second, func() bool { return s3.stored.Intent.Step == "promote" })
	s.run1(t, 3*time.Second) // the fence proposal reaches s3 now
	if in := s3.stored.Intent; in.Step != "promote" {
		t.Fatalf("s3 stores intent %+v after the late fence proposal, want the promote", in)
	}
}

// A replica-list or settings update at the same epoch (the same primary)
// reaches a sentinel that missed its announcement: opinions carry the
// config version within the epoch, and a sentinel that hears a newer one
// pulls it. (The simulation found it as diverging replica lists after the
// faults stopped: n=3 seed 189, n=5 seeds 72, 112, 150, 154, n=7 seeds 33,
// 191.)
func TestScenarioSameEpochUpdateReachesLaggard(t *testing.T) {
	s := newSim(Config{N: 3, Seed: 1, scripted: true})
	s1, s3 := s.node("s1"), s.node("s3")
	s.runUntil(t, "s1 elected", 10*time.Second, func() bool { return s1.holding != 0 })
	first := s.propose(t, s1, nil, &quorum.Config{Primary: "r1:1", Replicas: []string{"p:1", "r2:1"}})
	s.runUntil(t, "the config committed", 2*time.Second, func() bool {
		done, _ := s1.ag.Accepted(first)
		return done && s3.ag.Config().Epoch > 0
	})
	s.net.Partition([]quorum.MemberID{"s1", "s2"}, []quorum.MemberID{"s3"})
	update := s.propose(t, s1, nil, &quorum.Config{Primary: "r1:1", Replicas: []string{"r2:1"}})
	s.runUntil(t, "the update committed", 2*time.Second, func() bool {
		done, _ := s1.ag.Accepted(update)
		return done
	})
	s.net.Heal()
	s.run1(t, 2*time.Second)
	if got, want := s3.ag.Config(), s1.ag.Config(); !sameConfig(got, want) {
		t.Fatalf("s3 holds %s, the fleet %s", cfgString(got), cfgString(want))
	}
}
