package probe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// t0 is when watching begins in every trajectory.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const ms = time.Millisecond

// at is t0 plus an offset, for reading expectations next to the scripts.
func at(d time.Duration) time.Time { return t0.Add(d) }

// script builds a probe trajectory the way a ticking prober produces it: a
// round is due every Interval; a round blocked by the previous one starts
// when that one ends; after a stall the ticker drops the ticks it missed.
type script struct {
	interval time.Duration
	next     time.Time // the next tick
	prevEnd  time.Time
	stall    time.Duration // lateness of the next round
	rounds   []Round
}

func newScript(cfg DetectorConfig) *script {
	return &script{interval: cfg.Interval, next: t0.Add(cfg.Interval), prevEnd: t0}
}

func (s *script) round(ok bool, took, rtt time.Duration) *script {
	due := s.next
	start := later(due, s.prevEnd).Add(s.stall)
	s.stall = 0
	end := start.Add(took)
	s.rounds = append(s.rounds, Round{Due: due, Start: start, End: end, OK: ok, RTT: rtt})
	s.prevEnd = end
	s.next = due.Add(s.interval)
	for s.next.Before(start) {
		s.next = s.next.Add(s.interval)
	}
	return s
}

// ok appends n answered rounds whose liveness command took rtt.
func (s *script) ok(n int, rtt time.Duration) *script {
	for range n {
		s.round(true, rtt, rtt)
	}
	return s
}

// fail appends n failed rounds that gave up after took (timeout, refused).
func (s *script) fail(n int, took time.Duration) *script {
	for range n {
		s.round(false, took, 0)
	}
	return s
}

// pause makes the next round start d after it was due: this process was
// stopped between rounds.
func (s *script) pause(d time.Duration) *script {
	s.stall = d
	return s
}

func rel(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return "t0+" + t.Sub(t0).String()
}

func (r Round) String() string {
	return fmt.Sprintf("{due %s start %s end %s ok=%v rtt=%v}", rel(r.Due), rel(r.Start), rel(r.End), r.OK, r.RTT)
}

func (a Assessment) String() string {
	return fmt.Sprintf("{down=%v window=%v silence=%v misses=%d suspicion=%.3f lastOK=%s srtt=%v rttvar=%v ia=%v±%v reason=%q}",
		a.Down, a.Window, a.Silence, a.Misses, a.Suspicion, rel(a.LastOK), a.SmoothedRTT, a.RTTVar,
		a.MeanInterArrival, a.InterArrivalDev, a.Reason)
}

// point is one assessment during a replay.
type point struct {
	i     int   // rounds recorded so far
	round Round // the last one recorded (zero before the first)
	now   time.Time
	a     Assessment
}

func (p point) String() string {
	return fmt.Sprintf("at %s after %d rounds (last %v)", rel(p.now), p.i, p.round)
}

// replay records the rounds into a fresh detector and assesses at each
// round's End, at two points before the next round ends and at the extra
// times given (each after the rounds that ended by then).
func replay(cfg DetectorConfig, rounds []Round, extra ...time.Time) []point {
	d := NewDetector(cfg, t0)
	var pts []point
	assess := func(i int, now time.Time) {
		var last Round
		if i > 0 {
			last = rounds[i-1]
		}
		pts = append(pts, point{i: i, round: last, now: now, a: d.Assess(now)})
	}
	prev := t0
	for i, r := range rounds {
		for _, x := range extra {
			if !x.Before(prev) && x.Before(r.End) {
				assess(i, x)
			}
		}
		span := r.End.Sub(prev)
		assess(i, prev.Add(span/2))
		assess(i, r.End.Add(-time.Nanosecond))
		d.Record(r)
		assess(i+1, r.End)
		prev = r.End
	}
	for _, x := range extra {
		if !x.Before(prev) {
			assess(len(rounds), x)
		}
	}
	return pts
}

// firstDown is the first point judged down, or nil.
func firstDown(pts []point) *point {
	for i := range pts {
		if pts[i].a.Down {
			return &pts[i]
		}
	}
	return nil
}

