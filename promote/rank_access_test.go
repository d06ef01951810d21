package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// Ranking never chooses a candidate this sentinel cannot administer
// (docs/grants.md, issue 6 point 6): a promotion on a node that refuses
// the admin login, or lacks RELOAD (RESET SLAVE ALL) or READ_ONLY ADMIN
// (read_only=OFF), fails part-way with the old primary already fenced. A
// node that lacks grants still has data: like priority 0, what it received
// must be kept, so no other replica is chosen when it is ahead.
func TestRankMySQLNeverChoosesWhatItCannotAdminister(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	refused := mariaReplica(mR1, "0-1-100", "0-1-100", "", now)
	// What the prober reports for a refused login: alive, no facts.
	refused.Observation.MySQL, refused.Observation.Role, refused.Observation.Primary = nil, probe.RoleUnknown, ""
	refused.Observation.Access = &probe.Access{CheckedAt: now, Accounts: []probe.AccountAccess{{Purpose: probe.PurposeAdmin,
		User: "imsentinel", Refused: "Error 1045 (28000): Access denied for user 'imsentinel'@'127.0.0.1' (using password: YES)"}}}
	lacking := func(c Candidate) Candidate {
		c.Observation.Access = &probe.Access{CheckedAt: now, Accounts: []probe.AccountAccess{{Purpose: probe.PurposeAdmin,
			User: "imsentinel", Missing: []probe.MissingPrivilege{{Privilege: "RELOAD", For: "RESET SLAVE ALL"}}}}}
		return c
	}
	replOnly := func(c Candidate) Candidate { // only the replication user is refused: still administrable
		c.Observation.Access = &probe.Access{CheckedAt: now, Accounts: []probe.AccountAccess{
			{Purpose: probe.PurposeAdmin, User: "imsentinel"},
			{Purpose: probe.PurposeReplication, User: "repl", Refused: "Error 1045"}}}
		return c
	}
	for _, tc := range []struct {
		name      string
		cands     []Candidate
		chosen    string
		excluded  string // the address excluded as no-access
		reasonHas string
	}{
		{"refused admin login", []Candidate{refused, mariaReplica(mR2, "0-1-90", "0-1-90", "", now)},
			mR2, mR1, "refuses the admin user 'imsentinel': Error 1045"},
		{"missing grant, behind", []Candidate{lacking(mariaReplica(mR1, "0-1-80", "0-1-80", "", now)), mariaReplica(mR2, "0-1-90", "0-1-90", "", now)},
			mR2, mR1, "lacks RELOAD"},
		{"missing grant, ahead: its data is kept, nobody chosen", []Candidate{lacking(mariaReplica(mR1, "0-1-100", "0-1-100", "", now)),
			mariaReplica(mR2, "0-1-90", "0-1-90", "", now)}, "", mR1, "lacks RELOAD"},
		{"only the replication user refused: still a candidate", []Candidate{replOnly(mariaReplica(mR1, "0-1-100", "0-1-100", "", now)),
			mariaReplica(mR2, "0-1-90", "0-1-90", "", now)}, mR1, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := RankMySQL(MySQLRankInput{Cluster: "msg-01", OldPrimary: mOld, Candidates: tc.cands}, now)
			if r.Chosen != tc.chosen {
				t.Errorf("chosen %q (%s), want %q; verdicts:\n%s", r.Chosen, r.Why, tc.chosen, r)
			}
			for _, v := range r.Verdicts {
				switch {
				case v.Address == tc.excluded && (v.Exclusion != ExcludedNoAccess || !strings.Contains(v.Reason, tc.reasonHas)):
					t.Errorf("%s: exclusion %s %q, want no-access mentioning %q", v.Address, v.Exclusion, v.Reason, tc.reasonHas)
				case v.Address != tc.excluded && v.Exclusion == ExcludedNoAccess:
					t.Errorf("%s excluded as no-access: %q", v.Address, v.Reason)
				}
			}
		})
	}
}
