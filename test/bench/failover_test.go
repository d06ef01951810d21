package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// The failover benchmark: from a fault of the primary to clients writing
// on the new one, imsentinel against Redis Sentinel on the same topology
// (a primary with two replicas, three supervisors, quorum 2, the ci
// profile's detection: see profiles), alternating, in one run. A trial:
//
//  1. a fresh primary with two replicas (harness) and three fresh
//     supervisors of one system, ready as in the detection benchmark;
//     imsentinel also has a routing Redis, self_fence {min_replicas: 1,
//     max_lag: 2s}, heartbeat 1s and the variant's fence_wait, and a trial
//     waits until the fleet has settled (imSettled: the seed primary
//     routed and self-fenced, the agreement quiet for 2.5 s);
//  2. a writer that follows the primary (writer_test.go) until it has 100
//     writes acknowledged on the seed; for SIGSTOP also a stale writer
//     pinned to the old primary; a subscriber to the route's push
//     (imsentinel: imsentinel:routes on the routing Redis; Redis Sentinel:
//     +switch-master on each sentinel);
//  3. after a random pause within one probe period, the fault: SIGKILL or
//     SIGSTOP of the primary, the time taken just before the signal;
//  4. wait for the pushed route change; SIGSTOP: SIGCONT the old primary
//     right then (as soon as a client can know it was replaced, the
//     hardest moment for a stale client) and wait until it is a replica of
//     the new primary; wait for the first write acknowledged on the new
//     primary and 50 more; read the supervisors' logs;
//  5. stop the writers, read every acknowledged write back from the new
//     primary, stop everything by PID.
//
// The bench, the supervisors and the servers share one clock. Only
// Redis Sentinel's log times are truncated to the millisecond.
const (
	failoverTimeout = 30 * time.Second // fault → route, route → first acknowledged write
	demoteTimeout   = 30 * time.Second // SIGCONT → old primary a replica
	logTimeout      = 10 * time.Second // route pushed → the leader's lines in its log
	seedWrites      = 100              // acknowledged on the seed before the fault
	staleSeedWrites = 20
	afterWrites     = 50 // acknowledged on the new primary after the first
)

// Fault kinds.
const (
	faultKill = "kill" // SIGKILL of the primary: its port refuses at once
	faultStop = "stop" // SIGSTOP: it accepts connections and answers nothing
)

// variant is one system under one fault.
type variant struct {
	Key       string `json:"key"`
	System    string `json:"system"`
	Fault     string `json:"fault"`
	FenceWait string `json:"fence_wait,omitempty"` // imsentinel only
	Label     string `json:"label"`
}

// variants, in the order of a round; rounds rotate it. kill -9 runs
// imsentinel with fence_wait strict (the default): a killed primary refuses
// connections, which opens the gate at once.
var variants = []variant{
	{Key: "im-kill", System: sysImsentinel, Fault: faultKill, FenceWait: "strict", Label: "imsentinel"},
	{Key: "rs-kill", System: sysRedisSentinel, Fault: faultKill, Label: "redis-sentinel"},
	{Key: "im-stop-fast", System: sysImsentinel, Fault: faultStop, FenceWait: "fast", Label: "imsentinel fast"},
	{Key: "im-stop-strict", System: sysImsentinel, Fault: faultStop, FenceWait: "strict", Label: "imsentinel strict"},
	{Key: "rs-stop", System: sysRedisSentinel, Fault: faultStop, Label: "redis-sentinel"},
}

// ratioBase: the Redis Sentinel variant each imsentinel variant is divided by.
var ratioBase = map[string]string{"im-kill": "rs-kill", "im-stop-fast": "rs-stop", "im-stop-strict": "rs-stop"}

// failoverMetric is one measured quantity of a failover trial.
type failoverMetric struct {
	Key, Label, Unit, Def string
}

const (
	unitMS     = "ms"
	unitWrites = "writes"
)