func assessAt(pts []point, now time.Time) (point, bool) {
	for i := len(pts) - 1; i >= 0; i-- {
		if pts[i].now.Equal(now) {
			return pts[i], true
		}
	}
	return point{}, false
}

// checkEvery runs the invariants of every trajectory and the case's own rule
// on each point; rule returns what was wanted, or "".
func checkEvery(t *testing.T, cfg DetectorConfig, pts []point, rule func(p point) string) {
	t.Helper()
	for _, p := range pts {
		if want := invariants(cfg, p.a); want != "" {
			t.Fatalf("%v:\ngot  %v\nwant %s", p, p.a, want)
		}
		if rule == nil {
			continue
		}
		if want := rule(p); want != "" {
			t.Fatalf("%v:\ngot  %v\nwant %s", p, p.a, want)
		}
	}
}

// invariants hold for every assessment of a valid config.
func invariants(cfg DetectorConfig, a Assessment) string {
	switch {
	case a.Window < cfg.MinDownAfter || a.Window > cfg.DownAfter:
		return fmt.Sprintf("window in [%v, %v]", cfg.MinDownAfter, cfg.DownAfter)
	case a.Silence < 0:
		return "silence >= 0"
	case math.IsNaN(a.Suspicion) || a.Suspicion < 0:
		return "suspicion >= 0"
	case a.Down && a.Misses < MinMisses:
		return fmt.Sprintf("down only with >= %d misses", MinMisses)
	case a.Down && a.Silence <= a.Window:
		return "down only with silence > window"
	case a.Down != (a.Silence > a.Window && a.Misses >= MinMisses):
		return "down == (silence > window && misses >= MinMisses)"
	case a.Reason == "":
		return "a reason"
	}
	return ""
}

func neverDown(p point) string {
	if p.a.Down {
		return "not down"
	}
	return ""
}

// warm is true once the detector can have left warm-up: the trajectory's
// first WarmupArrivals+1 rounds answered.
func warm(p point) bool { return p.i > WarmupArrivals }

