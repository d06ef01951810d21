package quorum

import (
	"strings"
	"testing"
	"time"
)

// DESIGN.md §5.11: a stalled process or a wall-clock jump tilts the
// sentinel for Hold; steady ticks never do.
func TestTilt(t *testing.T) {
	newTilt := func() *Tilt {
		return &Tilt{Interval: 100 * time.Millisecond, Threshold: time.Second, Hold: 3 * time.Second}
	}
	// mono and wall run together unless a case moves one of them.
	tick := func(tl *Tilt, mono, wall time.Duration) (bool, string) { return tl.observe(t0.Add(mono), t0.Add(wall)) }

	tl := newTilt()
	for i := range 50 {
		d := time.Duration(i) * 100 * time.Millisecond
		if tilt, why := tick(tl, d, d); tilt {
			t.Fatalf("steady tick %d tilted: %s", i, why)
		}
	}
	// Stopped for 5 s (SIGSTOP): both clocks moved on.
	if tilt, why := tick(tl, 10*time.Second, 10*time.Second); !tilt || !strings.Contains(why, "process stalled: tick 5s late") {
		t.Fatalf("after a 5s stall: tilt=%v %q", tilt, why)
	}
	var tilt bool
	for d := 10100 * time.Millisecond; d < 13*time.Second; d += 100 * time.Millisecond {
		if tilt, _ = tick(tl, d, d); !tilt {
			t.Fatalf("TILT ended at %v, before Hold", d)
		}
	}
	if tilt, _ = tick(tl, 13*time.Second, 13*time.Second); tilt {
		t.Errorf("still in TILT after Hold")
	}

	// The wall clock jumps an hour back (NTP step) while ticks stay on time.
	tl = newTilt()
	tick(tl, 0, 0)
	if tilt, why := tick(tl, 100*time.Millisecond, 100*time.Millisecond-time.Hour); !tilt || !strings.Contains(why, "wall clock jumped -1h0m0s") {
		t.Errorf("an hour's jump back: tilt=%v %q", tilt, why)
	}
	// Small drift between the clocks is not a jump.
	tl = newTilt()
	tick(tl, 0, 0)
	if tilt, why := tick(tl, 100*time.Millisecond, 150*time.Millisecond); tilt {
		t.Errorf("50ms of drift tilted: %s", why)
	}
}
