package promote

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var testDeadlines = Deadlines{
	Fence:   1 * time.Second,
	Promote: 3 * time.Second,
	Repoint: 3 * time.Second,
	Commit:  2 * time.Second,
	Route:   2 * time.Second,
}

// chosen is a ranking that promotes 10.0.0.2:6379.
func chosen() Ranking {
	return Rank(rankInput(replica("10.0.0.2:6379", 12345), replica("10.0.0.3:6379", 12000)), t0)
}

func planInput(fw FenceWait, unreachable ...string) PlanInput {
	return PlanInput{
		Ranking:     chosen(),
		FenceWait:   fw,
		SelfFence:   SelfFence{MinReplicas: 1, MaxLag: 10 * time.Second},
		Reachable:   []string{"10.0.0.3:6379"},
		Unreachable: unreachable,
		Deadlines:   testDeadlines,
		Lease:       9500 * time.Millisecond,
	}
}

func names(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Name)
	}
	return out
}

// DESIGN.md §6.1: fence (in parallel) · promote · repoint · commit · fence
// window (strict) · route + announce · release; §5.6: other sentinels'
// sessions are killed on a node before the holder's first write there.
func TestPlanStepOrder(t *testing.T) {
	head := []string{StepKillSessions, StepFence, StepKillSessions, StepPromote, StepDemote, StepKillSessions, StepRepoint, StepSelfFence, StepCommit}
	tail := []string{StepRoute, StepClientKill, StepRelease}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	cases := []struct {
		name string
		in   PlanInput
		want []string
	}{
		{"strict, all reachable", planInput(FenceWaitStrict),
			cat(head, []string{StepFenceWindow}, tail)},
		{"strict, a replica unreachable", planInput(FenceWaitStrict, "10.0.0.4:6379"),
			cat(head, []string{StepFenceWindow, StepWaitCritical}, tail)},
		{"fast, all reachable", planInput(FenceWaitFast), cat(head, tail)},
		{"fast, a replica unreachable", planInput(FenceWaitFast, "10.0.0.4:6379"), cat(head, tail)},
		{"unknown fence_wait plans strict", planInput(FenceWaitUnknown),
			cat(head, []string{StepFenceWindow}, tail)},
		{"no other replica: nothing to repoint", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.Reachable = nil
			return in
		}(), cat(head[:5], []string{StepSelfFence, StepCommit, StepFenceWindow}, tail)},
		{"self-fence off, fast", func() PlanInput {
			in := planInput(FenceWaitFast)
			in.SelfFence = SelfFence{}
			return in
		}(), cat(head[:7], []string{StepCommit}, tail)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanRedisFailover(c.in)
			if got := names(p); !slices.Equal(got, c.want) {
				t.Fatalf("steps\n got %v\nwant %v\n%s", got, c.want, p)
			}
			for i, s := range p.Steps {
				if s.N != i+1 {
					t.Errorf("step %d numbered %d", i+1, s.N)
				}
			}
		})
	}
}