func TestDetectorTrajectories(t *testing.T) {
	lan := DefaultDetectorConfig() // 500ms, 1.5s..10s
	ci := DetectorConfig{Interval: 200 * ms, MinDownAfter: time.Second, DownAfter: 10 * time.Second}
	tight := DetectorConfig{Interval: 500 * ms, MinDownAfter: 600 * ms, DownAfter: 10 * time.Second}
	narrow := DetectorConfig{Interval: 500 * ms, MinDownAfter: 600 * ms, DownAfter: 800 * ms}

	// jitter answers n rounds with an RTT drawn uniformly in [lo, hi).
	jitter := func(cfg DetectorConfig, seed uint64, n int, lo, hi time.Duration) *script {
		r := rand.New(rand.NewPCG(seed, 1))
		s := newScript(cfg)
		for range n {
			s.ok(1, lo+time.Duration(r.Int64N(int64(hi-lo))))
		}
		return s
	}

	tests := []struct {
		name   string
		cfg    DetectorConfig
		rounds []Round
		extra  []time.Time
		// rule is checked on every point.
		rule func(p point) string
		// final is checked on the last point.
		final func(a Assessment) string
	}{
		{
			name:   "steady fast LAN server: never down, window at min_down_after once warm",
			cfg:    lan,
			rounds: newScript(lan).ok(200, 1*ms).rounds,
			rule: func(p point) string {
				if p.a.Down || p.a.Misses != 0 {
					return "not down, no misses"
				}
				if warm(p) && p.a.Window != lan.MinDownAfter {
					return "window == MinDownAfter"
				}
				if !warm(p) && p.a.Window != lan.DownAfter {
					return "window == DownAfter during warm-up"
				}
				return ""
			},
			final: func(a Assessment) string {
				if a.SmoothedRTT != 1*ms || a.MeanInterArrival < 499*ms || a.MeanInterArrival > 501*ms {
					return "srtt 1ms, mean inter-arrival 500ms"
				}
				return ""
			},
		},
		{
			name:   "steady fast server, CI profile: window at 1s",
			cfg:    ci,
			rounds: newScript(ci).ok(200, 2*ms).rounds,
			rule: func(p point) string {
				if p.a.Down || (warm(p) && p.a.Window != ci.MinDownAfter) {
					return "not down, window == 1s once warm"
				}
				return ""
			},
		},
		{
			// Slow but alive: 300ms answers every 500ms (timeout large enough).
			name:   "slow but alive: high steady RTT never flagged",
			cfg:    tight,
			rounds: newScript(tight).ok(200, 300*ms).rounds,
			rule: func(p point) string {
				if p.a.Down || p.a.Misses != 0 || (p.i > 0 && p.a.Silence >= tight.Interval) {
					return "not down, no misses, silence < interval once answered"
				}
				// MinDownAfter is only 1.2 intervals here: the conservative
				// initial deviation (half the first gap) takes a few more
				// rounds than warm-up to decay below it.
				if p.i > 20 && p.a.Window != tight.MinDownAfter {
					return "window == MinDownAfter after 20 rounds: a steady RTT is not jitter"
				}
				return ""
			},
			final: func(a Assessment) string {
				if a.SmoothedRTT != 300*ms || a.RTTVar > ms {
					return "srtt 300ms, rttvar ~0"
				}
				return ""
			},
		},
		{
			name:   "jittery link: window widens above min_down_after, not down",
			cfg:    tight,
			rounds: jitter(tight, 1, 300, 1*ms, 450*ms).rounds,
			rule:   neverDown,
			final: func(a Assessment) string {
				if a.Window <= tight.MinDownAfter+300*ms || a.InterArrivalDev < 50*ms || a.RTTVar < 50*ms {
					return "window > 900ms, inter-arrival dev and rttvar > 50ms"
				}
				return ""
			},
		},
		{
			name:   "jittery link, narrow clamp: window stays at down_after, not down",
			cfg:    narrow,
			rounds: jitter(narrow, 2, 300, 1*ms, 450*ms).rounds,
			rule: func(p point) string {
				if p.a.Down || p.a.Window > narrow.DownAfter {
					return "not down (silence past the window is not misses), window <= DownAfter"
				}
				return ""
			},
			final: func(a Assessment) string {
				if a.Window != narrow.DownAfter {
					return "window == DownAfter (clamped)"
				}
				return ""
			},
		},
		{
			name: "flaky link: one probe in ten fails, never down, window widens",
			cfg:  tight,
			rounds: func() []Round {
				s := newScript(tight)
				for range 30 {
					s.ok(9, 2*ms).fail(1, 250*ms)
				}
				return s.ok(1, 2*ms).rounds
			}(),
			rule: neverDown,
			final: func(a Assessment) string {
				if a.Window <= tight.MinDownAfter {
					return "window > MinDownAfter"
				}
				return ""
			},
		},
		{
			// The prober is blocked behind rounds that take 3 timeouts: the
			// next round starts late for its tick, but not because this
			// process stalled. It must count as a miss.
			name:   "hung server, rounds longer than the interval: misses count, down",
			cfg:    lan,
			rounds: newScript(lan).ok(20, 1*ms).fail(6, 1200*ms).rounds,
			final: func(a Assessment) string {
				if !a.Down || a.Misses != 6 {
					return "down with 6 misses"
				}
				return ""
			},
		},
		{
			// The process is stopped 5s between rounds; the round after it
			// fails (its connection died meanwhile), the next ones answer.
			// DESIGN.md §5.11: late rounds don't count.
			name:   "stalled prober, server alive: never down",
			cfg:    lan,
			rounds: newScript(lan).ok(20, 1*ms).pause(5*time.Second).fail(1, 250*ms).ok(20, 1*ms).rounds,
			extra:  []time.Time{at(12 * time.Second), at(15400 * ms)},
			rule: func(p point) string {
				if p.a.Down || p.a.Misses != 0 {
					return "not down, no misses (the late round is not one)"
				}
				if p.a.Silence > lan.Interval+lan.lateAfter() {
					return "silence <= interval + late threshold: the stall is not silence"
				}
				return ""
			},
		},
		{
			// Stopped while a round was in flight: the round times out when
			// the process wakes. It is on time, so it is one miss; one miss
			// is never SDOWN.
			name: "stalled prober in flight, server alive: one miss, never down",
			cfg:  lan,
			rounds: newScript(lan).ok(20, 1*ms).round(false, 5*time.Second, 0).
				ok(20, 1*ms).rounds,
			rule: neverDown,
		},
		{
			name:   "dead server: down once silence passes the window",
			cfg:    lan,
			rounds: newScript(lan).ok(20, 1*ms).fail(30, 250*ms).rounds,
			extra:  []time.Time{at(11501 * ms), at(11502 * ms)},
			rule: func(p point) string {
				// Last answer at t0+10.001s, window 1.5s: down strictly
				// after t0+11.501s, when rounds 21 and 22 have failed.
				want := p.now.After(at(11501 * ms))
				if p.a.Down != want {
					return fmt.Sprintf("down=%v (last answer t0+10.001s, window 1.5s)", want)
				}
				if p.a.Down && !strings.HasPrefix(p.a.Reason, "no answer for ") {
					return `reason "no answer for ..."`
				}
				return ""
			},
			final: func(a Assessment) string {
				want := "no answer for 15.2s > window 1.5s (min_down_after) (30 missed rounds)"
				if a.Reason != want || a.Window != lan.MinDownAfter {
					return "reason " + want
				}
				return ""
			},
		},
		{
			name:   "dead server after a jittery history: window widened, still <= down_after",
			cfg:    narrow,
			rounds: jitter(narrow, 3, 100, 1*ms, 450*ms).fail(20, 450*ms).rounds,
			rule: func(p point) string {
				if p.i <= 100 && p.a.Down {
					return "not down while answering"
				}
				return ""
			},
			final: func(a Assessment) string {
				if !a.Down || a.Window != narrow.DownAfter {
					return "down, window == DownAfter"
				}
				return ""
			},
		},
		{
			// Stopped 5s; the server died meanwhile. The stall is not
			// silence: SDOWN needs the on-time misses after waking.
			name:   "stalled prober, server died during the stall: down only after on-time misses",
			cfg:    lan,
			rounds: newScript(lan).ok(20, 1*ms).pause(5*time.Second).fail(12, 250*ms).rounds,
			extra:  []time.Time{at(16501 * ms), at(16502 * ms)},
			rule: func(p point) string {
				// Last answer t0+10.001s. The late round was due at 10.5s
				// and started at 15.5s: 5s not counted. On-time misses end
				// at 16.0s (tick 15.5s, blocked behind the late round) and
				// 16.25s. Silence passes 1.5s after 10.001+5+1.5 = 16.501s.
				want := p.now.After(at(16501 * ms))
				if p.a.Down != want {
					return fmt.Sprintf("down=%v (down after t0+16.501s)", want)
				}
				if p.now.Equal(at(16502*ms)) && (p.a.Silence != 1501*ms || p.a.Misses != 2) {
					return "silence 1.501s, 2 misses at t0+16.502s"
				}
				return ""
			},
		},
		{
			name:   "recovery: down, then one answer: not down, silence 0",
			cfg:    lan,
			rounds: newScript(lan).ok(20, 1*ms).fail(10, 250*ms).ok(1, 2*ms).rounds,
			final: func(a Assessment) string {
				if a.Down || a.Silence != 0 || a.Misses != 0 || !a.LastOK.Equal(at(15502*ms)) {
					return "not down, silence 0, misses 0, lastOK t0+15.502s"
				}
				if a.Window != lan.MinDownAfter || a.MeanInterArrival > 501*ms {
					return "the outage gap is not learned: window 1.5s, mean inter-arrival 500ms"
				}
				return ""
			},
		},
		{
			name:   "warm-up: never answered, down after down_after",
			cfg:    lan,
			rounds: newScript(lan).fail(30, 250*ms).rounds,
			extra:  []time.Time{at(10 * time.Second), at(10*time.Second + 1)},
			rule: func(p point) string {
				want := p.now.After(at(10 * time.Second))
				if p.a.Down != want || p.a.Window != lan.DownAfter || !p.a.LastOK.IsZero() {
					return fmt.Sprintf("down=%v, window == DownAfter, zero LastOK", want)
				}
				if p.a.Down && !strings.HasPrefix(p.a.Reason, "never answered") {
					return `reason "never answered ..."`
				}
				return ""
			},
		},
		{
			name:   "warm-up: window is down_after until 8 inter-arrivals, then adapts",
			cfg:    lan,
			rounds: newScript(lan).ok(WarmupArrivals+1, 1*ms).rounds,
			rule: func(p point) string {
				want := lan.DownAfter
				if p.i == WarmupArrivals+1 {
					want = lan.MinDownAfter
				}
				if p.a.Window != want {
					return fmt.Sprintf("window %v", want)
				}
				return ""
			},
		},
		{
			name:   "warm-up: answered then died: down after down_after of silence",
			cfg:    lan,
			rounds: newScript(lan).ok(3, 1*ms).fail(30, 250*ms).rounds,
			rule: func(p point) string {
				// Last answer t0+1.501s.
				if want := p.now.After(at(11501 * ms)); p.a.Down != want {
					return fmt.Sprintf("down=%v", want)
				}
				return ""
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pts := replay(tc.cfg, tc.rounds, tc.extra...)
			checkEvery(t, tc.cfg, pts, tc.rule)
			for _, x := range tc.extra {
				if _, ok := assessAt(pts, x); !ok {
					t.Fatalf("no assessment at %s", rel(x))
				}
			}
			if tc.final != nil {
				p := pts[len(pts)-1]
				if want := tc.final(p.a); want != "" {
					t.Errorf("final %v:\ngot  %v\nwant %s", p, p.a, want)
				}
			}
		})
	}
}

