package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// What a trial is (both systems alike, alternating which goes first):
//
//  1. a fresh redis-server primary and two replicas (harness), replicating;
//  2. three fresh sentinels of the system under test on loopback, each
//     logging to its own file, started at random offsets within one probe
//     period (imsentinel's probe_interval, Redis Sentinel's 1 s PING) so
//     their probe phases are unrelated, as in production;
//  3. wait until they are ready (imsentinel: fleet bootstrapped, both
//     replicas discovered, the detector's warm-up over, one lease passed
//     since the sentinels started, since a fresh data_dir abstains from
//     votes for that long (DESIGN.md §5.6), and then settled: the steward
//     has committed, routed (to the trial's own routing Redis) and
//     self-fenced the seed primary and the agreement has been quiet for
//     2.5 s, so the kill does not race the steward's start-up leases
//     (imSettled); Redis Sentinel: the master, both replicas and the two
//     other sentinels known, with live links);
//  4. after a random pause within one probe period (so the kill falls at a
//     random phase of the probes, as a real crash does), SIGKILL the
//     primary, noting the time just before the signal;
//  5. wait until one sentinel logs its election of a failover lease (the
//     steward's leases do not count; then up to 1 s more, for
//     every sentinel's SDOWN line), read the three logs (metricDefs says
//     what is measured from which lines), and stop everything by PID.
//
// Both systems run on the same clock: imsentinel logs nanoseconds (slog
// JSON), Redis Sentinel milliseconds (truncated), the kill is time.Now().
const (
	quorum       = 2
	readyTimeout = 60 * time.Second // generous for a loaded 2-core box (DESIGN.md §8)
	electTimeout = 30 * time.Second // Redis Sentinel retries a split vote after 2 × failover-timeout
	settle       = time.Second      // after an election, how long to wait for late SDOWN lines
	// abstainMargin is added to the lease before a kill: the abstention
	// runs from when each daemon's agreement started, a little after exec.
	abstainMargin = 500 * time.Millisecond
)

const (
	sysImsentinel    = "imsentinel"
	sysRedisSentinel = "redis-sentinel"
)

// imProfile is imsentinel's side of a profile: YAML flow-mapping bodies
// for the detection and failover sections ("" = the defaults) and the
// gossip profile.
type imProfile struct {
	Detection      string        `json:"detection,omitempty"`
	Failover       string        `json:"failover,omitempty"`
	Gossip         string        `json:"gossip_profile"`
	MinDownAfterMS float64       `json:"min_down_after_ms"`
	DownAfterMS    float64       `json:"down_after_ms"` // the detector window's upper bound
	ProbeInterval  time.Duration `json:"probe_interval"`
	// Lease is failover.lease: a sentinel on a fresh data_dir abstains
	// from votes for one lease after it starts (DESIGN.md §5.6), so a
	// trial kills the primary only after that.
	Lease    time.Duration `json:"lease"`
	Describe string        `json:"describe"`
}

// rsProfile is Redis Sentinel's side: down-after-milliseconds matches
// imsentinel's min_down_after (the shortest silence that makes SDOWN).
// Redis Sentinel PINGs every second (or every down-after if that is
// shorter) and cannot be told to probe faster.
type rsProfile struct {
	DownAfterMS       int    `json:"down_after_ms"`
	FailoverTimeoutMS int    `json:"failover_timeout_ms"`
	Describe          string `json:"describe"`
}

type profile struct {
	Name string    `json:"name"`
	IM   imProfile `json:"imsentinel"`
	RS   rsProfile `json:"redis_sentinel"`
}

var profiles = []profile{
	{
		Name: "ci",
		IM: imProfile{
			Detection:      "probe_interval: 200ms, probe_timeout: 100ms, min_down_after: 1s, down_after: 5s, opinion_ttl: 3s",
			Failover:       "lease: 5s, lease_drift_margin: 500ms, election_timeout: 1s",
			Gossip:         "local",
			MinDownAfterMS: 1000,
			DownAfterMS:    5000,
			ProbeInterval:  200 * time.Millisecond,
			Lease:          5 * time.Second,
			Describe:       "probe_interval 200ms, probe_timeout 100ms, min_down_after 1s, down_after 5s, opinion_ttl 3s, lease 5s, election_timeout 1s, gossip local, quorum 2",
		},
		RS: rsProfile{DownAfterMS: 1000, FailoverTimeoutMS: 3000,
			Describe: "down-after-milliseconds 1000 (PING every 1 s), failover-timeout 3000, quorum 2"},
	},
	{
		Name: "lan",
		IM: imProfile{
			Gossip:         "lan",
			MinDownAfterMS: 1500,
			DownAfterMS:    10000,
			ProbeInterval:  500 * time.Millisecond,
			Lease:          10 * time.Second,
			Describe:       "defaults: probe_interval 500ms, probe_timeout 300ms, min_down_after 1500ms, down_after 10s, opinion_ttl 3s, lease 10s, election_timeout 1s, gossip lan, quorum 2",
		},
		RS: rsProfile{DownAfterMS: 1500, FailoverTimeoutMS: 3000,
			Describe: "down-after-milliseconds 1500 (PING every 1 s), failover-timeout 3000, quorum 2"},
	},
}