var failoverMetrics = []failoverMetric{
	{"fault_to_elected", "fault → elected", unitMS,
		"the leader's `agreement: elected` / `+elected-leader` − the fault (the leader is the sentinel that logged the promotion)"},
	{"promotion", "elected → promoted", unitMS,
		"the leader's `failover: promoted` (after REPLICAOF NO ONE, ROLE reports master) / `+promoted-slave` (its next INFO of the replica says master) − its elected line"},
	{"promotion_sent", "elected → REPLICAOF NO ONE sent", unitMS,
		"Redis Sentinel only: the leader's `+failover-state-wait-promotion` (logged once SLAVEOF NO ONE is sent) − its `+elected-leader`"},
	{"elected_to_route", "elected → route (leader's log)", unitMS,
		"the route line below − the leader's elected line: the failover after the election (imsentinel: promote, repoint, self-fence, commit, fence window, route; Redis Sentinel: promotion seen in INFO, replicas told, config spread by hello)"},
	{"fault_to_route", "fault → route pushed", unitMS,
		"the bench receives the change: imsentinel a Change on imsentinel:routes (published by the route's compare-and-set script) naming another primary; Redis Sentinel `+switch-master` on the first of the three sentinels' pub/sub − the fault"},
	{"fault_to_route_log", "fault → route (leader's log)", unitMS,
		"imsentinel: the leader's `step done` step=route line; Redis Sentinel: the earliest `+switch-master` line − the fault"},
	{"fault_to_client_switch", "fault → client learns new primary", unitMS,
		"the writer's resolver (every 5 ms) first gets the new address: imsentinel HGET imsentinel:route:<cluster> primary; Redis Sentinel SENTINEL GET-MASTER-ADDR-BY-NAME asked of all three sentinels, any answer (the leader answers with the promoted replica from +promoted-slave on) − the fault"},
	{"fault_to_first_ack", "fault → first acked write on new primary", unitMS,
		"the writer's first write on the new primary with SET OK and WAIT 1 ≥ 1, when WAIT returned − the fault"},
	{"resume_to_demoted", "SIGCONT → old primary a replica", unitMS,
		"SIGSTOP only: INFO replication on the old primary says role slave of the new primary (polled every 20 ms) − SIGCONT (sent when the route was pushed)"},
	{"lost_acked", "lost acknowledged writes", unitWrites,
		"writes the following writer had acknowledged (any node) that the new primary does not have at the end"},
	{"split_brain_set_ok", "stale client: SET OK on old primary", unitWrites,
		"SIGSTOP only: writes the stale writer (pinned to the old primary) got SET OK for after SIGCONT (nothing can be answered while it is stopped), with or without a replica"},
	{"split_brain_acked", "stale client: acked on old primary", unitWrites,
		"SIGSTOP only: of those, WAIT 1 ≥ 1 (acknowledged: a replica of the old primary took it)"},
	{"split_brain_surviving", "stale client: acked writes surviving", unitWrites,
		"SIGSTOP only: of the acknowledged ones, how many the new primary has at the end"},
}

// failoverTrial is one trial of one variant.
type failoverTrial struct {
	Variant      string             `json:"variant"`
	Round        int                `json:"round"`
	Position     int                `json:"position_in_round"`
	Fault        time.Time          `json:"fault"`
	SetupSeconds float64            `json:"setup_s"`
	OldPrimary   string             `json:"old_primary"`
	NewPrimary   string             `json:"new_primary,omitempty"`
	Leader       string             `json:"leader,omitempty"`
	Metrics      map[string]float64 `json:"metrics"`
	Writer       writerStats        `json:"writer"`
	Stale        *writerStats       `json:"stale_writer,omitempty"`
	// Resumed is when the bench sent SIGCONT (SIGSTOP trials).
	Resumed time.Time `json:"resumed,omitzero"`
	// StaleAfterFault: the stale writer's writes answered SET OK after
	// the fault (the first 50), for diagnosis.
	StaleAfterFault []write `json:"stale_after_fault,omitempty"`
	LostSample      []int64 `json:"lost_sample,omitempty"`
	Error           string  `json:"error,omitempty"`
	Events          []event `json:"events"`
}

// countSummary is a count metric over the trials of one variant.
type countSummary struct {
	N     int     `json:"n"`
	Total float64 `json:"total"`
	Max   float64 `json:"max"`
}