// The horizon: while no round is recorded (this process is stopped), the
// time past one interval and the late threshold is not counted as silence.
func TestDetectorIdleProberNotCounted(t *testing.T) {
	cfg := DefaultDetectorConfig()
	rounds := newScript(cfg).ok(20, 1*ms).fail(3, 250*ms).rounds // last answer t0+10.001s
	d := NewDetector(cfg, t0)
	for _, r := range rounds {
		d.Record(r)
	}
	last := rounds[len(rounds)-1].End // t0+11.75s
	a := d.Assess(last.Add(time.Minute))
	wantSilence := last.Add(cfg.Interval + cfg.lateAfter()).Sub(at(10001 * ms))
	if a.Silence != wantSilence || !a.Down || !strings.Contains(a.Reason, "no round recorded for") {
		t.Errorf("input: 3 misses, last round ended %s, assess a minute later\ngot  %v\nwant silence %v, down, reason naming the idle prober",
			rel(last), a, wantSilence)
	}
}

// Inputs that go backwards never panic and never produce nonsense.
func TestDetectorNonMonotonic(t *testing.T) {
	cfg := DefaultDetectorConfig()
	tests := []struct {
		name   string
		rounds []Round
		now    time.Time
		want   func(a Assessment) string
	}{
		{
			name:   "end before start",
			rounds: []Round{{Due: at(500 * ms), Start: at(500 * ms), End: at(400 * ms), OK: true, RTT: ms}},
			now:    at(500 * ms),
			want: func(a Assessment) string {
				if !a.LastOK.Equal(at(500*ms)) || a.Silence != 0 {
					return "lastOK = start (t0+500ms), silence 0"
				}
				return ""
			},
		},
		{
			name:   "now before last answer",
			rounds: []Round{{Due: at(500 * ms), Start: at(500 * ms), End: at(501 * ms), OK: true, RTT: ms}},
			now:    at(-time.Hour),
			want: func(a Assessment) string {
				if a.Silence != 0 || a.Down || a.Suspicion != 0 {
					return "silence 0, not down"
				}
				return ""
			},
		},
		{
			name: "rounds out of order",
			rounds: []Round{
				{Due: at(time.Second), Start: at(time.Second), End: at(time.Second + ms), OK: true, RTT: ms},
				{Due: at(500 * ms), Start: at(500 * ms), End: at(501 * ms), OK: true, RTT: ms},
			},
			now: at(time.Second + ms),
			want: func(a Assessment) string {
				if !a.LastOK.Equal(at(time.Second+ms)) || a.Silence != 0 {
					return "lastOK never goes back (t0+1.001s), silence 0"
				}
				return ""
			},
		},
		{
			name:   "zero times, negative RTT",
			rounds: []Round{{OK: true, RTT: -time.Second}, {}, {OK: false, End: at(time.Hour)}},
			now:    at(2 * time.Hour),
			want: func(a Assessment) string {
				// The zero round counts at the latest time seen (t0);
				// the hour-long failed round is on time: a miss.
				if a.SmoothedRTT != 0 || a.Misses != 2 || !a.LastOK.Equal(t0) || !a.Down {
					return "no RTT sample, 2 misses, lastOK t0, down"
				}
				return ""
			},
		},
		{
			name:   "before watching began",
			rounds: nil,
			now:    time.Time{},
			want: func(a Assessment) string {
				if a.Silence != 0 || a.Down || a.Window != cfg.DownAfter {
					return "silence 0, window DownAfter"
				}
				return ""
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(cfg, t0)
			for _, r := range tc.rounds {
				d.Record(r)
			}
			a := d.Assess(tc.now)
			want := invariants(cfg, a)
			if want == "" {
				want = tc.want(a)
			}
			if want != "" {
				t.Errorf("input %v, assess at %s\ngot  %v\nwant %s", tc.rounds, rel(tc.now), a, want)
			}
		})
	}
}

