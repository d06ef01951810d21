package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// The MySQL/MariaDB failover benchmark (issue 6, "Performance"): kill -9
// of a semi-sync MariaDB primary, from the kill to the application writing
// on the promoted replica, and whether every acknowledged insert survived.
// There is no Redis Sentinel for MySQL: it reports imsentinel alone and
// compares with the targets. A trial:
//
//  1. a fresh MariaDB primary with two replicas (harness.StartMariaDBTopology:
//     GTID, semi-sync AFTER_SYNC, rpl_semi_sync_master_wait_no_slave=ON,
//     timeout one day, read_only=ON everywhere but the primary), a fresh
//     routing Redis and three fresh imsentinels in the ci profile's timings
//     (the Redis failover benchmark's), one kind: mysql cluster with both
//     replicas listed, fence_wait strict;
//  2. wait until the fleet is ready (imReady: bootstrapped, three instances,
//     detectors past their warm-up), one lease (the fresh data_dirs'
//     abstention), then settled: the steward has routed the seed, every
//     member claims zero loss (semi-sync as DESIGN.md §6.2 wants, replicas
//     registered) and the agreement has been quiet for 2.5 s;
//  3. a writer that follows the route (mysql_writer_test.go) until 100
//     inserts are acknowledged on the seed; a subscriber to imsentinel:routes;
//  4. after a random pause within one probe period, SIGKILL of the primary,
//     the time taken just before the signal;
//  5. wait for the pushed route change, for the first insert acknowledged on
//     the new primary and 50 more; read the daemons' logs (SDOWN, the
//     election) and the leader's journal (GET /v1/events: failover-plan,
//     the step entries with their took_ms, failover-done with its loss
//     estimate);
//  6. stop the writer, read every acknowledged insert back from the new
//     primary, stop everything by PID.
//
// A lost acknowledged insert fails the benchmark (b.Errorf): that is a
// safety property, not a timing. Durations are reported, never asserted
// (DESIGN.md §8).
const (
	mysqlSeedWrites  = 100 // acknowledged on the seed before the kill
	mysqlAfterWrites = 50  // acknowledged on the new primary after the first
	// journalLimit is enough for one trial's journal (a fresh data_dir).
	journalLimit = 1000
)

// mysqlMetrics are the measured quantities of a trial, in table order.
var mysqlMetrics = []failoverMetric{
	{"kill_to_sdown", "kill → first SDOWN", unitMS,
		"the earliest `instance is subjectively down` line naming the primary, any sentinel − the kill"},
	{"fault_to_elected", "kill → elected", unitMS,
		"the leader's `agreement: elected` line for its failover lease − the kill (the leader is the sentinel that logged `failover: promoted`)"},
	{"elected_to_plan", "elected → failover-plan", unitMS,
		"the leader's journal: the failover-plan entry − its elected line"},
	{"elected_to_promoted", "elected → promoted", unitMS,
		"the leader's journal: the promote step's entry (STOP SLAVE, RESET SLAVE ALL, semi-sync primary side, read_only=OFF done: the new primary is writable) − its elected line"},
	{"elected_to_routed", "elected → route written", unitMS,
		"the leader's journal: the route step's entry (the route's compare-and-set and publish done) − its elected line: the issue's promotion step, elected → writable and routed"},
	{"fault_to_route", "kill → route pushed", unitMS,
		"the bench receives a Change on imsentinel:routes naming another primary − the kill"},
	{"fault_to_route_log", "kill → route (leader's log)", unitMS,
		"the leader's `step done` step=route line − the kill"},
	{"fault_to_client_switch", "kill → client learns new primary", unitMS,
		"the writer's resolver (HGET imsentinel:route:<cluster> primary every 5 ms) first gets the new address − the kill"},
	{"fault_to_first_ack", "kill → first acked insert on new primary", unitMS,
		"the writer's first INSERT acknowledged by the new primary (autocommit returned OK: a semi-sync replica has it) − the kill"},
	{"route_to_first_ack", "route pushed → first acked insert", unitMS,
		"the first acknowledged insert on the new primary − the route pushed"},
	{"step_stop_io", "step stop-io took", unitMS, "the journal's took_ms: STOP SLAVE IO_THREAD on every reachable replica"},
	{"step_fence", "step fence took (background)", unitMS, "the journal's took_ms: read_only=ON on the old primary, in parallel with the rest (a killed primary refuses at once)"},
	{"step_catch_up", "step catch-up took", unitMS, "the journal's took_ms: MASTER_GTID_WAIT on the candidate for everything it received"},
	{"step_promote", "step promote took", unitMS, "the journal's took_ms: the candidate made a semi-sync primary and writable"},
	{"step_repoint", "step repoint took", unitMS, "the journal's took_ms: CHANGE MASTER TO the new primary on the other replica, threads checked"},
	{"step_commit", "step commit took", unitMS, "the journal's took_ms: the new config on a fleet majority"},
	{"step_route", "step route took", unitMS, "the journal's took_ms: the route's compare-and-set on the routing Redis"},
	{"lost_acked", "lost acknowledged inserts", unitWrites,
		"inserts the writer had acknowledged (any node) that the new primary does not have at the end: must be 0"},
	{"unknown", "unknown-outcome inserts", unitWrites,
		"inserts whose connection broke or timed out while the statement was out"},
	{"unknown_present", "  of which on the new primary", unitWrites,
		"unknown-outcome inserts the new primary has at the end (committed, the acknowledgement lost)"},
	{"failed", "failed inserts (certainly not run)", unitWrites,
		"connection refused, read_only or refused login while the route still named the old primary"},
	{"promotions", "promotions logged", unitWrites, "`failover: promoted` lines after the kill, all sentinels: must be 1"},
}