type failoverResults struct {
	Started   time.Time         `json:"started"`
	Seconds   float64           `json:"seconds"`
	Host      map[string]string `json:"host"`
	Profile   profile           `json:"profile"`
	IMCluster string            `json:"imsentinel_cluster"`
	Metrics   []failoverMetric  `json:"definitions"`
	Variants  []variant         `json:"variants"`
	Trials    int               `json:"trials_per_variant"`
	// Summary: variant → metric → distribution (ms metrics) or totals.
	Summary map[string]map[string]summary      `json:"summary_ms"`
	Counts  map[string]map[string]countSummary `json:"summary_writes"`
	// Ratio: imsentinel variant → metric → its median / Redis Sentinel's.
	Ratio     map[string]map[string]float64 `json:"ratio_of_medians"`
	Failed    int                           `json:"failed_trials"`
	TrialRuns []failoverTrial               `json:"trial_runs"`
}

// imFailoverCluster is the cluster entry's settings every imsentinel
// failover trial adds to the ci profile.
const imFailoverCluster = "self_fence {enabled: true, min_replicas: 1, max_lag: 2s}, heartbeat {manage: true, period: 1s}, routing Redis, replicas listed"

// BenchmarkFailover runs BENCH_FAILOVER_TRIALS (default 7) rounds; a round
// runs every selected variant once (BENCH_FAULTS, default kill,stop), in
// an order that rotates from round to round. It prints the table and
// writes everything to BENCH_FAILOVER_OUT (default failover-results.json
// in the working directory, which `go test` sets to this package's
// directory).
func BenchmarkFailover(b *testing.B) {
	harness.Require(b, "redis-server", "redis-sentinel")
	imBin := harness.ImsentinelBinary(b)
	launcher := redisSentinelLauncher(b)
	out := os.Getenv("BENCH_FAILOVER_OUT")
	if out == "" {
		out = "failover-results.json"
	}
	n := envInt(b, "BENCH_FAILOVER_TRIALS", 7)
	vs := selectedVariants(b)
	p := profileNamed(b, "ci")
	res := &failoverResults{Started: time.Now(), Profile: p, IMCluster: imFailoverCluster, Metrics: failoverMetrics,
		Variants: vs, Trials: n, Host: hostInfo(imBin)}
	fmt.Printf("\n=== failover: %d rounds of %d variants, rotating\n  imsentinel:     %s; %s\n  redis-sentinel: %s, parallel-syncs 1\n",
		n, len(vs), p.IM.Describe, imFailoverCluster, p.RS.Describe)
	for r := range n {
		for k := range vs {
			v := vs[(r+k)%len(vs)]
			ft := runFailover(b, p, v, launcher)
			ft.Round, ft.Position = r+1, k+1
			res.TrialRuns = append(res.TrialRuns, ft)
			printTrial(r+1, n, v, ft)
			res.Seconds = time.Since(res.Started).Seconds()
			summarizeFailover(res)
			writeResults(b, out, res)
		}
	}
	printFailover(res)
	reportFailover(b, res)
	if abs, err := filepath.Abs(out); err == nil {
		fmt.Printf("\nresults written to %s\n", abs)
	}
	if res.Failed > 0 {
		b.Errorf("%d of %d failover trials failed (see \"error\" in %s)", res.Failed, len(res.TrialRuns), out)
	}
}

func selectedVariants(b *testing.B) []variant {
	s := os.Getenv("BENCH_FAULTS")
	if s == "" {
		s = faultKill + "," + faultStop
	}
	var out []variant
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f != faultKill && f != faultStop {
			b.Fatalf("BENCH_FAULTS=%q: unknown fault %q (have %s, %s)", s, f, faultKill, faultStop)
		}
		for _, v := range variants {
			if v.Fault == f {
				out = append(out, v)
			}
		}
	}
	return out
}

func profileNamed(b *testing.B, name string) profile {
	for _, p := range profiles {
		if p.Name == name {
			return p
		}
	}
	b.Fatalf("no profile %q", name)
	return profile{}
}

