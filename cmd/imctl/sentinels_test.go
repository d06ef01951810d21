package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func sampleFleet() fleetAnswer {
	return fleetAnswer{Sentinel: "s1", Fleet: "im-prod", Fingerprint: "9f2c01",
		Members: []fleetMember{
			{ID: "s1", Address: "10.0.0.1:7946", Self: true, Alive: true, Fingerprint: "9f2c01", Compatible: ptrTo(true)},
			{ID: "s2", Address: "10.0.0.2:7946", Alive: true, Fingerprint: "77aa00", Compatible: ptrTo(false), Why: "differ by 2 members"},
			{ID: "s3", Address: "10.0.0.3:7946"},
		},
		Conflicts: []string{"s3 seen at 10.0.0.3:7946 and 10.0.0.4:7946"},
		Clusters: []fleetCluster{
			{Name: "sessions-01", State: "ok", Epoch: 12, Holder: "s2", HolderReason: "steward"},
			{Name: "msg-01", State: "tilt", Tilt: true, Epoch: 3},
		},
	}
}

func TestSentinels(t *testing.T) {
	api := newFakeAPI(t)
	api.Fleet = sampleFleet()
	r := imctl(t, invocation{Args: api.args("sentinels")})
	want := strings.ReplaceAll(`fleet im-prod, config fingerprint 9f2c01, as seen by s1 (URL)

SENTINEL  ADDRESS        ALIVE  SELF  VOTER SET
s1        10.0.0.1:7946  yes    *     agrees (9f2c01)
s2        10.0.0.2:7946  yes          DIFFERS: differ by 2 members
s3        10.0.0.3:7946  no           not heard yet

CLUSTER      STATE  TILT  EPOCH  LEASE HOLDER
sessions-01  ok     no    12     s2 (steward)
msg-01       tilt   yes   3      -
CONFLICT: s3 seen at 10.0.0.3:7946 and 10.0.0.4:7946
`, "URL", api.URL())
	if r.Code != exitOK || r.Out != want {
		t.Errorf("imctl sentinels = exit %d\n%s\nwant:\n%s", r.Code, r.Out, want)
	}

	r = imctl(t, invocation{Args: api.args("sentinels", "-o", "json")})
	var got fleetAnswer
	if err := json.Unmarshal([]byte(r.Out), &got); err != nil || len(got.Members) != 3 || got.Fingerprint != "9f2c01" {
		t.Errorf("imctl sentinels -o json = %s (%v), want the API's answer", r.Out, err)
	}
}

func ptrTo[T any](v T) *T { return &v }
