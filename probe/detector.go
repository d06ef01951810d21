package probe

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// The detector's fixed rules. docs/detector.md explains each number.
const (
	// MinMisses is the number of on-time failed rounds since the last answer
	// that SDOWN needs besides a silence longer than the window. One failed
	// round can be this process's own doing (a stall while the round was in
	// flight, a dropped connection, a resolver hiccup) and is never enough;
	// two consecutive on-time failures are the least evidence that survives
	// any single such event.
	MinMisses = 2

	// WarmupArrivals is how many inter-arrival samples the detector needs
	// before its adaptive window is used; until then the window is
	// DownAfter. After 8 samples the arbitrary initial deviation (half the
	// first gap, as RFC 6298 does for RTT) has decayed to (3/4)^7 ≈ 13% of
	// itself, about a quarter of an interval on the window.
	WarmupArrivals = 8

	// LateTolerance is the floor of the lateness that marks a round as late
	// (this process stalled): a round is late when it started more than
	// max(Interval, LateTolerance) after it was due. Below that, lateness
	// is scheduling noise and the round counts like any other.
	LateTolerance = 250 * time.Millisecond
)

// Gains and factor of the estimators (Jacobson/Karels, RFC 6298).
const (
	meanShift = 3 // mean gain 1/8
	devShift  = 2 // deviation gain 1/4
	devFactor = 4 // window = mean + 4·deviation
)

// DetectorConfig sets one detector's timing. Use DefaultDetectorConfig and
// override; Validate reports every problem at once.
type DetectorConfig struct {
	// Interval is the probe period: one round is due every Interval.
	// Default 500ms (CI profile 200ms). The prober's timeout must be shorter.
	Interval time.Duration
	// MinDownAfter is the lower clamp of the adaptive window: however steady
	// the instance, SDOWN never comes before this much silence. Default 1.5s
	// (CI profile 1s).
	MinDownAfter time.Duration
	// DownAfter is the upper clamp of the adaptive window, and the window
	// during warm-up: however jittery the link, SDOWN never waits longer than
	// this much silence (once MinMisses rounds have failed). Default 10s.
	DownAfter time.Duration
}

// DefaultDetectorConfig is the LAN profile: a round every 500ms, SDOWN after
// 1.5s to 10s of silence depending on how steady the instance has been.
func DefaultDetectorConfig() DetectorConfig {
	return DetectorConfig{
		Interval:     500 * time.Millisecond,
		MinDownAfter: 1500 * time.Millisecond,
		DownAfter:    10 * time.Second,
	}
}

// Validate returns every problem of the config, each naming the field and the
// value found, joined; nil when the config is usable.
func (c DetectorConfig) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("detector: Interval %v: must be positive", c.Interval))
	}
	if c.MinDownAfter <= 0 {
		errs = append(errs, fmt.Errorf("detector: MinDownAfter %v: must be positive", c.MinDownAfter))
	}
	if c.DownAfter < c.MinDownAfter {
		errs = append(errs, fmt.Errorf("detector: DownAfter %v: must not be less than MinDownAfter %v", c.DownAfter, c.MinDownAfter))
	}
	return errors.Join(errs...)
}

// lateAfter is the lateness beyond which a round is late.
func (c DetectorConfig) lateAfter() time.Duration {
	return max(c.Interval, LateTolerance)
}

// Round is one probe round as the prober saw it. The times come from the
// same clock (time.Now, with its monotonic reading).
type Round struct {
	// Due is when the round was scheduled to start: the prober's tick. A
	// round cannot be late for the time it spent waiting for the previous
	// round to end; the detector takes max(Due, previous End).
	Due time.Time
	// Start is when the round actually started. Start later than Due by
	// more than max(Interval, LateTolerance) means this process was stalled
	// (SIGSTOP, a VM pause, a long GC): the round is late.
	Start time.Time
	// End is when the result came back (or the probe gave up).
	End time.Time
	// OK is true when the instance answered as a live process does
	// (Observation.Reachable).
	OK bool
	// RTT is the round trip of the liveness command when OK; zero or
	// negative means not measured.
	RTT time.Duration
}