func hostInfo(imBin string) map[string]string {
	return map[string]string{
		"go": runtime.Version(), "os_arch": runtime.GOOS + "/" + runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU()),
		"redis": versionOf("redis-server", "--version"), "redis_sentinel": versionOf("redis-sentinel", "--version"),
		"imsentinel": versionOf(imBin, "--version"),
	}
}

func printTrial(round, n int, v variant, ft failoverTrial) {
	m := ft.Metrics
	f := func(k string) string {
		if x, ok := m[k]; ok {
			return fmt.Sprintf("%7.1f", x)
		}
		return "      -"
	}
	fmt.Printf("  round %d/%d %-15s elected %s  +promote %s  route %s (log %s)  client %s  first ack %s ms  lost %s",
		round, n, v.Key, f("fault_to_elected"), f("promotion"), f("fault_to_route"), f("fault_to_route_log"),
		f("fault_to_client_switch"), f("fault_to_first_ack"), strings.TrimSpace(f("lost_acked")))
	if v.Fault == faultStop {
		fmt.Printf("  stale SET OK %s acked %s  demoted %s ms", strings.TrimSpace(f("split_brain_set_ok")),
			strings.TrimSpace(f("split_brain_acked")), strings.TrimSpace(f("resume_to_demoted")))
	}
	fmt.Printf("  (leader %s, %s → %s, setup %.1fs)\n", ft.Leader, ft.OldPrimary, ft.NewPrimary, ft.SetupSeconds)
	if ft.Error != "" {
		fmt.Printf("    FAILED: %s\n", ft.Error)
	}
}