func TestPlanDeadlinesAndFlags(t *testing.T) {
	in := planInput(FenceWaitStrict, "10.0.0.4:6379")
	in.Deadlines = Deadlines{Fence: 700 * time.Millisecond, Promote: 4 * time.Second, Repoint: 5 * time.Second, Commit: 1500 * time.Millisecond, Route: 2500 * time.Millisecond}
	in.SelfFence.MaxLag = 5 * time.Second
	p := PlanRedisFailover(in)
	type row struct {
		name         string
		targets      string
		deadline     time.Duration
		irreversible bool
		background   bool
	}
	want := []row{
		{StepKillSessions, oldAddr, 700 * time.Millisecond, false, true},
		{StepFence, oldAddr, 700 * time.Millisecond, false, true},
		{StepKillSessions, "10.0.0.2:6379", 4 * time.Second, false, false},
		{StepPromote, "10.0.0.2:6379", 4 * time.Second, true, false},
		{StepDemote, oldAddr, 700 * time.Millisecond, true, true},
		{StepKillSessions, "10.0.0.3:6379", 5 * time.Second, false, false},
		{StepRepoint, "10.0.0.3:6379", 5 * time.Second, true, false},
		{StepSelfFence, "10.0.0.2:6379", 5 * time.Second, false, false},
		{StepCommit, TargetFleet, 1500 * time.Millisecond, false, false},
		// DESIGN.md §6.3: window = last detach + min-replicas-max-lag + 1 s
		{StepFenceWindow, oldAddr, 6 * time.Second, false, false},
		{StepWaitCritical, "10.0.0.4:6379", 0, false, false},
		{StepRoute, TargetRouting, 2500 * time.Millisecond, false, false},
		{StepClientKill, "10.0.0.2:6379, 10.0.0.3:6379, " + oldAddr, 2500 * time.Millisecond, false, false},
		{StepRelease, TargetLease, 0, false, false},
	}
	if len(p.Steps) != len(want) {
		t.Fatalf("%d steps, want %d\n%s", len(p.Steps), len(want), p)
	}
	for i, s := range p.Steps {
		got := row{s.Name, strings.Join(s.Targets, ", "), s.Deadline, s.Irreversible, s.Background}
		if got != want[i] {
			t.Errorf("step %d\n got %+v\nwant %+v", i+1, got, want[i])
		}
	}
	if a := p.Steps[1].Action; !strings.Contains(a, "CLIENT PAUSE 9500 WRITE") {
		t.Errorf("fence action %q should pause for the remaining lease", a)
	}
	if a := p.Steps[4].Action; !strings.Contains(a, "REPLICAOF 10.0.0.2 6379") {
		t.Errorf("demote action %q", a)
	}
}

func TestPlanWarnings(t *testing.T) {
	cases := []struct {
		name string
		in   PlanInput
		want []string // substrings, one per warning, in order
	}{
		{"strict, all reachable: none", planInput(FenceWaitStrict), nil},
		{"strict, unreachable replica: CRITICAL", planInput(FenceWaitStrict, "10.0.0.4:6379"), []string{
			"strict: replica 10.0.0.4:6379 unreachable; the route moves only when it is detached and the window has passed, or the old primary is confirmed fenced — CRITICAL",
		}},
		{"strict, fewer unreachable than min-replicas: the window suffices", func() PlanInput {
			in := planInput(FenceWaitStrict, "10.0.0.4:6379")
			in.SelfFence.MinReplicas = 2
			in.Reachable = []string{"10.0.0.3:6379", "10.0.0.5:6379"}
			return in
		}(), []string{"cannot meet the old primary's min-replicas-to-write 2: the fence window suffices"}},
		{"fast", planInput(FenceWaitFast), []string{
			"fast: the route moves without waiting; 10.0.0.1:6379 may acknowledge writes until it is fenced (at most min-replicas-max-lag 10s + 1s after the last detach)",
		}},
		{"fast, unreachable replica", planInput(FenceWaitFast, "10.0.0.4:6379"), []string{
			"fast: the route moves without waiting", "fast: replica 10.0.0.4:6379 unreachable",
		}},
		{"unknown fence_wait", planInput(FenceWaitUnknown), []string{"fence_wait unknown: planned as strict"}},
		{"strict without self-fence", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.SelfFence = SelfFence{}
			return in
		}(), []string{"strict without a self-fence: 10.0.0.1:6379 never fences itself"}},
		{"self-fence relaxed", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.Reachable = nil
			return in
		}(), []string{"self-fence relaxed on 10.0.0.2:6379 to min-replicas-to-write 0 (configured 1): 0 reachable replicas"}},
		{"old primary's weaker self-fence", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.OldSelfFence = &SelfFence{MinReplicas: 1, MaxLag: 30 * time.Second}
			return in
		}(), []string{"10.0.0.1:6379 reported a weaker self-fence than configured"}},
		{"lease too short", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.Lease = 2 * time.Second
			return in
		}(), []string{
			"the remaining lease 2s does not cover step 4 promote (3s)",
			"the remaining lease 2s does not cover step 7 repoint (3s)",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanRedisFailover(c.in)
			if len(p.Warnings) != len(c.want) {
				t.Fatalf("warnings %q, want %d matching %q", p.Warnings, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(p.Warnings[i], w) {
					t.Errorf("warning %d\n got %q\nwant it to contain %q", i, p.Warnings[i], w)
				}
			}
		})
	}
}

