package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel"
)

// redisObs is a reachable Redis instance: a primary at offset, or a
// replica at replicaOffset with its link up.
func redisObs(primary bool, replicaOffset, offset int64) *probe.Observation {
	o := &probe.Observation{Reachable: true, Role: probe.RoleReplica, At: testNow,
		Redis: &probe.RedisFacts{Offset: offset, ReplicaOffset: replicaOffset, LinkUp: true}}
	if primary {
		o.Role = probe.RolePrimary
	}
	return o
}

func TestStatusTable(t *testing.T) {
	api := newFakeAPI(t)
	c := sampleCluster()
	c.PausedUntil.Time = testNow.Add(10 * 60e9)
	api.Clusters = []clusterView{c}
	api.Events = []store.Entry{
		{Seq: 3, At: testNow.Add(-2 * 3600e9), Cluster: "sessions-01", Type: sentinel.EventFailoverDone,
			Detail: json.RawMessage(`{"epoch":5,"committed":true,"routed":true}`)},
		{Seq: 9, At: testNow.Add(-3600e9), Cluster: "sessions-01", Type: sentinel.EventFailoverDone,
			Detail: json.RawMessage(`{"epoch":7,"committed":true,"routed":true}`)},
		{Seq: 10, At: testNow, Cluster: "sessions-01", Type: "sdown"},
	}
	// The first sentinel is down: status falls through to the next.
	r := imctl(t, invocation{Args: []string{"status", "--sentinel", "127.0.0.1:1," + api.URL()}})
	if r.Code != exitOK {
		t.Fatalf("imctl status = exit %d, stderr %s", r.Code, r.Err)
	}
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	wantHeader := "CLUSTER      KIND   STATE       PRIMARY                  REPLICAS"
	wantRow := "sessions-01  redis  ok, paused  10.0.0.1:6379 (primary)  10.0.0.2:6379 (replica) lag 512B, 10.0.0.3:6379 (SDOWN)  7      epoch 7 at 2026-11-26T08:30:00Z"
	if len(lines) != 3 || !strings.HasPrefix(lines[0], wantHeader) || lines[1] != wantRow ||
		lines[2] != "sessions-01: WARNING SelfFenceRelaxed: min-replicas-to-write 1 (configured 2)" {
		t.Errorf("imctl status:\n%s\nwant the header %q, the row\n%q\nand the condition", r.Out, wantHeader, wantRow)
	}
}

func TestStatusLag(t *testing.T) {
	primary := sentinel.InstanceView{Address: "p", Observation: redisObs(true, 0, 3<<20)}
	linkDown := redisObs(false, 0, 0)
	linkDown.Redis.LinkUp = false
	mysqlStopped := &probe.Observation{Reachable: true, Role: probe.RoleReplica, MySQL: &probe.MySQLFacts{LagSeconds: -1}}
	for _, c := range []struct {
		name string
		obs  *probe.Observation
		want string
	}{
		{"caught up", redisObs(false, 3<<20, 0), "0B"},
		{"megabytes behind", redisObs(false, 1<<20, 0), "2.0MiB"},
		{"link down", linkDown, "? (link down)"},
		{"not probed", nil, ""},
		{"a primary", redisObs(true, 0, 5), ""},
		{"mysql", &probe.Observation{Reachable: true, Role: probe.RoleReplica, MySQL: &probe.MySQLFacts{LagSeconds: 4}}, "4s"},
		{"mysql stopped", mysqlStopped, "? (replication stopped)"},
	} {
		if got := lag(sentinel.InstanceView{Observation: c.obs}, &primary); got != c.want {
			t.Errorf("%s: lag = %q, want %q", c.name, got, c.want)
		}
	}
	if got := lag(sentinel.InstanceView{Observation: redisObs(false, 1, 0)}, nil); got != "?" {
		t.Errorf("lag without a known primary = %q, want ?", got)
	}
}

// A sentinel that reports last_failover itself is not asked for events.
func TestStatusLastFailoverFromView(t *testing.T) {
	api := newFakeAPI(t)
	c := sampleCluster()
	c.LastFailover = &lastFailover{Epoch: 4, At: testNow, NewPrimary: "10.0.0.1:6379", Committed: false}
	api.Clusters = []clusterView{c}
	r := imctl(t, invocation{Args: api.args("status")})
	wantLines(t, "imctl status", r.Out, "epoch 4 at 2026-11-26T09:30:00Z to 10.0.0.1:6379 (did not finish)")
	for _, q := range api.requests() {
		if q.Path == "/v1/events" {
			t.Errorf("status asked for events although the view had last_failover: %+v", q)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	api := newFakeAPI(t)
	api.Clusters = []clusterView{sampleCluster()}
	r := imctl(t, invocation{Args: api.args("status", "-o", "json")})
	var got clustersAnswer
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || r.Code != 0 || got.Sentinel != "s1" ||
		len(got.Clusters) != 1 || got.Clusters[0].Instances[1].Observation.Redis.ReplicaOffset != 9488 {
		t.Errorf("imctl status -o json = exit %d %s (%v), want the API's answer", r.Code, r.Out, err)
	}
}

// IMCTL_SENTINEL is used when --sentinel is not given; the flag wins.
func TestSentinelFromEnv(t *testing.T) {
	api := newFakeAPI(t)
	env := map[string]string{"IMCTL_SENTINEL": "127.0.0.1:1, " + api.URL()}
	if r := imctl(t, invocation{Args: []string{"status"}, Env: env}); r.Code != exitOK {
		t.Errorf("status with IMCTL_SENTINEL=%s = exit %d %s, want 0", env["IMCTL_SENTINEL"], r.Code, r.Err)
	}
	r := imctl(t, invocation{Args: []string{"status", "--sentinel", "127.0.0.1:2", "--timeout", "1s"}, Env: env})
	if r.Code != exitUnreachable || !strings.Contains(r.Err, "http://127.0.0.1:2") || strings.Contains(r.Err, api.URL()) {
		t.Errorf("--sentinel with IMCTL_SENTINEL set = exit %d %s, want only the flag's address tried", r.Code, r.Err)
	}
}

func TestNoSentinelReachable(t *testing.T) {
	r := imctl(t, invocation{Args: []string{"status", "--sentinel", "127.0.0.1:1", "--sentinel", "127.0.0.1:2", "--timeout", "1s"}})
	wantLines(t, "stderr", r.Err,
		"imctl: no sentinel reachable:\n  http://127.0.0.1:1: ",
		"\n  http://127.0.0.1:2: ",
		"connection refused",
		"--sentinel (or IMCTL_SENTINEL) names its admin.listen address")
	if r.Code != exitUnreachable {
		t.Errorf("exit = %d, want %d", r.Code, exitUnreachable)
	}
}