// stepMetric maps a journal step to its metric.
var stepMetric = map[string]string{"stop-io": "step_stop_io", "fence": "step_fence", "catch-up": "step_catch_up",
	"promote": "step_promote", "repoint": "step_repoint", "commit": "step_commit", "route": "step_route"}

// mysqlTrial is one trial.
type mysqlTrial struct {
	Index        int       `json:"index"`
	Fault        time.Time `json:"fault"`
	SetupSeconds float64   `json:"setup_s"`
	OldPrimary   string    `json:"old_primary"`
	NewPrimary   string    `json:"new_primary,omitempty"`
	Leader       string    `json:"leader,omitempty"`
	Epoch        uint64    `json:"epoch,omitempty"`
	// WindowMS is the largest detector window on the primary among the
	// three sentinels when the trial was settled: the SDOWN bound in force
	// at the kill (docs/detector.md).
	WindowMS float64            `json:"detector_window_ms"`
	Metrics  map[string]float64 `json:"metrics"`
	Writer   writerStats        `json:"writer"`
	// ZeroLoss is the leader's failover-done loss estimate (DESIGN.md §6.8).
	ZeroLoss *bool  `json:"zero_loss_claimed,omitempty"`
	LossWhy  string `json:"loss_why,omitempty"`
	// StepErrors are the leader's failed steps: for a killed primary the
	// fence, refused.
	StepErrors []string `json:"step_errors,omitempty"`
	LostSample []int64  `json:"lost_sample,omitempty"`
	// Unknown is the first unknown-outcome inserts' errors, for diagnosis.
	Unknown []string `json:"unknown_errors,omitempty"`
	Error   string   `json:"error,omitempty"`
	Events  []event  `json:"events"`
	// Journal is the leader's journal from the failover-plan on.
	Journal []store.Entry `json:"journal,omitempty"`
}

type mysqlResults struct {
	Started   time.Time         `json:"started"`
	Seconds   float64           `json:"seconds"`
	Host      map[string]string `json:"host"`
	Profile   profile           `json:"profile"`
	IMCluster string            `json:"imsentinel_cluster"`
	// SemiSync is the primary's semi-sync settings as read in the first
	// trial.
	SemiSync map[string]string       `json:"semi_sync"`
	Metrics  []failoverMetric        `json:"definitions"`
	Trials   int                     `json:"trials"`
	Summary  map[string]summary      `json:"summary_ms"`
	Counts   map[string]countSummary `json:"summary_counts"`
	// ZeroLossClaimed counts the trials whose leader journaled zero loss.
	ZeroLossClaimed int          `json:"zero_loss_claimed"`
	Failed          int          `json:"failed_trials"`
	TrialRuns       []mysqlTrial `json:"trial_runs"`
}

// imMySQLCluster describes the cluster entry of a trial.
const imMySQLCluster = "kind mysql, replicas listed, quorum 2, fence_wait strict, routing Redis, admin user imsentinel (ALL PRIVILEGES), replication user repl; heartbeat and catch-up at their defaults"

