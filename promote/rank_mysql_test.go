package promote

import (
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

const (
	mOld  = "10.0.2.1:3306"
	mR1   = "10.0.2.2:3306"
	mR2   = "10.0.2.3:3306"
	mR3   = "10.0.2.4:3306"
	uuid1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uuid9 = "99999999-71ca-11e1-9e33-c80aa9429562"
)

// mariaReplica builds a MariaDB replica of mOld: current is
// gtid_current_pos, io the channel's Gtid_IO_Pos, state gtid_binlog_state.
func mariaReplica(addr, current, io, state string, now time.Time) Candidate {
	if state == "" {
		state = current
	}
	return Candidate{Address: addr, Observation: probe.Observation{Instance: addr, At: now, Reachable: true, Role: probe.RoleReplica,
		Primary: mOld, MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMariaDB, GTIDCurrentPos: current, GTIDBinlogState: state,
			Channels: []probe.Channel{{Source: mOld, IO: probe.IORunning, SQLRunning: true, UsingGTID: true, GTIDIOPos: io}}}}}
}

func mysqlReplica(addr, executed, retrieved string, now time.Time) Candidate {
	return Candidate{Address: addr, Observation: probe.Observation{Instance: addr, At: now, Reachable: true, Role: probe.RoleReplica,
		Primary: mOld, MySQL: &probe.MySQLFacts{Flavor: probe.FlavorMySQL, GTIDExecuted: executed,
			Channels: []probe.Channel{{Source: mOld, IO: probe.IORunning, SQLRunning: true, UsingGTID: true,
				RetrievedGTIDSet: retrieved, ExecutedGTIDSet: executed}}}}}
}

func TestRankMySQL(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	zero := 0
	ten := 10
	withPriority := func(c Candidate, p *int) Candidate { c.Priority = p; return c }
	down := mariaReplica(mR3, "0-1-200", "0-1-200", "", now)
	down.Observation.Reachable, down.Observation.Error = false, "connection refused"
	broken := mariaReplica(mR2, "0-1-100", "0-1-100", "", now)
	broken.Observation.MySQL.Channels[0].SQLRunning = false
	broken.Observation.MySQL.Channels[0].LastSQLErrno, broken.Observation.MySQL.Channels[0].LastSQLError = 1062, "Duplicate entry"

	for _, tc := range []struct {
		name   string
		in     MySQLRankInput
		chosen string
		why    string // a substring of Why
	}{
		{"the one that applied most", MySQLRankInput{Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100", "0-1-100", "", now), mariaReplica(mR2, "0-1-90", "0-1-90", "", now)}},
			mR1, "received every transaction"},
		{"received counts, not only applied", MySQLRankInput{Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100", "0-1-100", "", now), mariaReplica(mR2, "0-1-90", "0-1-105", "", now)}},
			mR2, ""},
		{"errant excluded, ahead is not errant", MySQLRankInput{PrimaryServerIDs: []uint32{1}, Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100", "0-1-100", "0-1-100,0-9-5", now), mariaReplica(mR2, "0-1-90", "0-1-95", "", now)}},
			mR2, ""},
		{"no replica has it all: none, and why", MySQLRankInput{Cluster: "msg-01", Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100,1-1-5", "0-1-100,1-1-5", "", now), mariaReplica(mR2, "0-1-110", "0-1-110", "", now)}},
			"", "lacks"},
		{"priority 0 excluded, but its data must be kept", MySQLRankInput{Candidates: []Candidate{
			withPriority(mariaReplica(mR1, "0-1-100", "0-1-100", "", now), &zero), mariaReplica(mR2, "0-1-90", "0-1-90", "", now)}},
			"", "priority 0"},
		{"ties broken by priority", MySQLRankInput{Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100", "0-1-100", "", now), withPriority(mariaReplica(mR2, "0-1-100", "0-1-100", "", now), &ten)}},
			mR2, "2 candidates"},
		{"unreachable excluded and not counted", MySQLRankInput{Candidates: []Candidate{
			mariaReplica(mR1, "0-1-100", "0-1-100", "", now), down}},
			mR1, ""},
		{"SQL thread broken past the bound", MySQLRankInput{MaxBroken: time.Minute, BrokenFor: map[string]time.Duration{mR2: 2 * time.Minute},
			Candidates: []Candidate{mariaReplica(mR1, "0-1-100", "0-1-100", "", now), broken}},
			mR1, ""},
		{"MySQL: executed plus retrieved", MySQLRankInput{PrimaryUUIDs: []string{uuid1}, Candidates: []Candidate{
			mysqlReplica(mR1, uuid1+":1-100", "", now), mysqlReplica(mR2, uuid1+":1-90", uuid1+":1-110", now)}},
			mR2, ""},
		{"MySQL: errant by source UUID", MySQLRankInput{PrimaryUUIDs: []string{uuid1}, Candidates: []Candidate{
			mysqlReplica(mR1, uuid1+":1-100,"+uuid9+":1-3", "", now), mysqlReplica(mR2, uuid1+":1-90", "", now)}},
			mR2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.OldPrimary = mOld
			if tc.in.Cluster == "" {
				tc.in.Cluster = "msg-01"
			}
			r := RankMySQL(tc.in, now)
			if r.Chosen != tc.chosen || !strings.Contains(r.Why, tc.why) {
				t.Errorf("chosen %q (%s), want %q mentioning %q; verdicts:\n%s", r.Chosen, r.Why, tc.chosen, tc.why, r)
			}
			if len(r.Verdicts) != len(tc.in.Candidates) {
				t.Errorf("%d verdicts for %d candidates", len(r.Verdicts), len(tc.in.Candidates))
			}
			for _, v := range r.Verdicts {
				if v.Reason == "" {
					t.Errorf("%s has no reason", v.Address)
				}
			}
		})
	}
}

func TestRankMySQLReasons(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := RankMySQL(MySQLRankInput{Cluster: "msg-01", OldPrimary: mOld, PrimaryServerIDs: []uint32{1}, Candidates: []Candidate{
		mariaReplica(mR1, "0-1-100", "0-1-100", "0-1-100,0-9-5", now),
		mariaReplica(mR2, "0-1-90", "0-1-90", "", now),
		mariaReplica(mR3, "0-1-95", "0-1-95", "", now)}}, now)
	want := map[string]string{
		mR1: "excluded: errant transactions 0-9-5",
		mR2: "lacks " + mR3 + "'s",
		mR3: "candidate #1",
	}
	for _, v := range r.Verdicts {
		if !strings.Contains(v.Reason, want[v.Address]) {
			t.Errorf("%s: %q, want it to contain %q", v.Address, v.Reason, want[v.Address])
		}
	}
	if r.Chosen != mR3 {
		t.Errorf("chosen %s, want %s", r.Chosen, mR3)
	}
}