// summarizeFailover fills the summaries and ratios from the trials so far.
func summarizeFailover(res *failoverResults) {
	res.Summary = map[string]map[string]summary{}
	res.Counts = map[string]map[string]countSummary{}
	res.Ratio = map[string]map[string]float64{}
	res.Failed = 0
	for _, ft := range res.TrialRuns {
		if ft.Error != "" {
			res.Failed++
		}
	}
	for _, v := range res.Variants {
		res.Summary[v.Key], res.Counts[v.Key] = map[string]summary{}, map[string]countSummary{}
		for _, d := range failoverMetrics {
			var xs []float64
			for _, ft := range res.TrialRuns {
				if x, ok := ft.Metrics[d.Key]; ft.Variant == v.Key && ok {
					xs = append(xs, x)
				}
			}
			if len(xs) == 0 {
				continue
			}
			if d.Unit == unitWrites {
				res.Counts[v.Key][d.Key] = countSummary{N: len(xs), Total: sum(xs), Max: slices.Max(xs)}
			} else {
				res.Summary[v.Key][d.Key] = summarize(xs)
			}
		}
	}
	for im, rs := range ratioBase {
		res.Ratio[im] = map[string]float64{}
		for k, s := range res.Summary[im] {
			if base, ok := res.Summary[rs][k]; ok && base.Median > 0 {
				res.Ratio[im][k] = s.Median / base.Median
			}
		}
	}
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// printFailover prints one table per fault: ms metrics as median, min,
// max and the ratio to Redis Sentinel's median; counts as the total over
// the trials and the largest in one trial.
func printFailover(res *failoverResults) {
	for _, fault := range []string{faultKill, faultStop} {
		var vs []variant
		for _, v := range res.Variants {
			if v.Fault == fault {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		title := "kill -9 of the primary"
		if fault == faultStop {
			title = "SIGSTOP of the primary (SIGCONT when the route is pushed)"
		}
		fmt.Printf("\n--- failover, %s (%d trials per variant, run %.0f s) — milliseconds\n", title, res.Trials, res.Seconds)
		fmt.Printf("%-42s %-18s %9s %9s %9s %9s %7s\n", "interval", "variant", "median", "p90", "min", "max", "ratio")
		for _, d := range failoverMetrics {
			first := true
			for _, v := range vs {
				label := ""
				if first {
					label = d.Label
				}
				if d.Unit == unitWrites {
					c, ok := res.Counts[v.Key][d.Key]
					if !ok {
						continue
					}
					fmt.Printf("%-42s %-18s %9s  total %.0f in %d trials, max %.0f in one\n", label, v.Label, "", c.Total, c.N, c.Max)
					first = false
					continue
				}
				s, ok := res.Summary[v.Key][d.Key]
				if !ok {
					continue
				}
				ratio := ""
				if r, ok := res.Ratio[v.Key][d.Key]; ok {
					ratio = fmt.Sprintf("%.3g", r)
				}
				fmt.Printf("%-42s %-18s %9.1f %9.1f %9.1f %9.1f %7s\n", label, v.Label, s.Median, s.P90, s.Min, s.Max, ratio)
				first = false
			}
		}
	}
	fmt.Println("ratio = imsentinel median / redis-sentinel median under the same fault")
	printTargets(res)
}

// printTargets compares the medians with issue 4's targets. They are
// reported, never asserted (DESIGN.md §8).
func printTargets(res *failoverResults) {
	med := func(v, k string) (float64, bool) {
		s, ok := res.Summary[v][k]
		return s.Median, ok
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Println("\nissue 4 targets (reported, not asserted):")
	if x, ok := med("im-kill", "fault_to_route"); ok {
		fmt.Printf("  kill -9: fault → route ≤ 1300 ms: %.0f ms, %s\n", x, verdict(x <= 1300))
		if r, ok := res.Ratio["im-kill"]["fault_to_route"]; ok {
			fmt.Printf("  kill -9: ratio to Redis Sentinel ≤ 0.55: %.3g, %s\n", r, verdict(r <= 0.55))
		}
	}
	for _, v := range []string{"im-kill", "im-stop-fast", "im-stop-strict"} {
		if x, ok := med(v, "promotion"); ok {
			fmt.Printf("  %s: promotion step (elected → promoted) ≤ 50 ms: %.1f ms, %s\n", v, x, verdict(x <= 50))
		}
	}
	fast, okF := med("im-stop-fast", "fault_to_route")
	if okF {
		fmt.Printf("  SIGSTOP fast: fault → route ≤ 2000 ms: %.0f ms, %s\n", fast, verdict(fast <= 2000))
	}
	if strict, ok := med("im-stop-strict", "fault_to_route"); ok && okF {
		bound := fast + 2000 + 1000 // + min-replicas-max-lag + 1 s
		fmt.Printf("  SIGSTOP strict: fault → route ≤ fast + max_lag + 1 s = %.0f ms: %.0f ms, %s\n", bound, strict, verdict(strict <= bound))
	}
	// The same on the failover after the election, which does not carry
	// the election time's spread from trial to trial.
	fe, okF := med("im-stop-fast", "elected_to_route")
	if se, ok := med("im-stop-strict", "elected_to_route"); ok && okF {
		bound := fe + 2000 + 1000
		fmt.Printf("  SIGSTOP strict: elected → route ≤ fast's + max_lag + 1 s = %.0f ms: %.0f ms, %s\n", bound, se, verdict(se <= bound))
	}
	for _, v := range []string{"im-stop-fast", "im-stop-strict"} {
		if c, ok := res.Counts[v]["split_brain_surviving"]; ok {
			lost := res.Counts[v]["lost_acked"]
			fmt.Printf("  %s: zero split-brain writes surviving: %.0f surviving, %.0f stale acked, %.0f lost acked, %s\n",
				v, c.Total, res.Counts[v]["split_brain_acked"].Total, lost.Total, verdict(c.Total == 0 && lost.Total == 0))
		}
	}
}

// reportFailover gives `go test -bench` a few headline medians.
func reportFailover(b *testing.B, res *failoverResults) {
	b.ReportMetric(0, "ns/op")
	for _, v := range res.Variants {
		if s, ok := res.Summary[v.Key]["fault_to_route"]; ok {
			b.ReportMetric(s.Median, v.Key+"-route-ms")
		}
		if s, ok := res.Summary[v.Key]["fault_to_first_ack"]; ok {
			b.ReportMetric(s.Median, v.Key+"-ack-ms")
		}
	}
}
