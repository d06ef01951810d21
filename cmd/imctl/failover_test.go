package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum/store"
)

// failoverAPI is a fake sentinel ready for a failover of sessions-01 from
// 10.0.0.1:6379 to 10.0.0.2:6379, streaming three steps.
func failoverAPI(t *testing.T) *fakeAPI {
	t.Helper()
	api := newFakeAPI(t)
	api.Token = "t0ken"
	api.Clusters = []clusterView{sampleCluster()}
	api.DryRun = dryRunAnswer{
		Cluster: "sessions-01",
		Plan: promote.Plan{Cluster: "sessions-01", Kind: "redis", OldPrimary: "10.0.0.1:6379", NewPrimary: "10.0.0.2:6379",
			FenceWait: promote.FenceWaitStrict,
			Steps: []promote.Step{
				{N: 1, Name: promote.StepPromote, Targets: []string{"10.0.0.2:6379"}, Deadline: 2 * time.Second, Irreversible: true,
					Action: "REPLICAOF NO ONE"},
				{N: 2, Name: promote.StepRoute, Targets: []string{promote.TargetRouting}, Deadline: time.Second,
					Action: "compare-and-set the route"},
			},
			Warnings: []string{"strict: replica 10.0.0.3:6379 unreachable"}},
		Ranking: promote.Ranking{Cluster: "sessions-01", OldPrimary: "10.0.0.1:6379", Chosen: "10.0.0.2:6379",
			Why: "promote 10.0.0.2:6379: offset 9488, the most advanced of 1 candidate (1 excluded)",
			Verdicts: []promote.Verdict{
				{Address: "10.0.0.2:6379", Rank: 1, Reason: "candidate #1: offset 9488 (most advanced)", Offset: 9488, Priority: 100},
				{Address: "10.0.0.3:6379", Exclusion: promote.ExcludedSDOWN, Reason: "excluded: SDOWN", Offset: -1, Priority: 100},
			}},
		Overrides: []string{"ODOWN not reached: 1/3 say the primary is down (quorum 2)", "cooldown: last failover 2m ago"},
	}
	api.Steps = []store.Entry{
		event(50, "sessions-01", "step", `{"step":"promote","targets":["10.0.0.2:6379"],"epoch":8,"took_ms":31}`),
		event(51, "sessions-01", "step", `{"step":"commit","targets":["fleet majority"],"epoch":8,"took_ms":4}`),
		event(52, "sessions-01", "step", `{"step":"route","targets":["routing redis"],"epoch":8,"took_ms":2}`),
	}
	api.Outcome = failoverOutcome{Cluster: "sessions-01", Epoch: 8, OldPrimary: "10.0.0.1:6379", NewPrimary: "10.0.0.2:6379",
		Committed: true, Routed: true}
	return api
}

var tokenEnv = map[string]string{"IMCTL_TOKEN": "t0ken"}