// The old primary's reported self-fence, when weaker, sets the window and
// the risk; the new primary gets the configured one.
func TestPlanOldSelfFence(t *testing.T) {
	in := planInput(FenceWaitStrict)
	in.OldSelfFence = &SelfFence{MinReplicas: 1, MaxLag: 30 * time.Second}
	p := PlanRedisFailover(in)
	for _, s := range p.Steps {
		switch s.Name {
		case StepFenceWindow:
			if s.Deadline != 31*time.Second {
				t.Errorf("window %v, want 31s (the old primary's lag + 1s)", s.Deadline)
			}
		case StepSelfFence:
			if !strings.Contains(s.Action, "min-replicas-max-lag 10") {
				t.Errorf("new primary's self-fence %q, want the configured lag", s.Action)
			}
		}
	}
	in.OldSelfFence = &SelfFence{MinReplicas: 0, MaxLag: 10 * time.Second}
	if got := names(PlanRedisFailover(in)); !slices.Contains(got, StepWaitCritical) || slices.Contains(got, StepFenceWindow) {
		t.Errorf("old primary without a self-fence: steps %v, want wait-critical and no window", got)
	}
}

func TestPlanFiltersTargets(t *testing.T) {
	in := planInput(FenceWaitStrict, "10.0.0.3:6379", "10.0.0.2:6379", oldAddr)
	in.Reachable = []string{"10.0.0.3:6379", "10.0.0.2:6379", "10.0.0.3:6379"}
	p := PlanRedisFailover(in)
	if got := names(p); slices.Contains(got, StepWaitCritical) {
		t.Errorf("a reachable replica listed as unreachable too must not make the plan wait: %v", got)
	}
	for _, s := range p.Steps {
		if s.Name == StepRepoint && !slices.Equal(s.Targets, []string{"10.0.0.3:6379"}) {
			t.Errorf("repoint targets %v, want only 10.0.0.3:6379", s.Targets)
		}
	}
}

func TestPlanNoCandidate(t *testing.T) {
	in := planInput(FenceWaitStrict)
	in.Ranking = Rank(rankInput(replica("10.0.0.2:6379", 5, serverPriority(0))), t0)
	p := PlanRedisFailover(in)
	if len(p.Steps) != 0 || p.NewPrimary != "" {
		t.Fatalf("plan without a candidate has steps:\n%s", p)
	}
	if p.Why != in.Ranking.Why || !strings.Contains(p.String(), "--to <address>") {
		t.Errorf("why %q, string\n%s", p.Why, p)
	}
}