// BenchmarkMySQLFailover runs BENCH_MYSQL_TRIALS (default 20) kill -9
// failovers of a semi-sync MariaDB primary, prints the table and the
// issue's targets, and writes everything to BENCH_MYSQL_OUT (default
// mysql-failover-results.json in this package's directory).
func BenchmarkMySQLFailover(b *testing.B) {
	harness.Require(b, "redis-server", "mariadbd", "mariadb-install-db")
	imBin := harness.ImsentinelBinary(b)
	out := os.Getenv("BENCH_MYSQL_OUT")
	if out == "" {
		out = "mysql-failover-results.json"
	}
	n := envInt(b, "BENCH_MYSQL_TRIALS", 20)
	p := profileNamed(b, "ci")
	host := hostInfo(imBin)
	host["mariadb"] = versionOf("mariadbd", "--version")
	res := &mysqlResults{Started: time.Now(), Host: host, Profile: p, IMCluster: imMySQLCluster,
		Metrics: mysqlMetrics, Trials: n}
	fmt.Printf("\n=== MySQL failover: %d trials of kill -9 of a semi-sync MariaDB primary\n  imsentinel: %s; %s\n",
		n, p.IM.Describe, imMySQLCluster)
	for i := range n {
		mt := runMySQLFailover(b, p, res)
		mt.Index = i + 1
		res.TrialRuns = append(res.TrialRuns, mt)
		printMySQLTrial(i+1, n, mt)
		if lost := mt.Metrics["lost_acked"]; lost > 0 {
			// DESIGN.md §6.2, §6.8: semi-sync AFTER_SYNC with wait_no_slave
			// and a long timeout loses no acknowledged write.
			b.Errorf("trial %d: %.0f acknowledged inserts lost (%s → %s), e.g. %v", i+1, lost, mt.OldPrimary, mt.NewPrimary, mt.LostSample)
		}
		res.Seconds = time.Since(res.Started).Seconds()
		summarizeMySQL(res)
		writeResults(b, out, res)
	}
	printMySQL(res)
	b.ReportMetric(0, "ns/op")
	for _, k := range []string{"fault_to_route", "elected_to_routed", "fault_to_first_ack"} {
		if s, ok := res.Summary[k]; ok {
			b.ReportMetric(s.Median, strings.ReplaceAll(k, "_", "-")+"-ms")
		}
	}
	if abs, err := filepath.Abs(out); err == nil {
		fmt.Printf("\nresults written to %s\n", abs)
	}
	if res.Failed > 0 {
		b.Errorf("%d of %d MySQL failover trials failed (see \"error\" in %s)", res.Failed, len(res.TrialRuns), out)
	}
}

// mysqlFleet is one trial's servers and sentinels.
type mysqlFleet struct {
	routing  *harness.Redis
	top      *harness.MariaDBTopology
	ms       []*imMember
	windowMS float64
}

func (f *mysqlFleet) teardown(b *testing.B) {
	stopIMFleet(b, f.ms)
	if f.top != nil {
		for _, m := range f.top.All() {
			m.Kill(b)
			_ = os.RemoveAll(m.DataDir) // about 60 MB each, 20 trials; the rest goes with b.TempDir
		}
	}
	if f.routing != nil {
		f.routing.Kill(b)
	}
}

// setupMySQL starts a trial's servers and sentinels and waits until the
// fleet has settled (step 2 at the top of this file).
func setupMySQL(b *testing.B, p profile, res *mysqlResults) (*mysqlFleet, time.Duration) {
	b.Helper()
	start := time.Now()
	f := &mysqlFleet{}
	ok := false
	defer func() {
		if !ok { // b.Fatal on the way: stop what was started
			f.teardown(b)
		}
	}()
	f.routing = harness.StartRedis(b, harness.RedisOptions{})
	f.top = harness.StartMariaDBTopology(b, 2, harness.MariaDBOptions{})
	primary := f.top.Primary
	primary.Exec(b, "CREATE TABLE "+sqlTable+" (seq BIGINT PRIMARY KEY) ENGINE=InnoDB")
	if res.SemiSync == nil {
		res.SemiSync = map[string]string{}
		for _, v := range []string{"rpl_semi_sync_master_enabled", "rpl_semi_sync_master_wait_point",
			"rpl_semi_sync_master_wait_no_slave", "rpl_semi_sync_master_timeout"} {
			res.SemiSync[v] = primary.Variable(b, v)
		}
		res.SemiSync["Rpl_semi_sync_master_clients"] = primary.Status(b, "Rpl_semi_sync_master_clients")
	}
	var launched time.Time
	f.ms, launched = startIMFleet(b, p, func(m *imMember, ms []*imMember) string {
		return imMySQLConfig(p, m, ms, f.top, f.routing.Addr)
	})
	harness.Eventually(b, readyTimeout, "the imsentinel fleet is ready", func() error { return imReady(p, f.ms, primary.Addr) })
	waitAbstention(p, launched)
	harness.Eventually(b, readyTimeout, "the imsentinel fleet has settled (seed routed, zero loss claimed, agreement quiet)",
		func() error { return mysqlSettled(p, f, primary.Addr) })
	ok = true
	return f, time.Since(start)
}