func TestFailoverDryRun(t *testing.T) {
	api := failoverAPI(t)
	r := imctl(t, invocation{Args: api.args("failover", "sessions-01", "--dry-run"), Env: tokenEnv})
	if r.Code != exitOK {
		t.Fatalf("failover --dry-run = exit %d: %s", r.Code, r.Err)
	}
	wantLines(t, "failover --dry-run", r.Out,
		"Dry run at "+api.URL()+": nothing was elected or written.\n",
		"cluster sessions-01 (redis): fail over 10.0.0.1:6379 -> 10.0.0.2:6379, fence_wait strict\n",
		"1  promote  10.0.0.2:6379  2s",
		"  - strict: replica 10.0.0.3:6379 unreachable\n",
		"REPLICA        OFFSET  PRIORITY  VERDICT\n",
		"10.0.0.2:6379  9488    100       candidate #1: offset 9488 (most advanced)\n",
		"10.0.0.3:6379  -       100       excluded: SDOWN\n",
		"WARNING: a forced failover overrides: ODOWN not reached: 1/3 say the primary is down (quorum 2)\n",
		"WARNING: a forced failover overrides: cooldown: last failover 2m ago\n",
	)
	reqs := api.requests()
	if len(reqs) != 1 || reqs[0].Body != `{"dry_run":true}` || reqs[0].Auth != "Bearer t0ken" {
		t.Errorf("--dry-run sent %+v, want one POST with dry_run and the token", reqs)
	}
	if r.Err != "" {
		t.Errorf("--dry-run asked or warned on stderr: %q", r.Err)
	}

	r = imctl(t, invocation{Args: api.args("failover", "sessions-01", "--dry-run", "--to", "10.0.0.3:6379", "-o", "json"), Env: tokenEnv})
	var got dryRunAnswer
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || r.Code != 0 || got.Plan.NewPrimary != "10.0.0.2:6379" || len(got.Overrides) != 2 {
		t.Errorf("--dry-run -o json = exit %d %s (%v), want the API's answer", r.Code, r.Out, err)
	}
	if q := api.requests()[1]; q.Body != `{"to":"10.0.0.3:6379","dry_run":true}` {
		t.Errorf("--dry-run --to sent %s", q.Body)
	}
}

// Nothing to promote: the dry run says why and exits 1, and nothing is asked.
func TestFailoverNothingToPromote(t *testing.T) {
	api := failoverAPI(t)
	api.DryRun.Plan = promote.Plan{Cluster: "sessions-01", OldPrimary: "10.0.0.1:6379",
		Why: "no replica can be promoted: 10.0.0.2:6379 unreachable"}
	for _, args := range [][]string{{"--dry-run"}, {}} {
		r := imctl(t, invocation{Args: api.args(append([]string{"failover", "sessions-01"}, args...)...), Env: tokenEnv, Stdin: "yes\n"})
		if r.Code != exitFailed || r.Err != "imctl: failover of sessions-01: nothing can be promoted: no replica can be promoted: 10.0.0.2:6379 unreachable\n" {
			t.Errorf("failover %v with nothing to promote = exit %d %q", args, r.Code, r.Err)
		}
	}
	if n := len(api.requests()); n != 2 {
		t.Errorf("%d requests, want the two dry runs only", n)
	}
}

// Confirmed: the failover runs on the sentinel of the dry run, and each
// step is printed as it is streamed.
func TestFailoverConfirmed(t *testing.T) {
	api := failoverAPI(t)
	other := newFakeAPI(t) // a second sentinel that must not be asked to fail over
	out := newSyncBuffer()
	api.AfterFirst = func() {
		if !out.waitFor("promote 10.0.0.2:6379: ok in 31ms") {
			t.Errorf("the first step was not printed before the next was streamed:\n%s", out.String())
		}
	}
	r := imctl(t, invocation{Args: []string{"failover", "sessions-01", "--sentinel", api.URL() + "," + other.URL()},
		Env: tokenEnv, Stdin: "yes\n", Out: out})
	if r.Code != exitOK {
		t.Fatalf("failover confirmed = exit %d: %s", r.Code, r.Err)
	}
	if want := `Fail over sessions-01: promote 10.0.0.2:6379 in place of 10.0.0.1:6379, despite the 3 warnings above? Type "yes" to go on: yes` + "\n"; r.Err != want {
		t.Errorf("the question on stderr = %q, want %q", r.Err, want)
	}
	wantLines(t, "failover", out.String(),
		"WARNING: a forced failover overrides: cooldown",
		"Failover of sessions-01 at "+api.URL()+":\n   SEQ  AT",
		"    50  2026-11-26T09:30:00.050Z  sessions-01       s1        step                      epoch 8: promote 10.0.0.2:6379: ok in 31ms\n",
		"epoch 8: commit fleet majority: ok in 4ms\n",
		"epoch 8: route routing redis: ok in 2ms\n",
		"sessions-01: failed over from 10.0.0.1:6379 to 10.0.0.2:6379 at epoch 8 (committed, routed yes)\n",
	)
	reqs := api.requests()
	// The ranking's choice is not pinned with "to": that would relax the
	// ranking should the replica be excluded by now.
	if len(reqs) != 2 || reqs[1].Body != `{}` || reqs[1].Accept != mimeNDJSON || reqs[1].Auth != "Bearer t0ken" {
		t.Errorf("confirmed failover sent %+v, want the dry run then a streamed failover without to", reqs)
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("the second sentinel got %d requests, want none", n)
	}
}