// trial is one run of one system.
type trial struct {
	System       string    `json:"system"`
	Index        int       `json:"index"`
	First        bool      `json:"ran_first_in_pair"`
	Kill         time.Time `json:"kill"`
	SetupSeconds float64   `json:"setup_s"`
	Analysis     analysis  `json:"analysis"`
	Events       []event   `json:"events"`
}

type profileResult struct {
	Profile profile `json:"profile"`
	Trials  int     `json:"trials"`
	Seconds float64 `json:"seconds"`
	// Summary: metric → system → distribution over the trials.
	Summary map[string]map[string]summary `json:"summary"`
	// Ratio: metric → imsentinel median / Redis Sentinel median.
	Ratio     map[string]float64 `json:"ratio_of_medians"`
	TrialRuns []trial            `json:"trial_runs"`
}

type results struct {
	Started     time.Time                          `json:"started"`
	Host        map[string]string                  `json:"host"`
	Definitions []struct{ Key, Label, Def string } `json:"definitions"`
	Profiles    []profileResult                    `json:"profiles"`
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

func selectedProfiles(b *testing.B) []profile {
	s := os.Getenv("BENCH_PROFILES")
	if s == "" {
		s = "ci,lan"
	}
	var out []profile
	for _, name := range strings.Split(s, ",") {
		found := false
		for _, p := range profiles {
			if p.Name == strings.TrimSpace(name) {
				out, found = append(out, p), true
			}
		}
		if !found {
			b.Fatalf("BENCH_PROFILES=%q: unknown profile %q (have ci, lan)", s, name)
		}
	}
	return out
}

// BenchmarkDetection runs, per profile, BENCH_TRIALS trials of imsentinel
// and of Redis Sentinel (default 10 for ci, BENCH_LAN_TRIALS default 5 for
// lan), alternating which system goes first, prints the table and writes
// everything to BENCH_OUT (default bench-results.json in the working
// directory, which `go test` sets to this package's directory).
func BenchmarkDetection(b *testing.B) {
	harness.Require(b, "redis-server", "redis-sentinel")
	imBin := harness.ImsentinelBinary(b) // build before any trial
	launcher := redisSentinelLauncher(b)
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		out = "bench-results.json"
	}
	res := &results{Started: time.Now(), Definitions: metricDefs, Host: map[string]string{
		"go": runtime.Version(), "os_arch": runtime.GOOS + "/" + runtime.GOARCH, "cpus": strconv.Itoa(runtime.NumCPU()),
		"redis": versionOf("redis-server", "--version"), "redis_sentinel": versionOf("redis-sentinel", "--version"),
		"imsentinel": versionOf(imBin, "--version"),
	}}
	for _, p := range selectedProfiles(b) {
		n := envInt(b, "BENCH_TRIALS", 10)
		if p.Name == "lan" {
			n = envInt(b, "BENCH_LAN_TRIALS", 5)
		}
		b.Run(p.Name, func(b *testing.B) {
			pr := runProfile(b, p, n, launcher)
			res.Profiles = append(res.Profiles, pr)
			printTable(pr)
			writeResults(b, out, res)
			report(b, pr)
		})
	}
	if abs, err := filepath.Abs(out); err == nil {
		fmt.Printf("\nresults written to %s\n", abs)
	}
}

func runProfile(b *testing.B, p profile, n int, launcher string) profileResult {
	start := time.Now()
	fmt.Printf("\n=== profile %s: %d trials per system, alternating\n  imsentinel:     %s\n  redis-sentinel: %s\n",
		p.Name, n, p.IM.Describe, p.RS.Describe)
	pr := profileResult{Profile: p, Trials: n}
	for i := range n {
		order := []string{sysImsentinel, sysRedisSentinel}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for k, sys := range order {
			var tr trial
			if sys == sysImsentinel {
				tr = runImsentinel(b, p)
			} else {
				tr = runRedisSentinel(b, p, launcher)
			}
			tr.Index, tr.First = i+1, k == 0
			pr.TrialRuns = append(pr.TrialRuns, tr)
			m := tr.Analysis.Metrics
			fmt.Printf("  %s trial %2d/%d %-14s kill→SDOWN %7.1f  SDOWN→ODOWN %6.1f  q-SDOWN→ODOWN %6.1f  ODOWN→cand %6.1f  ODOWN→elected %6.1f ms  (first ODOWN %s, leader %s, setup %.1fs)\n",
				p.Name, i+1, n, sys, m["kill_to_sdown"], m["sdown_to_odown"], m["quorum_sdown_to_odown"],
				m["odown_to_candidate"], m["odown_to_elected"], tr.Analysis.FirstODOWN, tr.Analysis.Leader, tr.SetupSeconds)
		}
	}
	pr.Seconds = time.Since(start).Seconds()
	pr.Summary, pr.Ratio = map[string]map[string]summary{}, map[string]float64{}
	for _, d := range metricDefs {
		pr.Summary[d.Key] = map[string]summary{}
		for _, sys := range []string{sysImsentinel, sysRedisSentinel} {
			var xs []float64
			for _, tr := range pr.TrialRuns {
				if v, ok := tr.Analysis.Metrics[d.Key]; tr.System == sys && ok {
					xs = append(xs, v)
				}
			}
			if len(xs) > 0 {
				pr.Summary[d.Key][sys] = summarize(xs)
			}
		}
		im, ok1 := pr.Summary[d.Key][sysImsentinel]
		rs, ok2 := pr.Summary[d.Key][sysRedisSentinel]
		if ok1 && ok2 && rs.Median > 0 {
			pr.Ratio[d.Key] = im.Median / rs.Median
		}
	}
	return pr
}