// imMySQLConfig is one member's YAML for a MySQL failover trial: the
// profile's timings, a routing Redis and the cluster as test/failover's
// startMySQL configures it.
func imMySQLConfig(p profile, m *imMember, ms []*imMember, top *harness.MariaDBTopology, routing string) string {
	return imConfig(p, m, ms, fmt.Sprintf("routing: {address: %q}\n", routing), fmt.Sprintf(`  - name: %s
    kind: mysql
    primary: %q
    replicas: [%q, %q]
    quorum: %d
    fence_wait: strict
    credentials:
      username: %s
      password: %s
      replication: {username: %s, password: %s}
`, imCluster, top.Primary.Addr, top.Replicas[0].Addr, top.Replicas[1].Addr, quorum,
		harness.MariaDBAdminUser, harness.MariaDBAdminPassword, harness.MariaDBReplUser, harness.MariaDBReplPassword))
}

// mysqlSettled: the fleet is ready, the steward has routed the seed
// primary, every member claims zero loss for the cluster (DESIGN.md §6.8:
// semi-sync as §6.2 wants and the replicas registered), and the agreement
// has been quiet for quietFor. It notes the detector windows on the
// primary in f.windowMS.
func mysqlSettled(p profile, f *mysqlFleet, primary string) error {
	if err := imReady(p, f.ms, primary); err != nil {
		return err
	}
	rc := benchClient(f.routing.Addr, time.Second)
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if got, err := rc.HGet(ctx, "imsentinel:route:"+imCluster, "primary").Result(); err != nil || got != primary {
		return fmt.Errorf("route names %q (%v), want %s", got, err, primary)
	}
	var window float64
	for _, m := range f.ms {
		v, err := imView(m)
		if err != nil {
			return err
		}
		if !v.ZeroLoss.Claimed {
			return fmt.Errorf("%s: no zero-loss claim: %s", m.id, v.ZeroLoss.Why)
		}
		for _, in := range v.Instances {
			if in.Address == primary {
				window = max(window, in.Detector.WindowMS)
			}
		}
	}
	f.windowMS = window
	return imQuiet(f.ms, primary, time.Now())
}