func TestDetectorConfigValidate(t *testing.T) {
	if err := DefaultDetectorConfig().Validate(); err != nil {
		t.Errorf("DefaultDetectorConfig().Validate() = %v, want nil", err)
	}
	bad := DetectorConfig{Interval: 0, MinDownAfter: -time.Second, DownAfter: -2 * time.Second}
	err := bad.Validate()
	for _, want := range []string{"Interval 0s", "MinDownAfter -1s", "DownAfter -2s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("input %+v: got error %v, want one naming %q", bad, err, want)
		}
	}
	// An invalid config still never panics; DownAfter wins.
	d := NewDetector(DetectorConfig{MinDownAfter: 5 * time.Second, DownAfter: time.Second}, t0)
	d.Record(Round{Due: at(time.Second), Start: at(time.Second), End: at(time.Second)})
	if a := d.Assess(at(time.Hour)); a.Window != time.Second {
		t.Errorf("inverted clamps: got window %v, want DownAfter 1s", a.Window)
	}
}

// rapidConfig draws a valid config.
func rapidConfig(t *rapid.T) DetectorConfig {
	iv := time.Duration(rapid.Int64Range(int64(10*ms), int64(2*time.Second)).Draw(t, "interval"))
	lo := time.Duration(rapid.Int64Range(int64(ms), int64(5*time.Second)).Draw(t, "minDownAfter"))
	hi := lo + time.Duration(rapid.Int64Range(0, int64(30*time.Second)).Draw(t, "extra"))
	return DetectorConfig{Interval: iv, MinDownAfter: lo, DownAfter: hi}
}

func TestDetectorPropertyInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := rapidConfig(t)
		d := NewDetector(cfg, t0)
		cursor := t0
		offset := func(label string, lo, hi time.Duration) time.Duration {
			return time.Duration(rapid.Int64Range(int64(lo), int64(hi)).Draw(t, label))
		}
		var prevLastOK time.Time
		n := rapid.IntRange(0, 100).Draw(t, "rounds")
		for i := range n {
			r := Round{OK: rapid.Bool().Draw(t, "ok"), RTT: offset("rtt", -time.Second, 3*time.Second)}
			r.Due = cursor.Add(offset("due", -2*time.Second, 10*time.Second))
			r.Start = r.Due.Add(offset("start", -time.Second, 8*time.Second))
			r.End = r.Start.Add(offset("end", -time.Second, 3*time.Second))
			if rapid.IntRange(0, 20).Draw(t, "zero") == 0 {
				r = Round{OK: r.OK}
			}
			if r.End.After(cursor) {
				cursor = r.End
			}
			d.Record(r)
			now := r.End.Add(offset("now", -5*time.Second, 15*time.Second))
			a := d.Assess(now)
			if want := invariants(cfg, a); want != "" {
				t.Fatalf("config %+v, round %d %v, assess at %s:\ngot  %v\nwant %s", cfg, i, r, rel(now), a, want)
			}
			if b := d.Assess(now); b != a {
				t.Fatalf("assess at %s twice: got %v then %v, want equal", rel(now), a, b)
			}
			if !a.LastOK.IsZero() && a.LastOK.Before(prevLastOK) {
				t.Fatalf("round %d %v: LastOK went back from %s to %s", i, r, rel(prevLastOK), rel(a.LastOK))
			}
			if !a.LastOK.IsZero() {
				prevLastOK = a.LastOK
			}
		}
	})
}

