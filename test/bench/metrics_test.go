package bench

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"testing"
	"time"
)

// Metrics of one trial, in milliseconds. The definitions are the same for
// both systems; only the log lines they are read from differ
// (logs_test.go). "First" is over the three sentinels of the trial, all on
// one machine and one clock.
var metricDefs = []struct{ Key, Label, Def string }{
	{"kill_to_sdown", "kill → first SDOWN",
		"earliest SDOWN of the primary on any sentinel − the moment the bench sent SIGKILL"},
	{"sdown_to_odown", "SDOWN → ODOWN (same sentinel)",
		"on the first sentinel to reach ODOWN after its own SDOWN (the first that may ask for votes): its ODOWN − its own SDOWN"},
	{"quorum_sdown_to_odown", "quorum-th SDOWN → first ODOWN",
		"earliest ODOWN − the quorum-th (2nd) SDOWN: opinion propagation, since no ODOWN can precede it"},
	{"first_sdown_to_odown", "first SDOWN → first ODOWN",
		"earliest ODOWN − earliest SDOWN: includes the spread of the detectors"},
	{"odown_to_candidate", "first ODOWN → leader's candidacy",
		"the winner's last candidacy before it won (imsentinel `agreement: electing`, Redis `+try-failover`) − earliest ODOWN"},
	{"candidate_to_elected", "leader's candidacy → elected",
		"the winner's `agreement: elected` / `+elected-leader` − its candidacy"},
	{"odown_to_elected", "first ODOWN → elected",
		"the winner's `agreement: elected` / `+elected-leader` − earliest ODOWN"},
	{"kill_to_elected", "kill → elected", "the winner's elected line − SIGKILL"},
}

func msSince(from, to time.Time) float64 {
	return float64(to.Sub(from)) / float64(time.Millisecond)
}

// analysis is what a trial's events say.
type analysis struct {
	Metrics    map[string]float64 `json:"metrics_ms"`
	Leader     string             `json:"leader"`
	FirstODOWN string             `json:"first_odown"`
	// SDOWNThenODOWN is the first sentinel to reach ODOWN after its own
	// SDOWN: the one "SDOWN → ODOWN (same sentinel)" is measured on.
	SDOWNThenODOWN string `json:"sdown_then_odown"`
	// ODOWNBeforeOwnSDOWN lists sentinels that counted ODOWN (from the
	// others' opinions) before their own SDOWN, or without one.
	ODOWNBeforeOwnSDOWN []string `json:"odown_before_own_sdown,omitempty"`
	// SDOWNAfterKill is each sentinel's first SDOWN of the primary, in ms
	// after the kill (sentinels that had not logged one by the end of the
	// trial are missing).
	SDOWNAfterKill map[string]float64 `json:"sdown_after_kill_ms"`
	// ODOWNAfterKill is the same for ODOWN, up to the election.
	ODOWNAfterKill map[string]float64 `json:"odown_after_kill_ms"`
}

// analyze computes a trial's metrics from its sentinels' events. It fails
// when the trial has no election or the events are out of causal order
// (which would mean the logs were misread).
func analyze(kill time.Time, events []event, quorum int) (analysis, error) {
	// Redis Sentinel's timestamps are truncated to the millisecond.
	since := kill.Add(-time.Millisecond)
	evs := make([]event, 0, len(events))
	for _, e := range events {
		if !e.At.Before(since) {
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })

	a := analysis{Metrics: map[string]float64{}, SDOWNAfterKill: map[string]float64{}, ODOWNAfterKill: map[string]float64{}}
	var elected time.Time
	for _, e := range evs {
		if e.Kind == evElected {
			elected, a.Leader = e.At, e.Sentinel
			break
		}
	}
	if a.Leader == "" {
		return a, fmt.Errorf("no sentinel logged an election after the kill")
	}
	sdown, odown := map[string]time.Time{}, map[string]time.Time{}
	var candidacy time.Time
	for _, e := range evs {
		switch e.Kind {
		case evSDOWN:
			if _, ok := sdown[e.Sentinel]; !ok {
				sdown[e.Sentinel] = e.At
				a.SDOWNAfterKill[e.Sentinel] = msSince(kill, e.At)
			}
		case evODOWN:
			if _, ok := odown[e.Sentinel]; !ok && !e.At.After(elected) {
				odown[e.Sentinel] = e.At
				a.ODOWNAfterKill[e.Sentinel] = msSince(kill, e.At)
			}
		case evCandidate:
			if e.Sentinel == a.Leader && !e.At.After(elected) {
				candidacy = e.At
			}
		}
	}
	if len(odown) == 0 {
		return a, fmt.Errorf("%s was elected but no sentinel logged ODOWN before", a.Leader)
	}
	var firstODOWN time.Time
	for _, id := range slices.Sorted(maps.Keys(odown)) {
		if t := odown[id]; firstODOWN.IsZero() || t.Before(firstODOWN) {
			firstODOWN, a.FirstODOWN = t, id
		}
	}
	// imsentinel counts ODOWN from the opinions it holds, its own or not,
	// so a sentinel may reach ODOWN from the other two before its own
	// detector fires; it can only ask for votes once it is SDOWN too.
	// "SDOWN → ODOWN (same sentinel)" is therefore taken on the first
	// sentinel that reached ODOWN after its own SDOWN (Redis Sentinel: on
	// the first to reach ODOWN, as it needs its own SDOWN for that).
	var actor time.Time
	for _, id := range slices.Sorted(maps.Keys(odown)) {
		own, ok := sdown[id]
		if !ok || own.After(odown[id]) {
			a.ODOWNBeforeOwnSDOWN = append(a.ODOWNBeforeOwnSDOWN, id)
			continue
		}
		if actor.IsZero() || odown[id].Before(actor) {
			actor, a.SDOWNThenODOWN = odown[id], id
			a.Metrics["sdown_to_odown"] = msSince(own, odown[id])
		}
	}
	var sd []time.Time
	for _, t := range sdown {
		if !t.After(firstODOWN) {
			sd = append(sd, t)
		}
	}
	slices.SortFunc(sd, func(x, y time.Time) int { return x.Compare(y) })
	if len(sd) < quorum {
		return a, fmt.Errorf("ODOWN at %s with only %d SDOWN lines before it (quorum %d)", firstODOWN.Format(time.StampMicro), len(sd), quorum)
	}
	a.Metrics["kill_to_sdown"] = msSince(kill, sd[0])
	a.Metrics["quorum_sdown_to_odown"] = msSince(sd[quorum-1], firstODOWN)
	a.Metrics["first_sdown_to_odown"] = msSince(sd[0], firstODOWN)
	a.Metrics["odown_to_elected"] = msSince(firstODOWN, elected)
	a.Metrics["kill_to_elected"] = msSince(kill, elected)
	if !candidacy.IsZero() {
		a.Metrics["odown_to_candidate"] = msSince(firstODOWN, candidacy)
		a.Metrics["candidate_to_elected"] = msSince(candidacy, elected)
	}
	return a, nil
}

