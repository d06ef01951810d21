package quorum

import (
	"strings"
	"testing"
	"time"
)

func heard(from MemberID, sdown bool, ago time.Duration) Heard {
	return Heard{Opinion: Opinion{From: from, Cluster: "c", ConfigEpoch: 3, Primary: "p:1", SDOWN: sdown}, At: t0.Add(-ago)}
}

func TestCountODOWN(t *testing.T) {
	v := mustVoters(t, "f", "s1", "s2", "s3", "s4", "s5")
	base := TallyInput{Voters: v, Cluster: "c", ConfigEpoch: 3, Primary: "p:1", Quorum: 3, TTL: 3 * time.Second}
	other := heard("s4", true, 0)
	other.ConfigEpoch = 2
	tests := []struct {
		name     string
		opinions []Heard
		cooldown []MemberID // alive members in a cooldown; nil = no cooldown
		odown    bool
		describe []string
	}{
		{"quorum of fresh SDOWN", []Heard{heard("s1", true, 0), heard("s2", true, time.Second), heard("s3", true, 2*time.Second)},
			nil, true, []string{"ODOWN: 3 of quorum 3", "s1 sdown", "s4 not heard"}},
		{"one short", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s3", false, 0)},
			nil, false, []string{"not ODOWN: 2 of quorum 3", "s3 says up"}},
		{"a stale opinion does not count", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s3", true, 3*time.Second+time.Millisecond)},
			nil, false, []string{"s3 stale (3.001s old > 3s)"}},
		{"an opinion about another config does not count (§5.3)", []Heard{heard("s1", true, 0), heard("s2", true, 0), other},
			nil, false, []string{"s4 other config (epoch 2, primary p:1)"}},
		{"a non-voter does not count", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s9", true, 0)},
			nil, false, []string{"s9 not a voter"}},
		{"the latest opinion of a member wins", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s3", true, 2*time.Second), heard("s3", false, time.Second)},
			nil, false, []string{"s3 says up"}},
		{"cooldown needs every live sentinel (§5.10)", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s3", true, 0)},
			[]MemberID{"s1", "s2", "s3", "s4"}, false, []string{"still missing [s4]"}},
		{"cooldown met", []Heard{heard("s1", true, 0), heard("s2", true, 0), heard("s3", true, 0)},
			[]MemberID{"s1", "s2", "s3"}, true, []string{"ODOWN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			in.Opinions = tt.opinions
			if tt.cooldown != nil {
				in.Cooldown, in.Alive = true, tt.cooldown
			}
			got := CountODOWN(in, t0)
			if got.ODOWN != tt.odown {
				t.Errorf("ODOWN = %v, want %v: %s", got.ODOWN, tt.odown, got.Describe())
			}
			for _, w := range tt.describe {
				if !strings.Contains(got.Describe(), w) {
					t.Errorf("Describe() = %q, lacks %q", got.Describe(), w)
				}
			}
		})
	}
}

func TestCheckVantage(t *testing.T) {
	hb := time.Second
	tests := []struct {
		links   []ReplicaLink
		blocked bool
		why     string
	}{
		{nil, false, "no replicas"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: true, LastIO: 2 * time.Second}}, true, "r1 sees the primary"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: true, LastIO: 4 * time.Second}}, false, "r1 last I/O 4s ago ≥ 3s"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: true, LastIO: 3 * time.Second}}, false, "r1 last I/O 3s ago ≥ 3s"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: false}, {Replica: "r2", Reachable: false, LinkUp: true}}, false, "r1 link down; r2 unreachable"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: true, LastIO: -1}}, false, "last I/O unknown"},
		{[]ReplicaLink{{Replica: "r1", Reachable: true, LinkUp: false}, {Replica: "r2", Reachable: true, LinkUp: true}}, true, "r2 sees the primary"},
	}
	for _, tt := range tests {
		v := CheckVantage(tt.links, hb, 3)
		if v.Blocked != tt.blocked || !strings.Contains(v.Why, tt.why) {
			t.Errorf("CheckVantage(%+v) = %+v, want blocked=%v with %q", tt.links, v, tt.blocked, tt.why)
		}
	}
}