// DESIGN.md §5.11, peers.md §2 item 7: a stalled prober never declares a
// live instance down, whatever the length and place of the stall.
func TestDetectorPropertyStallNeverDown(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := rapidConfig(t)
		timeout := cfg.Interval * 9 / 10
		s := newScript(cfg)
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 2))
		n := rapid.IntRange(1, 60).Draw(t, "before")
		for range n {
			s.ok(1, 1+time.Duration(rng.Int64N(int64(timeout))))
		}
		stall := time.Duration(rapid.Int64Range(0, int64(time.Minute)).Draw(t, "stall"))
		if rapid.Bool().Draw(t, "inFlight") {
			s.round(false, stall, 0) // stopped during a round: one miss
		} else {
			s.pause(stall).fail(1, timeout) // stopped between rounds: a late round
		}
		s.ok(rapid.IntRange(0, 30).Draw(t, "after"), 1+time.Duration(rng.Int64N(int64(timeout))))
		for _, p := range replay(cfg, s.rounds) {
			if p.a.Down {
				t.Fatalf("config %+v, stall %v, %v:\ngot  %v\nwant not down", cfg, stall, p, p.a)
			}
		}
	})
}

// A dead instance is always detected: once rounds fail on time for longer
// than DownAfter plus two intervals, it is down.
func TestDetectorPropertyDeadDetected(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := rapidConfig(t)
		timeout := cfg.Interval * 9 / 10
		s := newScript(cfg)
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 3))
		for range rapid.IntRange(0, 60).Draw(t, "alive") {
			s.ok(1, 1+time.Duration(rng.Int64N(int64(timeout))))
		}
		lastOK := s.prevEnd
		for s.prevEnd.Sub(lastOK) <= cfg.DownAfter+2*cfg.Interval+timeout {
			s.fail(1, time.Duration(rng.Int64N(int64(timeout))))
		}
		pts := replay(cfg, s.rounds)
		if p := pts[len(pts)-1]; !p.a.Down {
			t.Fatalf("config %+v, dead since %s, %v:\ngot  %v\nwant down", cfg, rel(lastOK), p, p.a)
		}
	})
}

func BenchmarkDetectorRecordAssess(b *testing.B) {
	cfg := DefaultDetectorConfig()
	rounds := newScript(cfg).ok(90, 1*ms).fail(10, 250*ms).rounds
	d := NewDetector(cfg, t0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := rounds[i%len(rounds)]
		shift := time.Duration(i/len(rounds)) * 50 * time.Second
		r.Due, r.Start, r.End = r.Due.Add(shift), r.Start.Add(shift), r.End.Add(shift)
		d.Record(r)
		_ = d.Assess(r.End)
	}
}

func ExampleDetector() {
	cfg := DefaultDetectorConfig() // a round every 500ms, window 1.5s..10s
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := NewDetector(cfg, start)
	due := start
	round := func(ok bool, took time.Duration) {
		due = due.Add(cfg.Interval)
		d.Record(Round{Due: due, Start: due, End: due.Add(took), OK: ok, RTT: took})
	}
	for range 20 {
		round(true, time.Millisecond) // a steady LAN server
	}
	fmt.Println(d.Assess(due.Add(time.Millisecond)).Reason)
	for range 3 {
		round(false, 250*time.Millisecond) // it dies: probes time out
	}
	fmt.Println(d.Assess(due.Add(250 * time.Millisecond)).Reason)
	// Output:
	// answered 0s ago, window 1.5s (min_down_after)
	// no answer for 1.75s > window 1.5s (min_down_after) (3 missed rounds)
}