// summary is one metric's distribution over the trials of one system.
type summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	P90    float64 `json:"p90_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
}

// summarize: the median (mean of the middle two for an even count), p90 by
// nearest rank, min and max.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{Median: math.NaN(), P90: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(math.Ceil(0.9*float64(n))) - 1
	return summary{N: n, Median: med, P90: s[rank], Min: s[0], Max: s[n-1]}
}

// logTimes is what a failover trial reads from its sentinels' logs, in ms.
type logTimes struct {
	Leader  string             `json:"leader"`
	Metrics map[string]float64 `json:"metrics_ms"`
}

// analyzeFailover reads a failover from its sentinels' events: the leader
// is the sentinel that logged the promotion (imsentinel `failover:
// promoted`, Redis Sentinel `+promoted-slave`); its election is its last
// elected line before that. It fails when no promotion or no election of
// the promoting sentinel was logged after the fault.
func analyzeFailover(fault time.Time, events []event) (logTimes, error) {
	since := fault.Add(-time.Millisecond) // Redis Sentinel truncates to the ms
	var evs []event
	for _, e := range events {
		if !e.At.Before(since) {
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	lt := logTimes{Metrics: map[string]float64{}}
	var promoted time.Time
	for _, e := range evs {
		if e.Kind == evPromoted {
			promoted, lt.Leader = e.At, e.Sentinel
			break
		}
	}
	if lt.Leader == "" {
		return lt, fmt.Errorf("no sentinel logged a promotion after the fault")
	}
	var elected, sent time.Time
	for _, e := range evs {
		if e.Sentinel != lt.Leader || e.At.After(promoted) {
			continue
		}
		switch e.Kind {
		case evElected:
			elected, sent = e.At, time.Time{}
		case evPromoteSent:
			sent = e.At
		}
	}
	if elected.IsZero() {
		return lt, fmt.Errorf("%s logged the promotion but no election before it", lt.Leader)
	}
	lt.Metrics["fault_to_elected"] = msSince(fault, elected)
	lt.Metrics["promotion"] = msSince(elected, promoted)
	if !sent.IsZero() {
		lt.Metrics["promotion_sent"] = msSince(elected, sent)
	}
	for _, e := range evs {
		if e.Kind == evRouted && !e.At.Before(promoted) {
			lt.Metrics["fault_to_route_log"] = msSince(fault, e.At)
			lt.Metrics["elected_to_route"] = msSince(elected, e.At)
			break
		}
	}
	return lt, nil
}

func TestAnalyzeFailover(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	evs := []event{
		{Sentinel: "s1", Kind: evElected, At: at(-5000)}, // an earlier failover: ignored
		{Sentinel: "s2", Kind: evElected, At: at(900)},   // won, but s3 promoted
		{Sentinel: "s3", Kind: evElected, At: at(1000)},
		{Sentinel: "s3", Kind: evPromoteSent, At: at(1100)},
		{Sentinel: "s3", Kind: evPromoted, At: at(1200)},
		{Sentinel: "s1", Kind: evRouted, At: at(1500)},
		{Sentinel: "s3", Kind: evRouted, At: at(1400)},
	}
	got, err := analyzeFailover(t0, evs)
	if err != nil {
		t.Fatalf("analyzeFailover: %v", err)
	}
	want := map[string]float64{"fault_to_elected": 1000, "promotion": 200, "promotion_sent": 100, "fault_to_route_log": 1400,
		"elected_to_route": 400}
	if got.Leader != "s3" || !maps.Equal(got.Metrics, want) {
		t.Errorf("analyzeFailover = %s %v, want s3 %v", got.Leader, got.Metrics, want)
	}
	if _, err := analyzeFailover(t0, evs[:4]); err == nil {
		t.Errorf("analyzeFailover without a promotion: no error")
	}
	if _, err := analyzeFailover(t0, []event{{Sentinel: "s1", Kind: evPromoted, At: at(10)}}); err == nil {
		t.Errorf("analyzeFailover with a promotion but no election: no error")
	}
}