// runMySQLFailover is one trial: it starts the fleet, measures, and stops
// everything by its own PID before it returns. Whatever goes wrong after
// the setup is recorded in the trial's Error: one bad trial must not throw
// away a long run.
func runMySQLFailover(b *testing.B, p profile, res *mysqlResults) (mt mysqlTrial) {
	b.Helper()
	f, setup := setupMySQL(b, p, res)
	defer f.teardown(b)
	old := f.top.Primary
	srcs := imSources(f.ms)
	parse := func(id, line string) (event, bool) { return parseImsentinel(id, old.Addr, line) }
	mt = mysqlTrial{OldPrimary: old.Addr, Metrics: map[string]float64{}, SetupSeconds: setup.Seconds(), WindowMS: f.windowMS}
	fail := func(format string, args ...any) mysqlTrial {
		mt.Error = fmt.Sprintf(format, args...)
		fmt.Printf("    mysql trial failed: %s; log tails:\n%s", mt.Error, tails(srcs, 15))
		return mt
	}

	w := startSQLWriter(newRouteResolver(f.routing.Addr, imCluster))
	defer w.halt()
	if err := waitFor(failoverTimeout, func() error {
		if n := w.ackedOn(old.Addr); n < mysqlSeedWrites {
			return fmt.Errorf("%d inserts acknowledged on the seed primary (%+v)", n, w.stats())
		}
		return nil
	}); err != nil {
		return fail("before the kill: %v", err)
	}
	rw, err := watchRoutes([]string{f.routing.Addr}, "imsentinel:routes", imRouteChange(imCluster, old.Addr))
	if err != nil {
		return fail("before the kill: %v", err)
	}
	defer rw.close()

	// A random phase against the probes, as a real crash's.
	time.Sleep(rand.N(p.IM.ProbeInterval))
	fault := time.Now()
	mt.Fault = fault
	old.Kill(b)

	select {
	case <-rw.seen:
	case <-time.After(failoverTimeout):
		evs, _ := readAll(srcs, parse)
		mt.Events = eventsFrom(evs, fault.Add(-time.Second))
		return fail("no route change pushed within %v of the kill", failoverTimeout)
	}
	routed, np := rw.first()
	mt.NewPrimary = np
	mt.Metrics["fault_to_route"] = msSince(fault, routed)
	var npNode *harness.MariaDB
	for _, r := range f.top.Replicas {
		if r.Addr == np {
			npNode = r
		}
	}
	if npNode == nil {
		return fail("the route names %s, which is not one of the replicas", np)
	}

	if err := waitFor(failoverTimeout, func() error {
		if w.firstAckOn(np).IsZero() {
			return fmt.Errorf("no insert acknowledged on %s yet (%+v)", np, w.stats())
		}
		return nil
	}); err != nil {
		return fail("after the route moved: %v", err)
	}
	first := w.firstAckOn(np)
	mt.Metrics["fault_to_first_ack"] = msSince(fault, first)
	mt.Metrics["route_to_first_ack"] = msSince(routed, first)
	if at, to := w.movedAt(old.Addr); !at.IsZero() {
		mt.Metrics["fault_to_client_switch"] = msSince(fault, at)
		if to != np {
			return fail("the writer moved to %s, the pushed route names %s", to, np)
		}
	}
	base := w.ackedOn(np)
	if err := waitFor(failoverTimeout, func() error {
		if n := w.ackedOn(np); n < base+mysqlAfterWrites {
			return fmt.Errorf("%d inserts acknowledged on %s, waiting for %d", n, np, base+mysqlAfterWrites)
		}
		return nil
	}); err != nil {
		return fail("after the first acknowledged insert: %v", err)
	}

	// The logs: SDOWN, the election, the promotion, the route line.
	var events []event
	var lt logTimes
	if err := waitFor(logTimeout, func() error {
		var err error
		if events, err = readAll(srcs, parse); err != nil {
			return err
		}
		if lt, err = analyzeFailover(fault, events); err != nil {
			return err
		}
		if _, ok := lt.Metrics["fault_to_route_log"]; !ok {
			return fmt.Errorf("no route line in the logs")
		}
		return nil
	}); err != nil {
		mt.Events = eventsFrom(events, fault.Add(-time.Second))
		return fail("the sentinels' logs: %v", err)
	}
	mt.Events, mt.Leader = eventsFrom(events, fault.Add(-time.Second)), lt.Leader
	for _, k := range []string{"fault_to_elected", "fault_to_route_log"} {
		mt.Metrics[k] = lt.Metrics[k]
	}
	elected := fault.Add(time.Duration(lt.Metrics["fault_to_elected"] * float64(time.Millisecond)))
	promotions := 0
	for _, e := range mt.Events {
		switch {
		case e.Kind == evSDOWN && !e.At.Before(fault):
			if x, ok := mt.Metrics["kill_to_sdown"]; !ok || msSince(fault, e.At) < x {
				mt.Metrics["kill_to_sdown"] = msSince(fault, e.At)
			}
		case e.Kind == evPromoted && !e.At.Before(fault):
			promotions++
		}
	}
	mt.Metrics["promotions"] = float64(promotions)

	// The leader's journal: the plan, each step, the outcome.
	var leader *imMember
	for _, m := range f.ms {
		if m.id == lt.Leader {
			leader = m
		}
	}
	var jt journalTimes
	if err := waitFor(logTimeout, func() error {
		var ev sentinel.EventsResponse
		if err := harness.AdminGet(leader.admin, fmt.Sprintf("/v1/events?cluster=%s&limit=%d", imCluster, journalLimit), &ev); err != nil {
			return fmt.Errorf("%s: GET /v1/events: %w", leader.id, err)
		}
		var err error
		jt, err = analyzeMySQLJournal(fault, elected, ev.Events)
		return err
	}); err != nil {
		return fail("the leader's journal: %v", err)
	}
	mt.Epoch, mt.Journal, mt.ZeroLoss, mt.LossWhy, mt.StepErrors = jt.Epoch, jt.Entries, jt.ZeroLoss, jt.LossWhy, jt.StepErrors
	for k, x := range jt.Metrics {
		mt.Metrics[k] = x
	}

	// Every acknowledged insert must be on the new primary.
	w.halt()
	mt.Writer = w.stats()
	have, err := sqlRows(npNode)
	if err != nil {
		return fail("read back: %v", err)
	}
	var lost []int64
	for _, s := range w.ackedSeqs() {
		if !have[s] {
			lost = append(lost, s)
		}
	}
	unknown, present := w.unknownSeqs(), 0
	mt.Unknown = w.unknownErrors()
	for _, s := range unknown {
		if have[s] {
			present++
		}
	}
	mt.Metrics["lost_acked"] = float64(len(lost))
	mt.LostSample = lost[:min(len(lost), 20)]
	mt.Metrics["unknown"] = float64(len(unknown))
	mt.Metrics["unknown_present"] = float64(present)
	mt.Metrics["failed"] = float64(mt.Writer.Failed)
	if promotions != 1 {
		return fail("%d promotions logged after the kill, want exactly 1", promotions)
	}
	if !jt.Routed {
		return fail("the leader's failover-done says the route was not written: %s", jt.Why)
	}
	return mt
}

