package failover

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

const testToken = "op-token-271828"

// post sends a mutating admin call to m; token "" sends none.
func (e *env) post(m *member, path, token string, body any, accept string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", m.admin, path), rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{Timeout: 2 * deadline}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s to %s: %v", path, m.id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The operator API on a real fleet: auth (401 without the token, reads
// stay open), bad input (400/404), a dry run with the plan, the ranking
// and the overrides, and a forced failover with --to sent to a sentinel
// that holds no lease: it becomes the candidate, streams the steps, and the
// route moves to the chosen replica.
func TestOperatorFailoverThroughTheAdminAPI(t *testing.T) {
	e := start(t, opts{token: testToken})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	m := e.members[1]
	path := "/v1/clusters/" + e.o.cluster + "/failover"

	if code, b := e.post(m, path, "", sentinel.FailoverRequest{DryRun: true}, ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d %s, want 401", code, b)
	}
	if code, b := e.post(m, path, "wrong", sentinel.FailoverRequest{DryRun: true}, ""); code != http.StatusUnauthorized {
		t.Errorf("with another token: %d %s, want 401", code, b)
	}
	var v sentinel.ClusterView
	if err := harness.AdminGet(m.admin, "/v1/clusters/"+e.o.cluster, &v); err != nil {
		t.Errorf("reads need no token: %v", err)
	}
	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{"/v1/clusters/nosuch/failover", sentinel.FailoverRequest{DryRun: true}, http.StatusNotFound},
		{path, sentinel.FailoverRequest{To: "127.0.0.1:1", DryRun: true}, http.StatusBadRequest},
		{path, map[string]any{"dry_run": "yes"}, http.StatusBadRequest},
		{path, map[string]any{"unknown": 1}, http.StatusBadRequest},
		{"/v1/clusters/" + e.o.cluster + "/pause", sentinel.PauseRequest{For: "forever"}, http.StatusBadRequest},
	} {
		if code, b := e.post(m, tc.path, testToken, tc.body, ""); code != tc.want || !strings.Contains(string(b), `"error"`) {
			t.Errorf("POST %s %+v: %d %s, want %d with a reason", tc.path, tc.body, code, b, tc.want)
		}
	}

	to := e.top.Replicas[1]
	code, b := e.post(m, path, testToken, sentinel.FailoverRequest{To: to.Addr, DryRun: true}, "")
	if code != http.StatusOK {
		t.Fatalf("dry run: %d %s", code, b)
	}
	var plan sentinel.FailoverPlan
	if err := json.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Plan.NewPrimary != to.Addr || len(plan.Plan.Steps) == 0 || len(plan.Ranking.Verdicts) != 2 {
		t.Errorf("dry run plan: new primary %s, %d steps, %d verdicts; want %s, steps, a verdict per replica",
			plan.Plan.NewPrimary, len(plan.Plan.Steps), len(plan.Ranking.Verdicts), to.Addr)
	}
	overrides := strings.Join(plan.Overrides, "\n")
	for _, want := range []string{"answers", "ODOWN not reached", "ranking"} {
		if !strings.Contains(overrides, want) {
			t.Errorf("overrides %q do not mention %q", overrides, want)
		}
	}
	if r, _ := role(to); r != "slave" {
		t.Fatalf("a dry run changed %s: role %s", to.Addr, r)
	}

	code, b = e.post(m, path, testToken, sentinel.FailoverRequest{To: to.Addr}, "application/x-ndjson")
	if code != http.StatusOK {
		t.Fatalf("forced failover: %d %s", code, b)
	}
	var steps []string
	var outcome sentinel.FailoverOutcome
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var line struct {
			Event *struct {
				Type   string         `json:"type"`
				Detail map[string]any `json:"detail"`
			} `json:"event"`
			Outcome *sentinel.FailoverOutcome `json:"outcome"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		if line.Event != nil && line.Event.Type == "step" {
			steps = append(steps, fmt.Sprint(line.Event.Detail["step"]))
		}
		if line.Outcome != nil {
			outcome = *line.Outcome
		}
	}
	if !outcome.Committed || !outcome.Routed || outcome.NewPrimary != to.Addr || outcome.Why != "" {
		t.Errorf("outcome %+v, want committed and routed to %s", outcome, to.Addr)
	}
	for _, want := range []string{"promote", "route"} {
		if !strings.Contains(strings.Join(steps, " "), want) {
			t.Errorf("streamed steps %v lack %s", steps, want)
		}
	}
	e.waitRouteOf(e.o.cluster, "the route names the chosen replica", to.Addr, seedEpoch)
	e.waitFollows(e.top.Replicas[0], to)
	e.waitFollows(e.top.Primary, to) // the old primary answered: demoted at once
}

// A pause (imctl cluster pause) is committed fleet-wide: a primary killed
// while paused is not failed over by any sentinel; resumed (imctl cluster
// resume), the failover happens.
func TestPauseStopsAutomaticFailoverAndResumeLetsItHappen(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	if out, errOut, code := e.imctl("", "cluster", "pause", e.o.cluster, "--for", "10m"); code != 0 {
		t.Fatalf("imctl cluster pause: exit %d:\n%s\n%s", code, out, errOut)
	}
	harness.Eventually(t, deadline, "every sentinel sees the pause", func() error {
		for _, m := range e.members {
			v, err := e.view(m)
			if err != nil {
				return err
			}
			if v.PausedUntil == nil {
				return fmt.Errorf("%s: not paused", m.id)
			}
		}
		return nil
	})

	e.top.Primary.Kill(t)
	harness.Eventually(t, deadline, "the fleet agrees the primary is down", func() error {
		v, err := e.view(e.members[0])
		if err != nil {
			return err
		}
		if !strings.HasPrefix(v.Agreement.Tally, "ODOWN") {
			return fmt.Errorf("tally: %s", v.Agreement.Tally)
		}
		return nil
	})
	time.Sleep(5 * time.Second) // paused: nothing may happen
	if n := e.logCount("failover: starting"); n != 0 {
		t.Fatalf("%d failovers started while paused", n)
	}

	if out, errOut, code := e.imctl("", "cluster", "resume", e.o.cluster); code != 0 {
		t.Fatalf("imctl cluster resume: exit %d:\n%s\n%s", code, out, errOut)
	}
	e.waitNewPrimary(seedEpoch)
}

// GET /v1/events: the journal, and with follow=1 a stream of new entries.
func TestEventsFollow(t *testing.T) {
	e := start(t, opts{})
	defer e.dumpLogs()
	e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)
	m := e.members[0]
	var ev struct {
		Events []struct {
			Seq  uint64 `json:"seq"`
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := harness.AdminGet(m.admin, "/v1/events?cluster="+e.o.cluster+"&limit=1000", &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Events) == 0 {
		t.Fatalf("no events in the journal")
	}
	last := ev.Events[len(ev.Events)-1].Seq

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/events?follow=1&cluster=%s&since=%d", m.admin, e.o.cluster, last))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	e.top.Replicas[0].Kill(t) // an SDOWN to journal
	timeout := time.After(deadline)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended")
			}
			if strings.Contains(l, `"type":"sdown"`) && strings.Contains(l, e.top.Replicas[0].Addr) {
				return
			}
		case <-timeout:
			t.Fatalf("no sdown event streamed within %v", deadline)
		}
	}
}
