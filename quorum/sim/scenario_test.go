package sim

import (
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
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
