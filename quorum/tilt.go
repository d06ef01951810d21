package quorum

import (
	"fmt"
	"time"
)

// Tilt detects that this process stalled or its wall clock jumped
// (DESIGN.md §5.11): the daemon feeds it a reading on every tick, and
// while it says so the sentinel observes without voting or acting, until
// its observations and the opinions it hears are fresh again. Pure: the
// readings are passed in. One goroutine owns it.
type Tilt struct {
	// Interval is how often Observe is called (the daemon's tick).
	Interval time.Duration
	// Threshold: a tick later than Interval + Threshold, or a wall clock
	// that moved Threshold more or less than the monotonic one, tilts.
	Threshold time.Duration
	// Hold is how long TILT lasts after the last stall: long enough for
	// fresh probes and opinions (the opinion TTL, at least).
	Hold time.Duration

	last     time.Time // monotonic
	lastWall time.Time // wall, no monotonic reading
	until    time.Time
	why      string
}

// Observe takes a reading of time.Now() (it carries both the monotonic
// and the wall clock) and says whether the sentinel is in TILT, and why.
func (t *Tilt) Observe(now time.Time) (bool, string) {
	return t.observe(now, now.Round(0))
}

// observe compares the time between readings on the monotonic clock (mono,
// whose differences use its monotonic reading) with the wall clock's (wall,
// a reading without one).
func (t *Tilt) observe(mono, wall time.Time) (bool, string) {
	if !t.last.IsZero() {
		dm := mono.Sub(t.last)
		dw := wall.Sub(t.lastWall)
		switch {
		case dm > t.Interval+t.Threshold:
			t.enter(mono, fmt.Sprintf("process stalled: tick %v late", (dm-t.Interval).Round(time.Millisecond)))
		case dw-dm > t.Threshold || dm-dw > t.Threshold:
			t.enter(mono, fmt.Sprintf("wall clock jumped %v against the monotonic clock", (dw-dm).Round(time.Millisecond)))
		}
	}
	t.last, t.lastWall = mono, wall
	if mono.Before(t.until) {
		return true, t.why
	}
	t.why = ""
	return false, ""
}

func (t *Tilt) enter(now time.Time, why string) {
	t.until = now.Add(t.Hold)
	t.why = why
}