// journalTimes is what a trial reads from the leader's journal.
type journalTimes struct {
	Epoch    uint64
	Metrics  map[string]float64
	ZeroLoss *bool
	LossWhy  string
	Routed   bool
	Why      string
	// StepErrors are the failed steps, "step: err" (only the fence may
	// fail without failing the trial).
	StepErrors []string
	Entries    []store.Entry
}

// analyzeMySQLJournal reads the failover from the leader's journal: the
// last failover-plan at or after the kill, the step entries of its epoch
// (each stamped when the step ended, with its took_ms) and its
// failover-done. elected is the leader's elected line. It fails until the
// failover-done entry is there, or when a step the metrics need is
// missing or failed.
func analyzeMySQLJournal(fault, elected time.Time, entries []store.Entry) (journalTimes, error) {
	jt := journalTimes{Metrics: map[string]float64{}}
	evs := slices.Clone(entries)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	var plan *store.Entry
	for i := range evs {
		if evs[i].Type == sentinel.EventFailoverPlan && !evs[i].At.Before(fault) {
			plan = &evs[i]
		}
	}
	if plan == nil {
		return jt, fmt.Errorf("no failover-plan entry after the kill")
	}
	var pd struct {
		Epoch uint64 `json:"epoch"`
	}
	if err := json.Unmarshal(plan.Detail, &pd); err != nil {
		return jt, fmt.Errorf("failover-plan entry %d: %w", plan.Seq, err)
	}
	jt.Epoch = pd.Epoch
	jt.Metrics["elected_to_plan"] = msSince(elected, plan.At)
	done := false
	for _, e := range evs {
		if e.Seq < plan.Seq {
			continue
		}
		var d struct {
			Epoch     uint64  `json:"epoch"`
			Step      string  `json:"step"`
			TookMS    float64 `json:"took_ms"`
			Err       string  `json:"err"`
			Committed bool    `json:"committed"`
			Routed    bool    `json:"routed"`
			Why       string  `json:"why"`
			Loss      *struct {
				ZeroLoss bool   `json:"zero_loss"`
				Why      string `json:"why"`
			} `json:"loss"`
		}
		if len(e.Detail) == 0 || json.Unmarshal(e.Detail, &d) != nil || d.Epoch != jt.Epoch {
			continue
		}
		jt.Entries = append(jt.Entries, e)
		switch e.Type {
		case sentinel.EventStep:
			if d.Err != "" {
				jt.StepErrors = append(jt.StepErrors, d.Step+": "+d.Err)
				// The fence of a killed primary fails with connection
				// refused: that is what opens the strict gate (DESIGN.md
				// §6.3), and its took_ms is how long it took to learn it.
				if d.Step != "fence" {
					return jt, fmt.Errorf("step %s failed: %s", d.Step, d.Err)
				}
			}
			if k, ok := stepMetric[d.Step]; ok {
				jt.Metrics[k] = d.TookMS
			}
			switch d.Step {
			case "promote":
				jt.Metrics["elected_to_promoted"] = msSince(elected, e.At)
			case "route":
				jt.Metrics["elected_to_routed"] = msSince(elected, e.At)
			}
		case sentinel.EventFailoverDone:
			done = true
			jt.Routed, jt.Why = d.Routed, d.Why
			if d.Loss != nil {
				z := d.Loss.ZeroLoss
				jt.ZeroLoss, jt.LossWhy = &z, d.Loss.Why
			}
		}
	}
	if !done {
		return jt, fmt.Errorf("no failover-done entry for epoch %d yet", jt.Epoch)
	}
	for _, k := range []string{"elected_to_promoted", "elected_to_routed"} {
		if _, ok := jt.Metrics[k]; !ok {
			return jt, fmt.Errorf("epoch %d: no %s in the journal", jt.Epoch, strings.TrimPrefix(k, "elected_to_"))
		}
	}
	return jt, nil
}