func TestPlanJSON(t *testing.T) {
	b, err := json.Marshal(PlanRedisFailover(planInput(FenceWaitStrict, "10.0.0.4:6379")))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		FenceWait string `json:"fence_wait"`
		Steps     []struct {
			Step         string   `json:"step"`
			Targets      []string `json:"targets"`
			Deadline     int64    `json:"deadline_ns"`
			Irreversible bool     `json:"irreversible"`
		} `json:"steps"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.FenceWait != "strict" || len(got.Steps) != 14 || got.Steps[3].Step != "promote" ||
		!got.Steps[3].Irreversible || got.Steps[3].Deadline != int64(3*time.Second) || len(got.Warnings) != 1 {
		t.Errorf("json %s", b)
	}
}

func TestParseFenceWait(t *testing.T) {
	for s, want := range map[string]FenceWait{"strict": FenceWaitStrict, "fast": FenceWaitFast} {
		got, err := ParseFenceWait(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParseFenceWait(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFenceWait("Strict"); err == nil || !strings.Contains(err.Error(), `unknown fence_wait "Strict"`) {
		t.Errorf("err %v", err)
	}
}

func TestPlanGolden(t *testing.T) {
	cases := []struct {
		file string
		in   PlanInput
	}{
		{"plan_strict.golden", planInput(FenceWaitStrict)},
		{"plan_strict_unreachable.golden", planInput(FenceWaitStrict, "10.0.0.4:6379")},
		{"plan_fast_unreachable.golden", planInput(FenceWaitFast, "10.0.0.4:6379")},
		{"plan_none.golden", func() PlanInput {
			in := planInput(FenceWaitStrict)
			in.Ranking = Rank(rankInput(replica("10.0.0.2:6379", 5, linkDown(600))), t0)
			return in
		}()},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			golden(t, c.file, PlanRedisFailover(c.in).String())
		})
	}
}

func TestRankingGolden(t *testing.T) {
	in := rankInput(
		replica("10.0.0.2:6379", 12000),
		replica("10.0.0.3:6379", 12345, serverPriority(10)),
		replica("10.0.0.4:6379", 12345, serverPriority(50)),
		replica("10.0.0.5:6379", 12345, func(c *Candidate) { c.SDOWN = true }),
		replica("10.0.0.6:6379", 3000, linkDown(42)),
		replica("10.0.0.7:6379", 12345, func(c *Candidate) { c.Observation.Primary = "10.0.0.9:6379" }),
	)
	in.Limits = Limits{MaxLinkDown: 31 * time.Second}
	golden(t, "ranking.golden", Rank(in, t0).String())
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (go test ./promote/ -run %s -update writes it): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// imctl decodes what the daemon sends: plans and rankings survive JSON.
func TestJSONRoundTrip(t *testing.T) {
	p := PlanRedisFailover(planInput(FenceWaitFast, "10.0.0.4:6379"))
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if back.String() != p.String() {
		t.Errorf("plan after JSON:\n%s\nwant\n%s", back, p)
	}
	r := Rank(rankInput(replica("10.0.0.2:6379", 5), replica("10.0.0.3:6379", 5, serverPriority(0))), t0)
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	var rback Ranking
	if err := json.Unmarshal(b, &rback); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if rback.String() != r.String() || rback.Verdicts[1].Exclusion != ExcludedPriorityZero {
		t.Errorf("ranking after JSON:\n%s\nwant\n%s", rback, r)
	}
	var e Exclusion
	if err := e.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("unknown exclusion accepted")
	}
}

func TestPlanMySQLGolden(t *testing.T) {
	rk := Ranking{Cluster: "msg-01", OldPrimary: "10.0.2.1:3306", Chosen: "10.0.2.2:3306", Why: "promote 10.0.2.2:3306"}
	d := Deadlines{Fence: time.Second, Promote: 3 * time.Second, Repoint: 3 * time.Second, Commit: 2 * time.Second, Route: 2 * time.Second}
	for _, c := range []struct {
		file string
		in   MySQLPlanInput
	}{
		{"plan_mysql_strict.golden", MySQLPlanInput{Ranking: rk, FenceWait: FenceWaitStrict, SemiSync: true,
			Reachable: []string{"10.0.2.3:3306"}, Deadlines: d, CatchUp: 30 * time.Second, Lease: 9500 * time.Millisecond}},
		{"plan_mysql_strict_unreachable.golden", MySQLPlanInput{Ranking: rk, FenceWait: FenceWaitStrict, SemiSync: true,
			Unreachable: []string{"10.0.2.3:3306"}, Deadlines: d, CatchUp: 30 * time.Second, Lease: 9500 * time.Millisecond}},
	} {
		t.Run(c.file, func(t *testing.T) {
			golden(t, c.file, PlanMySQLFailover(c.in).String())
		})
	}
	if p := PlanMySQLFailover(MySQLPlanInput{Ranking: Ranking{Cluster: "msg-01", Why: "no replica"}}); len(p.Steps) != 0 || p.Why != "no replica" {
		t.Errorf("no candidate: %+v", p)
	}
}
