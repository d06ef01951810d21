package quorum

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestElectionCount(t *testing.T) {
	v := mustVoters(t, "f", "s1", "s2", "s3", "s4", "s5")
	e := NewElection(v, req(7, "s1", ReasonFailover), t0)
	steps := []struct {
		from      MemberID
		d         Decision
		won, lost bool
	}{
		{"s1", Decision{Grant: true}, false, false},
		{"s2", Decision{Why: "bound to s4"}, false, false},
		{"s2", Decision{Grant: true}, false, false}, // a second answer is ignored
		{"s9", Decision{Grant: true}, false, false}, // not a voter
		{"s3", Decision{Why: "epoch 7 is not above 7"}, false, false},
		{"s4", Decision{Grant: true}, false, false},
		{"s5", Decision{Why: "in TILT"}, false, true},
	}
	for i, s := range steps {
		e.Record(s.from, s.d)
		if e.Won() != s.won || e.Lost() != s.lost {
			t.Fatalf("after step %d (%s %+v): won=%v lost=%v, want %v %v: %s", i, s.from, s.d, e.Won(), e.Lost(), s.won, s.lost, e.Describe())
		}
	}
	want := "epoch 7 (failover) by s1: 2 of majority 3 granted (s1, s4); s2 refused: bound to s4; s3 refused: epoch 7 is not above 7; s5 refused: in TILT"
	if got := e.Describe(); got != want {
		t.Errorf("Describe() =\n%s\nwant\n%s", got, want)
	}

	w := NewElection(v, req(8, "s2", ReasonSteward), t0)
	for _, id := range []MemberID{"s2", "s3", "s5"} {
		w.Record(id, Decision{Grant: true})
	}
	if !w.Won() || w.Lost() {
		t.Fatalf("3 of 5 granted: won=%v lost=%v", w.Won(), w.Lost())
	}
	l := w.Lease(10*time.Second, 500*time.Millisecond)
	if l.Epoch != 8 || l.Reason != ReasonSteward || !l.Sent.Equal(t0) || !strings.Contains(w.Describe(), "s1 no answer") {
		t.Errorf("lease %+v / %s", l, w.Describe())
	}
}

func TestBackoff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base, maxWait := 100*time.Millisecond, 2*time.Second
	for attempt := range 10 {
		hi := min(base<<attempt, maxWait)
		for range 200 {
			d := Backoff(rng, attempt, base, maxWait)
			if d < base || (hi > base && d >= hi) || d > maxWait {
				t.Fatalf("Backoff(attempt %d) = %v, want in [%v, %v)", attempt, d, base, hi)
			}
		}
	}
	// The same seed gives the same waits (simulations replay exactly).
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for i := range 20 {
		if x, y := Backoff(a, i%5, base, maxWait), Backoff(b, i%5, base, maxWait); x != y {
			t.Fatalf("not deterministic: %v vs %v", x, y)
		}
	}
}