func printMySQLTrial(i, n int, mt mysqlTrial) {
	m := mt.Metrics
	f := func(k string) string {
		if x, ok := m[k]; ok {
			return fmt.Sprintf("%.1f", x)
		}
		return "-"
	}
	zl := "-"
	if mt.ZeroLoss != nil {
		zl = fmt.Sprint(*mt.ZeroLoss)
	}
	fmt.Printf("  trial %d/%d  sdown %s  elected %s  +promoted %s  +routed %s  route pushed %s  first ack %s ms  lost %s  unknown %s (%s on new)  zero-loss %s  (leader %s, %s → %s, window %.0f ms, setup %.1fs)\n",
		i, n, f("kill_to_sdown"), f("fault_to_elected"), f("elected_to_promoted"), f("elected_to_routed"), f("fault_to_route"),
		f("fault_to_first_ack"), f("lost_acked"), f("unknown"), f("unknown_present"), zl, mt.Leader, mt.OldPrimary, mt.NewPrimary,
		mt.WindowMS, mt.SetupSeconds)
	if mt.Error != "" {
		fmt.Printf("    FAILED: %s\n", mt.Error)
	}
}

// summarizeMySQL fills the summaries from the trials so far.
func summarizeMySQL(res *mysqlResults) {
	res.Summary, res.Counts = map[string]summary{}, map[string]countSummary{}
	res.Failed, res.ZeroLossClaimed = 0, 0
	for _, mt := range res.TrialRuns {
		if mt.Error != "" {
			res.Failed++
		}
		if mt.ZeroLoss != nil && *mt.ZeroLoss {
			res.ZeroLossClaimed++
		}
	}
	for _, d := range mysqlMetrics {
		var xs []float64
		for _, mt := range res.TrialRuns {
			if x, ok := mt.Metrics[d.Key]; ok {
				xs = append(xs, x)
			}
		}
		if len(xs) == 0 {
			continue
		}
		if d.Unit == unitWrites {
			res.Counts[d.Key] = countSummary{N: len(xs), Total: sum(xs), Max: slices.Max(xs)}
		} else {
			res.Summary[d.Key] = summarize(xs)
		}
	}
	var ws []float64
	for _, mt := range res.TrialRuns {
		ws = append(ws, mt.WindowMS)
	}
	if len(ws) > 0 {
		res.Summary["detector_window"] = summarize(ws)
	}
}

// printMySQL prints the table: ms metrics as median, p90, min and max;
// counts as the total over the trials and the largest in one trial.
func printMySQL(res *mysqlResults) {
	fmt.Printf("\n--- MySQL failover, kill -9 of a semi-sync MariaDB primary (%d trials, %d failed, run %.0f s) — milliseconds\n",
		len(res.TrialRuns), res.Failed, res.Seconds)
	fmt.Printf("%-42s %9s %9s %9s %9s\n", "interval", "median", "p90", "min", "max")
	for _, d := range mysqlMetrics {
		if d.Unit == unitWrites {
			if c, ok := res.Counts[d.Key]; ok {
				fmt.Printf("%-42s  total %.0f in %d trials, max %.0f in one\n", d.Label, c.Total, c.N, c.Max)
			}
			continue
		}
		if s, ok := res.Summary[d.Key]; ok {
			fmt.Printf("%-42s %9.1f %9.1f %9.1f %9.1f\n", d.Label, s.Median, s.P90, s.Min, s.Max)
		}
	}
	fmt.Printf("%-42s  %d of %d trials (the leader's failover-done loss estimate)\n", "zero loss claimed", res.ZeroLossClaimed, len(res.TrialRuns))
	fmt.Println("no Redis Sentinel equivalent for MySQL: no ratio; compared with issue 6's targets instead")
	printMySQLTargets(res)
}

