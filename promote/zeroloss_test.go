package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

func semiSyncPrimary(f probe.Flavor, mod func(*probe.SemiSync)) *probe.MySQLFacts {
	s := probe.SemiSync{Loaded: true, PrimaryEnabled: true, WaitPoint: "AFTER_SYNC", WaitNoReplica: true,
		Timeout: 24 * time.Hour, PrimaryActive: true, Clients: 2}
	if mod != nil {
		mod(&s)
	}
	return &probe.MySQLFacts{Flavor: f, SemiSync: s}
}

// DESIGN.md §6.8: "zero acknowledged writes lost" is claimed only when
// §6.2 holds.
func TestZeroLossClaim(t *testing.T) {
	tests := []struct {
		name     string
		kind     probe.Kind
		primary  *probe.MySQLFacts
		replicas int
		want     bool
		why      string
	}{
		{"semi-sync as §6.2 wants", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, nil), 2, true, "AFTER_SYNC"},
		{"redis never", probe.KindRedis, nil, 2, false, "asynchronous"},
		{"never probed", probe.KindMySQL, nil, 2, false, "not known"},
		{"asynchronous", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, func(s *probe.SemiSync) { s.PrimaryEnabled = false }), 2,
			false, "semi-sync is off"},
		{"short timeout", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, func(s *probe.SemiSync) { s.Timeout = 10 * time.Second }), 2,
			false, "timeout 10s"},
		{"AFTER_COMMIT", probe.KindMySQL, semiSyncPrimary(probe.FlavorMySQL, func(s *probe.SemiSync) { s.WaitPoint = "AFTER_COMMIT" }), 2,
			false, "AFTER_SYNC"},
		{"relaxed: wait_no_slave off", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, func(s *probe.SemiSync) { s.WaitNoReplica = false }), 2,
			false, "wait_no_slave OFF"},
		{"fell back to async", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, func(s *probe.SemiSync) { s.PrimaryActive = false; s.NoTx = 3 }), 2,
			false, "not active"},
		{"a replica not registered", probe.KindMySQL, semiSyncPrimary(probe.FlavorMariaDB, nil), 3, false, "2 semi-sync replicas registered, 3 replicate"},
	}
	for _, tt := range tests {
		c := ZeroLossClaim(tt.kind, tt.primary, tt.replicas)
		if c.Claimed != tt.want || !strings.Contains(c.Why, tt.why) {
			t.Errorf("%s: got %+v; want claimed %t and why containing %q", tt.name, c, tt.want, tt.why)
		}
	}
}

// DESIGN.md §6.8: a failover claims zero loss only when the claim held and
// every replica that could have acknowledged was reached; otherwise the
// journal says what may be lost.
func TestEstimateLoss(t *testing.T) {
	seen := time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC)
	good := Claim{Claimed: true, Why: "semi-sync AFTER_SYNC"}
	bad := Claim{Why: "semi-sync falls short of DESIGN.md §6.2: timeout 10s"}
	maria := func(pos string) *probe.MySQLFacts {
		return &probe.MySQLFacts{Flavor: probe.FlavorMariaDB, GTIDBinlogPos: pos}
	}
	mysql := func(set string) *probe.MySQLFacts {
		return &probe.MySQLFacts{Flavor: probe.FlavorMySQL, GTIDExecuted: set}
	}
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		name    string
		in      LossInput
		zero    bool
		missing string
		count   uint64
		why     []string
	}{
		{"claim held, all reached, nothing missing",
			LossInput{Claim: good, Old: maria("0-1-100"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-100"},
			true, "", 0, []string{"zero acknowledged writes lost", "every replica was reached"}},
		{"claim held, in-flight commits named as never acknowledged",
			LossInput{Claim: good, Old: maria("0-1-103"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-100"},
			true, "domain 0 seqs 101-103 (last from server 1)", 3, []string{"never acknowledged"}},
		{"claim held but a replica unreachable",
			LossInput{Claim: good, AtRisk: []string{"10.0.0.3:3306"}, Old: maria("0-1-100"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-100"},
			false, "", 0, []string{"10.0.0.3:3306 could not be reached", "has everything the old primary had"}},
		{"no claim: known missing and maybe more",
			LossInput{Claim: bad, Old: maria("0-1-120"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-100"},
			false, "domain 0 seqs 101-120 (last from server 1)", 20, []string{"no zero-loss claim: semi-sync falls short", "20 transactions", "2026-12-06T01:02:03Z", "may have acknowledged more"}},
		{"no claim, MySQL sets",
			LossInput{Claim: bad, Old: mysql(u + ":1-57"), OldSeen: seen, Flavor: probe.FlavorMySQL, Applied: u + ":1-50"},
			false, u + ":51-57", 7, []string{"7 transactions"}},
		{"claim held but the operator chose a replica that lacks what another received",
			LossInput{Claim: good, Old: maria("0-1-100"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-98",
				Lacks: "10.0.0.3:3306's domain 0 seqs 99-100 (last from server 1)"},
			false, "domain 0 seqs 99-100 (last from server 1)", 2, []string{"the operator's choice lacks", "10.0.0.3:3306's"}},
		{"claim held but a stopped replica could not be read again",
			LossInput{Claim: good, Unverified: []string{"10.0.0.3:3306"}, Old: maria("0-1-100"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-100"},
			false, "", 0, []string{"10.0.0.3:3306 could not be read"}},
		{"old primary never probed",
			LossInput{Claim: Claim{Why: "the primary's replication settings are not known yet"}, Flavor: probe.FlavorMariaDB, Applied: "0-1-1"},
			false, "", 0, []string{"never probed"}},
		{"unparsable position",
			LossInput{Claim: bad, Old: maria("garbage"), OldSeen: seen, Flavor: probe.FlavorMariaDB, Applied: "0-1-1"},
			false, "", 0, []string{"cannot be compared"}},
	}
	for _, tt := range tests {
		e := EstimateLoss(tt.in)
		if e.ZeroLoss != tt.zero || e.Missing != tt.missing || e.MissingCount != tt.count {
			t.Errorf("%s: got zero %t missing %q (%d); want %t %q (%d); why %q", tt.name, e.ZeroLoss, e.Missing, e.MissingCount,
				tt.zero, tt.missing, tt.count, e.Why)
		}
		for _, w := range tt.why {
			if !strings.Contains(e.Why, w) {
				t.Errorf("%s: why %q lacks %q", tt.name, e.Why, w)
			}
		}
	}
}