// Assessment is the detector's judgement at one instant, with the numbers
// behind it.
type Assessment struct {
	// Window is how much silence a live instance could plausibly show:
	// clamp(MeanInterArrival + 4·InterArrivalDev, MinDownAfter, DownAfter),
	// or DownAfter during warm-up.
	Window time.Duration
	// Silence is the time since the last answer (since watching began when
	// there was none), less the stalls of this process: the lateness of late
	// rounds, and any time past one Interval plus the late threshold after
	// the last recorded round (no round, no evidence).
	Silence time.Duration
	// Suspicion is Silence / Window: 1 or more means the silence alone
	// would be enough.
	Suspicion float64
	// Down is SDOWN: Silence > Window and Misses >= MinMisses.
	Down bool
	// Misses counts the on-time failed rounds since the last answer. Late
	// rounds never count.
	Misses int
	// LastOK is when the last answer came back (a round's End); zero when
	// the instance has not answered since watching began.
	LastOK time.Time
	// SmoothedRTT and RTTVar are the RFC 6298 estimates of the liveness
	// command's round trip (gains 1/8 and 1/4); zero before the first
	// answer. They are reported, not used by the window (see docs/detector.md).
	SmoothedRTT, RTTVar time.Duration
	// MeanInterArrival and InterArrivalDev are the estimates (gains 1/8 and
	// 1/4) of the time between consecutive answers, stalls excluded; zero
	// before the second answer.
	MeanInterArrival, InterArrivalDev time.Duration
	// Reason says in one line why the instance is down or not.
	Reason string
}

// Detector is the adaptive failure detector of one instance: feed it every
// probe round in order with Record and ask it with Assess. It is a pure
// value: it never reads the clock, does no I/O and does not log.
//
// A Detector is not safe for concurrent use: one goroutine owns it (the
// cluster's state machine, DESIGN.md §3).
type Detector struct {
	cfg DetectorConfig

	lastEnd  time.Time     // latest End recorded, or when watching began
	lastOK   time.Time     // End of the last answer, or when watching began
	answered bool          // an answer came since watching began
	stalled  time.Duration // lateness of late rounds since lastOK
	misses   int           // on-time failed rounds since lastOK

	srtt, rttvar time.Duration
	rttSamples   int

	meanIA, devIA time.Duration
	iaSamples     int
}

// NewDetector returns a detector that began watching at now. now is the
// reference for Silence until the first answer, so an instance that never
// answers goes down once the (warm-up) window has passed. cfg should pass
// Validate; with one that does not, the detector still does not panic, and
// DownAfter wins over MinDownAfter.
func NewDetector(cfg DetectorConfig, now time.Time) *Detector {
	return &Detector{cfg: cfg, lastEnd: now, lastOK: now}
}

// Record takes one finished round. Rounds must be recorded in the order they
// ended. Times that go backwards (End before Start, a round before the
// previous one) are taken as the latest time already recorded.
func (d *Detector) Record(r Round) {
	due := later(r.Due, d.lastEnd)
	start := later(r.Start, due)
	end := later(r.End, start)
	lateness := start.Sub(due)
	late := lateness > d.cfg.lateAfter()
	if late {
		// This process was not probing: the time is nobody's silence.
		d.stalled = satAdd(d.stalled, lateness)
	}
	if !r.OK {
		d.lastEnd = end
		if !late && d.misses < math.MaxInt {
			d.misses++
		}
		return
	}
	if !late {
		// A round this process was late for measures this process, not the
		// instance or the link: it resets silence but teaches nothing.
		if d.answered {
			gap := max(end.Sub(d.lastOK)-d.stalled, 0)
			w, _ := d.window()
			// A gap that ended an SDOWN is an outage, not how a live
			// instance answers: learning it would blind the detector.
			if !(d.misses >= MinMisses && gap > w) {
				if d.cfg.DownAfter > 0 {
					gap = min(gap, d.cfg.DownAfter)
				}
				d.meanIA, d.devIA = ewma(d.meanIA, d.devIA, gap, d.iaSamples)
				d.iaSamples++
			}
		}
		if r.RTT > 0 {
			d.srtt, d.rttvar = ewma(d.srtt, d.rttvar, r.RTT, d.rttSamples)
			d.rttSamples++
		}
	}
	d.lastEnd = end
	d.lastOK = end
	d.answered = true
	d.stalled = 0
	d.misses = 0
}