func TestFailoverNotConfirmed(t *testing.T) {
	for _, c := range []struct{ stdin, why string }{
		{"no\n", `the answer was "no"`},
		{"", "no answer on stdin"},
		{"yes please\n", `the answer was "yes please"`},
	} {
		api := failoverAPI(t)
		r := imctl(t, invocation{Args: api.args("failover", "sessions-01"), Env: tokenEnv, Stdin: c.stdin})
		want := "imctl: failover of sessions-01 not confirmed (" + c.why + "): nothing was done; --yes skips the question\n"
		if r.Code != exitFailed || !strings.HasSuffix(r.Err, want) {
			t.Errorf("answer %q: exit %d %q, want 1 and ...%q", c.stdin, r.Code, r.Err, want)
		}
		if n := len(api.requests()); n != 1 {
			t.Errorf("answer %q: %d requests, want the dry run only", c.stdin, n)
		}
	}
}

// --yes: no dry run, no question; -o json passes the stream through.
func TestFailoverYesJSON(t *testing.T) {
	api := failoverAPI(t)
	r := imctl(t, invocation{Args: api.args("failover", "sessions-01", "--yes", "--to", "10.0.0.2:6379", "-o", "json"), Env: tokenEnv})
	if r.Code != exitOK || r.Err != "" {
		t.Fatalf("failover --yes = exit %d %q", r.Code, r.Err)
	}
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	var last failoverLine
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || len(lines) != 4 || last.Outcome == nil || !last.Outcome.Committed {
		t.Errorf("failover --yes -o json printed\n%s\nwant 3 event lines and the outcome (%v)", r.Out, err)
	}
	reqs := api.requests()
	if len(reqs) != 1 || reqs[0].Body != `{"to":"10.0.0.2:6379"}` {
		t.Errorf("--yes sent %+v, want one failover without a dry run", reqs)
	}
}

// A sentinel that answers the failover in one JSON object (no stream):
// the outcome is shown.
func TestFailoverWithoutStream(t *testing.T) {
	api := failoverAPI(t)
	api.NoStream = true
	r := imctl(t, invocation{Args: api.args("failover", "sessions-01", "-y"), Env: tokenEnv})
	if want := "sessions-01: failed over from 10.0.0.1:6379 to 10.0.0.2:6379 at epoch 8 (committed, routed yes)\n"; r.Code != exitOK || r.Out != want {
		t.Errorf("failover without a stream = exit %d %q (%s), want 0 %q", r.Code, r.Out, r.Err, want)
	}
}

func TestFailoverFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fakeAPI)
		args  []string
		env   map[string]string
		code  int
		want  string // in stderr
	}{
		{"no majority", func(a *fakeAPI) { a.Refuse = "no majority reachable: s2 (timeout), s3 (connection refused)" },
			[]string{"--yes"}, tokenEnv, exitFailed,
			": no majority reachable: s2 (timeout), s3 (connection refused)\n"},
		{"no replica on dry run", func(a *fakeAPI) { a.Refuse = "no replica reachable: 10.0.0.2:6379 not answering" },
			nil, tokenEnv, exitFailed, ": no replica reachable: 10.0.0.2:6379 not answering\n"},
		{"no token", nil, []string{"--dry-run"}, nil, exitFailed, "the sentinel wants a token: set IMCTL_TOKEN to its admin.token"},
		{"bad --to", func(a *fakeAPI) { a.BadTo = "10.9.9.9:6379" }, []string{"--dry-run", "--to", "10.9.9.9:6379"}, tokenEnv,
			exitUsage, "rejected POST /v1/clusters/sessions-01/failover as bad input: 10.9.9.9:6379 is not a replica of sessions-01\n"},
		{"did not finish", func(a *fakeAPI) {
			a.Outcome = failoverOutcome{Cluster: "sessions-01", Epoch: 8, Committed: false, Why: "lease lost before commit"}
		}, []string{"--yes"}, tokenEnv, exitFailed,
			"imctl: failover of sessions-01 did not finish (epoch 8, committed no, routed no): lease lost before commit\n"},
		{"stream cut", func(a *fakeAPI) { a.NoOutcome = true }, []string{"--yes"}, tokenEnv, exitFailed,
			"ended the answer before the outcome; see `imctl events --cluster sessions-01`\n"},
		{"error after the stream started", func(a *fakeAPI) { a.StreamErr = "refused: lease lost at epoch 8" }, []string{"--yes"}, tokenEnv,
			exitFailed, "imctl: failover of sessions-01 at URL: refused: lease lost at epoch 8; see `imctl events --cluster sessions-01`\n"},
		{"dry run and yes", nil, []string{"--dry-run", "--yes"}, tokenEnv, exitUsage, "--dry-run and --yes contradict each other: a dry run changes nothing\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := failoverAPI(t)
			if c.setup != nil {
				c.setup(api)
			}
			r := imctl(t, invocation{Args: api.args(append([]string{"failover", "sessions-01"}, c.args...)...), Env: c.env, Stdin: "yes\n"})
			if want := strings.ReplaceAll(c.want, "URL", api.URL()); r.Code != c.code || !strings.Contains(r.Err, want) {
				t.Errorf("failover %v = exit %d\n%s\nwant %d and %q", c.args, r.Code, r.Err, c.code, want)
			}
		})
	}
}

// A 409 says which sentinel refused and its reason, verbatim.
func TestFailoverRefusedMessage(t *testing.T) {
	api := failoverAPI(t)
	api.Refuse = "no majority reachable: granted by s1 only (s2: timeout, s3: refused, epoch 9 > 8)"
	r := imctl(t, invocation{Args: api.args("failover", "sessions-01", "--yes"), Env: tokenEnv})
	want := "imctl: failover of sessions-01 refused by " + api.URL() + ": " + api.Refuse + "\n"
	if r.Err != want {
		t.Errorf("stderr %q, want %q", r.Err, want)
	}
}

// A failover request that may have reached a sentinel is never sent to the
// next one; one that could not connect is.
func TestFailoverNotRepeated(t *testing.T) {
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the request arrived; the answer never comes
		}
	}))
	defer hangup.Close()
	api := failoverAPI(t)
	r := imctl(t, invocation{Args: []string{"failover", "sessions-01", "--yes", "--sentinel", hangup.URL + "," + api.URL()}, Env: tokenEnv})
	if r.Code != exitFailed || !strings.Contains(r.Err, "the sentinel may have received it: check `imctl events` before trying again") {
		t.Errorf("after a cut answer: exit %d %q, want 1 and a warning", r.Code, r.Err)
	}
	if n := len(api.requests()); n != 0 {
		t.Errorf("the next sentinel got %d requests after the first may have received the failover, want 0", n)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there: connection refused
	r = imctl(t, invocation{Args: []string{"failover", "sessions-01", "--yes", "--sentinel", closed + "," + api.URL()}, Env: tokenEnv})
	if r.Code != exitOK || len(api.requests()) != 1 {
		t.Errorf("after a refused connection: exit %d %q, want the next sentinel to fail over", r.Code, r.Err)
	}
}
