package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/sentinel"
)

func fakeSentinel(t *testing.T, resp sentinel.ClustersResponse) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/clusters" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": "no such endpoint"})
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func observed(role probe.Role) *probe.Observation {
	return &probe.Observation{Reachable: true, Role: role}
}

func TestStatusTable(t *testing.T) {
	srv := fakeSentinel(t, sentinel.ClustersResponse{Sentinel: "s1", Clusters: []sentinel.ClusterView{{
		Name: "sessions", Kind: "redis", State: sentinel.StateOK, Primary: "10.0.0.1:6379",
		Instances: []sentinel.InstanceView{
			{Address: "10.0.0.1:6379", Observation: observed(probe.RolePrimary)},
			{Address: "10.0.0.2:6379", SDOWN: true},
			{Address: "10.0.0.3:6379", Observation: observed(probe.RoleReplica)},
			{Address: "10.0.0.4:6379"},
		},
		Conditions: []sentinel.Condition{{Name: "InstanceOfAnotherCluster", Severity: "warning", Detail: "x reports y"}},
	}}})
	var out bytes.Buffer
	// The first sentinel is down: status falls through to the next.
	o := &statusOptions{apiOptions: apiOptions{Sentinels: []string{"127.0.0.1:1", srv.URL}, Output: "table",
		Timeout: 5 * time.Second}, Out: &out}
	if err := runStatus(context.Background(), o); err != nil {
		t.Fatalf("runStatus: %v", err)
	}
	want := []string{
		"CLUSTER   KIND   STATE  PRIMARY                  REPLICAS",
		"sessions  redis  ok     10.0.0.1:6379 (primary)  10.0.0.2:6379 (SDOWN), 10.0.0.3:6379 (replica), 10.0.0.4:6379 (no answer yet)  0",
		"sessions: WARNING InstanceOfAnotherCluster: x reports y",
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("status output lacks %q\ngot:\n%s", w, out.String())
		}
	}
}

func TestStatusJSON(t *testing.T) {
	srv := fakeSentinel(t, sentinel.ClustersResponse{Sentinel: "s1", Clusters: []sentinel.ClusterView{{Name: "c"}}})
	var out bytes.Buffer
	o := &statusOptions{apiOptions: apiOptions{Sentinels: []string{srv.URL}, Output: "json", Timeout: time.Second}, Out: &out}
	if err := runStatus(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	var got sentinel.ClustersResponse
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Sentinel != "s1" || got.Clusters[0].Name != "c" {
		t.Errorf("-o json = %s (%v), want the API answer", out.String(), err)
	}
}

func TestStatusErrors(t *testing.T) {
	o := &statusOptions{apiOptions: apiOptions{Sentinels: []string{"127.0.0.1:1", "127.0.0.1:2"}, Output: "table",
		Timeout: time.Second}, Out: &bytes.Buffer{}}
	err := runStatus(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no sentinel reachable; tried http://127.0.0.1:1") ||
		!strings.Contains(err.Error(), "http://127.0.0.1:2") || !strings.Contains(err.Error(), "IMCTL_SENTINEL") {
		t.Errorf("no sentinel up: %v, want an error naming both and what to do", err)
	}
	o.Output = "yaml"
	if err := runStatus(context.Background(), o); err == nil || !strings.Contains(err.Error(), "want table or json") {
		t.Errorf("-o yaml: %v, want a usage error", err)
	}
}

// Exit codes through the command tree: 0 success, 1 failure, 2 usage.
func TestExitCodes(t *testing.T) {
	srv := fakeSentinel(t, sentinel.ClustersResponse{})
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"version"}, exitOK},
		{[]string{"status", "--sentinel", srv.URL}, exitOK},
		{[]string{"status", "--sentinel", "127.0.0.1:1", "--timeout", "1s"}, exitFailed},
		{[]string{"status", "--bogus"}, exitUsage},
		{[]string{"status", "-o", "xml", "--sentinel", srv.URL}, exitUsage},
		{[]string{"config", "check"}, exitUsage},
		{[]string{"bogus"}, exitUsage},
		{[]string{"config", "bogus"}, exitUsage},
		{[]string{"status", "extra"}, exitUsage},
		{[]string{}, exitOK},
		{[]string{"config", "check", "/nonexistent.yaml"}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		if got := run(c.args, &out, &errOut); got != c.want {
			t.Errorf("imctl %v = exit %d, want %d (stderr %q)", c.args, got, c.want, errOut.String())
		}
	}
}
