package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/sentinel"
)

func instanceAPI(t *testing.T) *fakeAPI {
	t.Helper()
	api := newFakeAPI(t)
	api.Token = "t0ken"
	api.Clusters = []clusterView{sampleCluster()}
	api.Instance = sentinel.InstanceOutcome{Primary: "10.0.0.1:6379", Epoch: 9, Changed: true,
		Detail: "10.0.0.3:6379 has nothing the primary 10.0.0.1:6379 lacks"}
	return api
}

func TestInstanceRejoinConfirmedAndDone(t *testing.T) {
	api := instanceAPI(t)
	r := imctl(t, invocation{Args: api.args("instance", "rejoin", "sessions-01", "10.0.0.3:6379"), Stdin: "yes\n", Env: tokenEnv})
	if r.Code != exitOK {
		t.Fatalf("instance rejoin = exit %d: %s", r.Code, r.Err)
	}
	wantLines(t, "instance rejoin", r.Err, `Rejoin 10.0.0.3:6379 to the primary of sessions-01 (fence it, then repoint it by GTID)? Type "yes" to go on: yes`)
	wantLines(t, "instance rejoin", r.Out,
		"sessions-01 10.0.0.3:6379: rejoined as a replica of 10.0.0.1:6379 at epoch 9: 10.0.0.3:6379 has nothing the primary 10.0.0.1:6379 lacks\n")
	reqs := api.requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/clusters/sessions-01/instances/10.0.0.3:6379/rejoin" ||
		reqs[0].Body != "" || reqs[0].Auth != "Bearer t0ken" {
		t.Errorf("instance rejoin sent %+v, want one POST .../instances/10.0.0.3:6379/rejoin with no body and the token", reqs)
	}
}

func TestInstanceNotConfirmedSendsNothing(t *testing.T) {
	api := instanceAPI(t)
	for _, stdin := range []string{"no\n", ""} {
		r := imctl(t, invocation{Args: api.args("instance", "fence", "sessions-01", "10.0.0.3:6379"), Stdin: stdin, Env: tokenEnv})
		if r.Code != exitFailed || !strings.Contains(r.Err, "fence of 10.0.0.3:6379 in sessions-01 not confirmed") {
			t.Errorf("instance fence answered %q: exit %d, stderr %q; want 1 and not confirmed", stdin, r.Code, r.Err)
		}
	}
	if reqs := api.requests(); len(reqs) != 0 {
		t.Errorf("an unconfirmed fence sent %+v, want nothing", reqs)
	}
}

func TestInstanceFenceForceAndWarning(t *testing.T) {
	api := instanceAPI(t)
	api.Instance.Warning = "10.0.0.1:6379 is the committed primary: the cluster takes no writes until `imctl instance unfence`"
	api.Instance.Killed = 3
	api.Instance.Detail = "10.0.0.1:6379 is set read-only and its application sessions are killed"
	r := imctl(t, invocation{Args: api.args("instance", "fence", "sessions-01", "10.0.0.1:6379", "--force", "--yes"), Env: tokenEnv})
	if r.Code != exitOK {
		t.Fatalf("instance fence --force = exit %d: %s", r.Code, r.Err)
	}
	wantLines(t, "instance fence --force", r.Out,
		"WARNING: 10.0.0.1:6379 is the committed primary: the cluster takes no writes until `imctl instance unfence`\n",
		"sessions-01 10.0.0.1:6379: fenced at epoch 9: 10.0.0.1:6379 is set read-only and its application sessions are killed (3 application sessions killed)\n")
	if reqs := api.requests(); len(reqs) != 1 || reqs[0].Body != `{"force":true}` {
		t.Errorf("instance fence --force sent %+v, want one POST with force", reqs)
	}
	if r.Err != "" {
		t.Errorf("--yes asked anyway: %q", r.Err)
	}
	// --force is fence's alone.
	r = imctl(t, invocation{Args: api.args("instance", "unfence", "sessions-01", "10.0.0.1:6379", "--force", "--yes"), Env: tokenEnv})
	if r.Code != exitUsage || !strings.Contains(r.Err, "force") {
		t.Errorf("instance unfence --force: exit %d, stderr %q; want 2 (unknown flag)", r.Code, r.Err)
	}
}

func TestInstanceNothingToDoAndJSON(t *testing.T) {
	api := instanceAPI(t)
	api.Instance = sentinel.InstanceOutcome{Primary: "10.0.0.1:6379", Detail: "10.0.0.2:6379 already replicates from the primary 10.0.0.1:6379, both threads running: nothing to do"}
	r := imctl(t, invocation{Args: api.args("instance", "rejoin", "sessions-01", "10.0.0.2:6379", "-y"), Env: tokenEnv})
	if r.Code != exitOK {
		t.Fatalf("instance rejoin of a replica = exit %d: %s", r.Code, r.Err)
	}
	wantLines(t, "instance rejoin (nothing to do)", r.Out, "sessions-01 10.0.0.2:6379: nothing to do: 10.0.0.2:6379 already replicates")

	r = imctl(t, invocation{Args: api.args("instance", "unfence", "sessions-01", "10.0.0.1:6379", "-y", "-o", "json"), Env: tokenEnv})
	var got sentinel.InstanceOutcome
	if r.Code != exitOK || json.Unmarshal([]byte(r.Out), &got) != nil || got.Action != "unfence" || got.Instance != "10.0.0.1:6379" {
		t.Errorf("instance unfence -o json: exit %d, %q; want the sentinel's JSON answer", r.Code, r.Out)
	}
}

func TestInstanceRefusedAndUnknown(t *testing.T) {
	api := instanceAPI(t)
	api.Refuse = "10.0.0.3:6379 has transactions the primary 10.0.0.1:6379 lacks (domain 0 seqs 101-103 (last from server 1))"
	r := imctl(t, invocation{Args: api.args("instance", "rejoin", "sessions-01", "10.0.0.3:6379", "--yes"), Env: tokenEnv})
	if r.Code != exitFailed || !strings.Contains(r.Err, "rejoin of 10.0.0.3:6379 in sessions-01 refused by "+api.URL()+": "+api.Refuse) {
		t.Errorf("refused rejoin: exit %d, stderr %q; want 1 and the sentinel's reason", r.Code, r.Err)
	}
	api.Refuse = ""
	r = imctl(t, invocation{Args: api.args("instance", "fence", "sessions-01", "10.9.9.9:1", "--yes"), Env: tokenEnv})
	if r.Code != exitFailed || !strings.Contains(r.Err, "not an instance of cluster sessions-01") ||
		!strings.Contains(r.Err, "`imctl cluster show sessions-01` lists the instances") {
		t.Errorf("fence of an unknown instance: exit %d, stderr %q; want 1 naming it and how to list them", r.Code, r.Err)
	}
	r = imctl(t, invocation{Args: api.args("instance", "fence", "nope", "10.0.0.1:6379", "--yes"), Env: tokenEnv})
	if r.Code != exitFailed || !strings.Contains(r.Err, "no cluster named nope") {
		t.Errorf("fence in an unknown cluster: exit %d, stderr %q; want 1 and no cluster named nope", r.Code, r.Err)
	}
	r = imctl(t, invocation{Args: api.args("instance", "fence", "sessions-01"), Env: tokenEnv})
	if r.Code != exitUsage || !strings.Contains(r.Err, "takes CLUSTER INSTANCE") {
		t.Errorf("fence with one argument: exit %d, stderr %q; want 2 and the usage", r.Code, r.Err)
	}
}
