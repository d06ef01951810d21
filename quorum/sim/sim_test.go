package sim

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Flags to replay one seed or to soak. A failure prints the command that
// replays it: go test ./quorum/sim -run 'TestSim/n=5$' -seed=123 -v
var (
	seedFlag  = flag.Uint64("seed", 0, "replay this one seed (0: run the default range)")
	seedsFlag = flag.Int("seeds", 0, "seeds per fleet size (default 200, or IMSENTINEL_SIM_SEEDS)")
	fromFlag  = flag.Uint64("from", 1, "first seed of the range")
	allFlag   = flag.Bool("all", false, "run every seed and list each failing one (one line each) instead of stopping at the first")
	longFlag  = flag.Bool("long", false, "soak: 5000 seeds per fleet size with 60 s of faults (or IMSENTINEL_SIM_LONG=1)")
)

// TestSim runs the randomized simulation of DESIGN.md §8 over many seeds
// for fleets of 3, 5 and 7 sentinels; each seed checks the invariants of
// doc.go on every step.
func TestSim(t *testing.T) {
	seeds, faults := 200, 30*time.Second
	if raceEnabled {
		seeds = 20 // the race detector makes each run ~10× slower
	}
	if v, err := strconv.Atoi(os.Getenv("IMSENTINEL_SIM_SEEDS")); err == nil && v > 0 {
		seeds = v
	}
	if *longFlag || os.Getenv("IMSENTINEL_SIM_LONG") == "1" {
		seeds, faults = 5000, 60*time.Second
	}
	if *seedsFlag > 0 {
		seeds = *seedsFlag
	}
	if testing.Short() {
		seeds = 10
	}
	for _, n := range []int{3, 5, 7} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			t.Parallel()
			first, count := *fromFlag, seeds
			if *seedFlag != 0 {
				first, count = *seedFlag, 1
			}
			var worst, total time.Duration
			var worstC, totalC time.Duration
			var leases, steps, configs, intents int
			for seed := first; seed < first+uint64(count); seed++ {
				r, err := Run(Config{N: n, Seed: seed, Faults: faults})
				if f := (*Failure)(nil); errors.As(err, &f) && *allFlag {
					t.Errorf("n=%d seed %d: step %d at %v: %s: %s", n, seed, f.Step, f.At, f.Invariant, f.Detail)
					continue
				} else if errors.As(err, &f) {
					t.Fatalf("%v", f)
				} else if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if *seedFlag != 0 {
					t.Logf("seed %d: %d steps, %d leases (max epoch %d), %d messages, faults %v; leader %v after the faults stopped (bound %v); lease %v",
						seed, r.Steps, r.Leases, r.MaxEpoch, r.Messages, r.Faults, r.Leader, r.Bound, r.Params.Lease)
					t.Logf("seed %d: %d configs and %d intents committed, %d steps ran (%d while an earlier holder's step could run); converged %v after the faults stopped (bound %v)",
						seed, r.Configs, r.Intents, r.StepsRun, r.StepsOverlap, r.Converged, r.ConvergeBound)
				}
				worst, total = max(worst, r.Leader), total+r.Leader
				worstC, totalC = max(worstC, r.Converged), totalC+r.Converged
				leases += r.Leases
				steps += r.Steps
				configs += r.Configs
				intents += r.Intents
			}
			t.Logf("%d seeds from %d: %d steps, %d leases, %d configs and %d intents committed; leader after the calm: mean %v, worst %v; converged: mean %v, worst %v",
				count, first, steps, leases, configs, intents, (total / time.Duration(count)).Round(time.Millisecond), worst.Round(time.Millisecond),
				(totalC / time.Duration(count)).Round(time.Millisecond), worstC.Round(time.Millisecond))
		})
	}
}

// The same seed gives the same run.
func TestSimReplays(t *testing.T) {
	for _, n := range []int{3, 5} {
		a, errA := Run(Config{N: n, Seed: 42})
		b, errB := Run(Config{N: n, Seed: 42})
		if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) {
			t.Errorf("n=%d seed 42 ran twice differently:\n%v %v\n%v %v", n, a, errA, b, errB)
		}
	}
}