// printMySQLTargets compares the medians with issue 6's targets. They are
// reported, never asserted (DESIGN.md §8); only lost acknowledged inserts
// fail the benchmark.
func printMySQLTargets(res *mysqlResults) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Println("\nissue 6 targets (reported, not asserted):")
	if s, ok := res.Summary["elected_to_routed"]; ok {
		fmt.Printf("  promotion step (elected → writable and routed) ≤ 100 ms median: %.1f ms (max %.1f), %s\n",
			s.Median, s.Max, verdict(s.Median <= 100))
	}
	if s, ok := res.Summary["fault_to_route"]; ok {
		w := res.Summary["detector_window"]
		fmt.Printf("  kill → route ≤ down_after + 300 ms: %.0f ms median (max %.0f); configured min_down_after %.0f ms, down_after %.0f ms;"+
			" detector window on the primary at the kill %.0f ms median (max %.0f): bound %.0f ms, %s\n",
			s.Median, s.Max, res.Profile.IM.MinDownAfterMS, res.Profile.IM.DownAfterMS, w.Median, w.Max, w.Median+300,
			verdict(s.Median <= w.Median+300))
	}
	if c, ok := res.Counts["lost_acked"]; ok {
		v := verdict(c.Total == 0)
		if c.Total == 0 && c.N < 20 {
			v = fmt.Sprintf("none lost, but %d trials are fewer than 20", c.N)
		}
		fmt.Printf("  zero acknowledged inserts lost over ≥ 20 failovers: %.0f lost in %d trials, %s\n", c.Total, c.N, v)
	}
}

func TestAnalyzeMySQLJournal(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := func(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }
	entry := func(seq uint64, ms float64, typ, detail string) store.Entry {
		return store.Entry{Seq: seq, At: at(ms), Cluster: imCluster, Type: typ, Detail: json.RawMessage(detail)}
	}
	evs := []store.Entry{
		entry(1, -9000, sentinel.EventFailoverPlan, `{"epoch":1}`), // before the kill: ignored
		entry(2, 1000, "agreement:elected", `{"epoch":3}`),
		entry(3, 1001, sentinel.EventFailoverPlan, `{"epoch":3}`),
		entry(4, 1004, sentinel.EventStep, `{"step":"stop-io","epoch":3,"took_ms":3}`),
		entry(5, 1010, sentinel.EventStep, `{"step":"catch-up","epoch":3,"took_ms":5}`),
		entry(6, 1020, sentinel.EventStep, `{"step":"promote","epoch":3,"took_ms":10}`),
		entry(7, 1021, sentinel.EventStep, `{"step":"fence","epoch":3,"took_ms":17,"err":"connection refused"}`), // a killed primary
		entry(8, 1030, sentinel.EventStep, `{"step":"repoint","epoch":2,"took_ms":99}`),                          // another epoch: ignored
		entry(9, 1040, sentinel.EventStep, `{"step":"route","epoch":3,"took_ms":2}`),
	}
	done := entry(10, 1041, sentinel.EventFailoverDone, `{"epoch":3,"committed":true,"routed":true,"loss":{"zero_loss":true,"why":"semi-sync"}}`)
	if _, err := analyzeMySQLJournal(t0, at(1000), evs); err == nil {
		t.Errorf("analyzeMySQLJournal without failover-done: no error")
	}
	got, err := analyzeMySQLJournal(t0, at(1000), append(slices.Clone(evs), done))
	if err != nil {
		t.Fatalf("analyzeMySQLJournal: %v", err)
	}
	want := map[string]float64{"elected_to_plan": 1, "step_stop_io": 3, "step_catch_up": 5, "step_promote": 10, "step_fence": 17,
		"step_route": 2, "elected_to_promoted": 20, "elected_to_routed": 40}
	if got.Epoch != 3 || !maps.Equal(got.Metrics, want) || got.ZeroLoss == nil || !*got.ZeroLoss || !got.Routed || len(got.Entries) != 7 ||
		!slices.Equal(got.StepErrors, []string{"fence: connection refused"}) {
		t.Errorf("analyzeMySQLJournal = epoch %d %v zero-loss %v routed %v, %d entries; want epoch 3 %v, zero loss, routed, 7 entries",
			got.Epoch, got.Metrics, got.ZeroLoss, got.Routed, len(got.Entries), want)
	}
	failed := append(slices.Clone(evs), entry(11, 1050, sentinel.EventStep, `{"step":"commit","epoch":3,"took_ms":1,"err":"no majority"}`), done)
	if _, err := analyzeMySQLJournal(t0, at(1000), failed); err == nil || !strings.Contains(err.Error(), "no majority") {
		t.Errorf("analyzeMySQLJournal with a failed step: err %v, want it named", err)
	}
}