// Assess judges the instance at now. It does not change the detector.
func (d *Detector) Assess(now time.Time) Assessment {
	w, basis := d.window()
	// Past one interval and the late threshold after the last round, the
	// prober should have reported; if it has not, this process is (or was)
	// stalled, and that time is not counted until a round says otherwise.
	horizon := d.lastEnd.Add(satAdd(max(d.cfg.Interval, 0), d.cfg.lateAfter()))
	counted, idle := now, time.Duration(0)
	if now.After(horizon) {
		counted, idle = horizon, now.Sub(horizon)
	}
	silence := max(counted.Sub(d.lastOK)-d.stalled, 0)

	a := Assessment{
		Window:           w,
		Silence:          silence,
		Misses:           d.misses,
		SmoothedRTT:      d.srtt,
		RTTVar:           d.rttvar,
		MeanInterArrival: d.meanIA,
		InterArrivalDev:  d.devIA,
	}
	if d.answered {
		a.LastOK = d.lastOK
	}
	switch {
	case w > 0:
		a.Suspicion = float64(silence) / float64(w)
	case silence > 0:
		a.Suspicion = math.Inf(1)
	}
	over := silence > w
	a.Down = over && d.misses >= MinMisses
	a.Reason = d.reason(a, basis, idle)
	return a
}

// window returns the current window and what it rests on.
func (d *Detector) window() (time.Duration, string) {
	if d.iaSamples < WarmupArrivals {
		return d.cfg.DownAfter, "warm-up"
	}
	raw := satAdd(d.meanIA, satMul(d.devIA, devFactor))
	w, basis := raw, ""
	if w < d.cfg.MinDownAfter {
		w, basis = d.cfg.MinDownAfter, "min_down_after"
	}
	if w > d.cfg.DownAfter {
		w, basis = d.cfg.DownAfter, "down_after"
	}
	return w, basis
}

func (d *Detector) reason(a Assessment, basis string, idle time.Duration) string {
	var b strings.Builder
	win := "window " + fmtDur(a.Window)
	switch basis {
	case "":
	case "warm-up":
		win += fmt.Sprintf(" (warm-up, %d/%d arrivals)", d.iaSamples, WarmupArrivals)
	default:
		win += " (" + basis + ")"
	}
	misses := plural(a.Misses, "missed round")
	switch {
	case a.Down && !d.answered:
		fmt.Fprintf(&b, "never answered: silent %s > %s (%s)", fmtDur(a.Silence), win, misses)
	case a.Down:
		fmt.Fprintf(&b, "no answer for %s > %s (%s)", fmtDur(a.Silence), win, misses)
	case a.Silence > a.Window:
		fmt.Fprintf(&b, "silent %s > %s but only %s, SDOWN needs %d", fmtDur(a.Silence), win, misses, MinMisses)
	case !d.answered:
		fmt.Fprintf(&b, "not answered yet: silent %s <= %s (%s)", fmtDur(a.Silence), win, misses)
	case a.Misses > 0:
		fmt.Fprintf(&b, "no answer for %s <= %s (%s)", fmtDur(a.Silence), win, misses)
	default:
		fmt.Fprintf(&b, "answered %s ago, %s", fmtDur(a.Silence), win)
	}
	if d.stalled > 0 {
		fmt.Fprintf(&b, "; %s of this process's stalls not counted", fmtDur(d.stalled))
	}
	if idle > 0 {
		fmt.Fprintf(&b, "; no round recorded for %s past schedule, not counted", fmtDur(idle))
	}
	return b.String()
}

// ewma folds sample x into a mean and a mean deviation (RFC 6298 §2: the
// deviation is updated with the old mean; the first sample sets the mean and
// half of it as the deviation).
func ewma(mean, dev, x time.Duration, n int) (time.Duration, time.Duration) {
	if n == 0 {
		return x, x / 2
	}
	diff := mean - x // both non-negative: no overflow
	if diff < 0 {
		diff = -diff
	}
	dev += (diff - dev) >> devShift
	mean += (x - mean) >> meanShift
	return mean, dev
}

func later(t, floor time.Time) time.Time {
	if t.Before(floor) {
		return floor
	}
	return t
}

func satAdd(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

func satMul(a time.Duration, k int64) time.Duration {
	if a > math.MaxInt64/time.Duration(k) {
		return math.MaxInt64
	}
	return a * time.Duration(k)
}

// fmtDur rounds a duration for people: 2.1s, 480ms, 1.25ms.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Second:
		d = d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		d = d.Round(time.Millisecond)
	default:
		d = d.Round(10 * time.Microsecond)
	}
	return d.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