func printTable(pr profileResult) {
	fmt.Printf("\n--- profile %s (%d trials per system, %.0f s) — milliseconds\n", pr.Profile.Name, pr.Trials, pr.Seconds)
	fmt.Printf("%-34s %-15s %9s %9s %9s %9s %7s\n", "interval", "system", "median", "p90", "min", "max", "ratio")
	for _, d := range metricDefs {
		for k, sys := range []string{sysImsentinel, sysRedisSentinel} {
			s, ok := pr.Summary[d.Key][sys]
			if !ok {
				continue
			}
			label, ratio := d.Label, ""
			if k == 1 {
				label = ""
				if r, ok := pr.Ratio[d.Key]; ok {
					ratio = fmt.Sprintf("%.3g", r)
				}
			}
			fmt.Printf("%-34s %-15s %9.1f %9.1f %9.1f %9.1f %7s\n", label, sys, s.Median, s.P90, s.Min, s.Max, ratio)
		}
	}
	fmt.Println("ratio = imsentinel median / redis-sentinel median")
}

// report gives `go test -bench` a few headline numbers (ns/op means
// nothing here: the function is a driver).
func report(b *testing.B, pr profileResult) {
	b.ReportMetric(0, "ns/op")
	for _, k := range []struct{ key, unit string }{
		{"kill_to_sdown", "kill-sdown"}, {"sdown_to_odown", "sdown-odown"}, {"odown_to_elected", "odown-elected"},
	} {
		if s, ok := pr.Summary[k.key][sysImsentinel]; ok {
			b.ReportMetric(s.Median, "im-"+k.unit+"-ms")
		}
		if s, ok := pr.Summary[k.key][sysRedisSentinel]; ok {
			b.ReportMetric(s.Median, "rs-"+k.unit+"-ms")
		}
	}
}

func writeResults(b *testing.B, path string, res any) {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		b.Fatalf("encode results: %v", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		b.Fatalf("write results: %v", err)
	}
}

// logSource is one supervisor process whose log the trial reads.
type logSource struct {
	id string
	s  *harness.Sentinel
}

// waitElected polls the supervisors' logs, read with parse, until one
// logged its election, then up to settle longer until all of them logged
// SDOWN, and returns the events. No election within electTimeout fails
// the benchmark with the log tails.
func waitElected(b *testing.B, system string, srcs []logSource, parse func(id, line string) (event, bool)) []event {
	b.Helper()
	collect := func() ([]event, error) {
		var all []event
		for _, src := range srcs {
			evs, err := readEvents(src.s.LogPath, func(line string) (event, bool) { return parse(src.id, line) })
			if err != nil {
				return nil, err
			}
			all = append(all, evs...)
		}
		return all, nil
	}
	dump := func() string {
		var sb strings.Builder
		for _, src := range srcs {
			fmt.Fprintf(&sb, "--- %s (%s):\n%s\n", src.id, src.s.LogPath, tail(src.s.Logs(), 30))
		}
		return sb.String()
	}
	n := len(srcs)
	deadline := time.Now().Add(electTimeout)
	var electedAt time.Time
	for {
		evs, err := collect()
		if err != nil {
			b.Fatalf("%s: read logs: %v", system, err)
		}
		sdown := map[string]bool{}
		for _, e := range evs {
			switch e.Kind {
			case evElected:
				if electedAt.IsZero() {
					electedAt = time.Now()
				}
			case evSDOWN:
				sdown[e.Sentinel] = true
			}
		}
		if !electedAt.IsZero() && (len(sdown) == n || time.Since(electedAt) > settle) {
			return evs
		}
		if electedAt.IsZero() && time.Now().After(deadline) {
			b.Fatalf("%s: no leader elected within %v of the kill; log tails:\n%s", system, electTimeout, dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func versionOf(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}
