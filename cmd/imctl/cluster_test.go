package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/sentinel"
)

func TestClusterShow(t *testing.T) {
	api := newFakeAPI(t)
	c := sampleCluster()
	c.PausedUntil.Time = testNow.Add(3600e9)
	c.LastFailover = &lastFailover{Epoch: 6, At: testNow.Add(-3600e9), NewPrimary: "10.0.0.1:6379", Committed: true}
	c.ZeroLoss = promote.Claim{Why: "Redis replication is asynchronous"}
	c.Instances[0].Detector = sentinel.Detector{SmoothedRTTMS: 0.4, Suspicion: 0.123, LastOK: &testNow,
		Reason: "window 1.2s, silence 150ms"}
	api.Clusters = []clusterView{c}
	r := imctl(t, invocation{Args: api.args("cluster", "show", "sessions-01")})
	if r.Code != exitOK {
		t.Fatalf("cluster show = exit %d: %s", r.Code, r.Err)
	}
	want := strings.ReplaceAll(`cluster        sessions-01 (redis, mode auto)
primary        10.0.0.1:6379
state          ok
epoch          7
paused         until 2026-11-26T10:30:00.000Z: no automatic failover (imctl cluster resume sessions-01)
lease          s2 at epoch 7 (steward)
tally          0/3 say down
vantage        2 replicas see the primary
last failover  epoch 6 at 2026-11-26T08:30:00Z to 10.0.0.1:6379
zero loss      NOT claimed: Redis replication is asynchronous
updated        2026-11-26T09:30:00.000Z by URL

INSTANCE       STATE    LAG   SOURCE                         RTT    SUSPICION  LAST OK                   DETAIL
10.0.0.1:6379  primary  -     config                         0.4ms  0.12       2026-11-26T09:30:00.000Z  window 1.2s, silence 150ms
10.0.0.2:6379  replica  512B  discovered from 10.0.0.1:6379  0.0ms  0.00       -                         -
10.0.0.3:6379  SDOWN    -     discovered from 10.0.0.1:6379  0.0ms  0.00       -                         -

CONDITION         SEVERITY  INSTANCE       SINCE                     DETAIL
SelfFenceRelaxed  WARNING   10.0.0.1:6379  2026-11-26T09:30:00.000Z  min-replicas-to-write 1 (configured 2)
`, "URL", api.URL())
	if r.Out != want {
		t.Errorf("cluster show:\n%s\nwant:\n%s", r.Out, want)
	}
}

func TestClusterShowJSON(t *testing.T) {
	api := newFakeAPI(t)
	api.Clusters = []clusterView{sampleCluster()}
	r := imctl(t, invocation{Args: api.args("cluster", "show", "sessions-01", "-o", "json")})
	var got clusterView
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || r.Code != 0 || got.Name != "sessions-01" || len(got.Instances) != 3 {
		t.Errorf("cluster show -o json = exit %d %s (%v), want the API's <cluster>", r.Code, r.Out, err)
	}
}

// A 404 for a cluster says there is none and how to list them.
func TestUnknownCluster(t *testing.T) {
	api := newFakeAPI(t)
	api.Token = "t0ken"
	env := map[string]string{"IMCTL_TOKEN": "t0ken"}
	for _, args := range [][]string{
		{"cluster", "show", "nope"},
		{"cluster", "pause", "nope"},
		{"cluster", "resume", "nope"},
		{"failover", "nope", "--dry-run"},
	} {
		r := imctl(t, invocation{Args: api.args(args...), Env: env})
		if r.Code != exitFailed || r.Err != "imctl: no cluster named nope; `imctl status` lists them\n" {
			t.Errorf("imctl %v = exit %d %q, want 1 and the unknown-cluster hint", args, r.Code, r.Err)
		}
	}
}

func TestClusterPause(t *testing.T) {
	api := newFakeAPI(t)
	api.Token = "t0ken"
	api.Clusters = []clusterView{sampleCluster()}
	env := map[string]string{"IMCTL_TOKEN": "t0ken"}
	r := imctl(t, invocation{Args: api.args("cluster", "pause", "sessions-01", "--for", "30m"), Env: env})
	if r.Code != exitOK || r.Out != "sessions-01 paused until 2026-11-26T10:00:00.000Z at epoch 8: no automatic failover "+
		"on any sentinel until then; `imctl cluster resume sessions-01` ends it sooner\n" {
		t.Errorf("cluster pause --for 30m = exit %d %q (stderr %s)", r.Code, r.Out, r.Err)
	}
	q := api.requests()[0]
	if q.Method != "POST" || q.Path != "/v1/clusters/sessions-01/pause" || q.Body != `{"for":"30m0s"}` || q.Auth != "Bearer t0ken" {
		t.Errorf("pause sent %+v, want POST .../pause {\"for\":\"30m0s\"} with the token", q)
	}

	r = imctl(t, invocation{Args: api.args("cluster", "pause", "sessions-01", "-o", "json"), Env: env})
	var ans map[string]any
	if err := json.Unmarshal([]byte(r.Out), &ans); err != nil || ans["paused_until"] != "2026-11-26T10:30:00Z" {
		t.Errorf("cluster pause -o json = %s (%v), want the answer with the default hour", r.Out, err)
	}
	if q := api.requests()[1]; q.Body != `{}` {
		t.Errorf("pause without --for sent %q, want {} (the sentinel's default)", q.Body)
	}

	r = imctl(t, invocation{Args: api.args("cluster", "resume", "sessions-01"), Env: env})
	if r.Code != exitOK || r.Out != "sessions-01 resumed at epoch 8: automatic failovers are on again on every sentinel\n" {
		t.Errorf("cluster resume = exit %d %q (stderr %s)", r.Code, r.Out, r.Err)
	}
	if q := api.requests()[2]; q.Path != "/v1/clusters/sessions-01/resume" || q.Body != "" {
		t.Errorf("resume sent %+v", q)
	}

	for _, bad := range []string{"0s", "-1h", "169h", "soon"} {
		r := imctl(t, invocation{Args: api.args("cluster", "pause", "sessions-01", "--for", bad), Env: env})
		if r.Code != exitUsage {
			t.Errorf("cluster pause --for %s = exit %d %s, want 2", bad, r.Code, r.Err)
		}
	}
}

func TestMutatingCallErrors(t *testing.T) {
	api := newFakeAPI(t)
	api.Token = "t0ken"
	api.Clusters = []clusterView{sampleCluster()}
	cases := []struct {
		name   string
		token  string
		refuse string
		want   string
		code   int
	}{
		{"no token", "", "", "imctl: the sentinel wants a token: set IMCTL_TOKEN to its admin.token (" + api.URL() +
			" answered POST /v1/clusters/sessions-01/pause: this call needs the admin token (Authorization: Bearer))", exitFailed},
		{"wrong token", "other", "", "imctl: the sentinel refused the token in IMCTL_TOKEN: it must equal its admin.token", exitFailed},
		{"no majority", "t0ken", "no majority reachable: s2, s3 did not answer", "imctl: pause of sessions-01 refused by " +
			api.URL() + ": no majority reachable: s2, s3 did not answer", exitFailed},
	}
	for _, c := range cases {
		api.Refuse = c.refuse
		r := imctl(t, invocation{Args: api.args("cluster", "pause", "sessions-01"), Env: map[string]string{"IMCTL_TOKEN": c.token}})
		if r.Code != c.code || !strings.HasPrefix(r.Err, c.want) {
			t.Errorf("%s: cluster pause = exit %d %q, want %d %q", c.name, r.Code, r.Err, c.code, c.want)
		}
	}
}
