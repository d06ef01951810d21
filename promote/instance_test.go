package promote

import (
	"slices"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/gtid"
)

// mariadb builds MariaDB facts with a binlog state and, when source is
// set, a default channel replicating from it.
func mariadb(state string, readOnly bool, source string, io probe.IOThread, sql bool) *probe.MySQLFacts {
	f := &probe.MySQLFacts{Flavor: probe.FlavorMariaDB, GTIDBinlogState: state, ReadOnly: readOnly}
	if st, err := gtid.ParseState(state); err == nil {
		f.GTIDBinlogPos = st.Pos().String() // a primary wrote it
	}
	if source != "" {
		f.Channels = []probe.Channel{{Source: source, IO: io, SQLRunning: sql}}
		f.GTIDSlavePos = f.GTIDBinlogPos // a replica applied it
	}
	return f
}

func TestDecideInstance(t *testing.T) {
	primary := mariadb("0-1-100,0-2-120", false, "", 0, false)
	for _, tc := range []struct {
		name string
		in   InstanceInput
		// want is "allowed", "done" or "refused"; why, errant and binlog
		// are substrings and values the answer must carry.
		want   string
		why    string
		demote bool
		errant string
		binlog []string
	}{
		{name: "rejoin: a clean returning primary is demoted",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", Node: mariadb("0-1-100", true, "", 0, false), PrimaryFacts: primary},
			want: "allowed", why: "nothing the primary new lacks", demote: true},
		{name: "rejoin: a returning primary with a leftover stopped channel is demoted all the same",
			in: InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new",
				Node: func() *probe.MySQLFacts {
					f := mariadb("0-1-100", true, "older:3306", probe.IOStopped, false)
					f.GTIDSlavePos = "0-1-40" // it replicated once, then wrote as a primary
					return f
				}(), PrimaryFacts: primary},
			want: "allowed", why: "MASTER_DEMOTE_TO_SLAVE", demote: true},
		{name: "rejoin: a replica of another node is repointed, not demoted",
			in: InstanceInput{Action: ActionRejoin, Instance: "r", Primary: "new",
				Node: mariadb("0-1-100", true, "other:3306", probe.IORunning, true), PrimaryFacts: primary},
			want: "allowed", why: "repointed by GTID"},
		// DESIGN.md §6.6: errant → stays read-only, the GTIDs named.
		{name: "rejoin: errant transactions are refused and named for mariadb-binlog",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", Node: mariadb("0-1-103", true, "", 0, false), PrimaryFacts: primary},
			want: "refused", why: "lacks (domain 0 seqs 101-103 (last from server 1))", errant: "domain 0 seqs 101-103 (last from server 1)",
			binlog: []string{"--start-position=0-1-100 --stop-position=0-1-103"}},
		{name: "rejoin: errant from the start of a domain has no start position",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", Node: mariadb("0-1-100,5-1-2", true, "", 0, false), PrimaryFacts: primary},
			want: "refused", errant: "domain 5 seqs 1-2 (last from server 1)", binlog: []string{"--stop-position=5-1-2"}},
		{name: "rejoin: the primary itself",
			in:   InstanceInput{Action: ActionRejoin, Instance: "new", Primary: "new", Node: primary, PrimaryFacts: primary},
			want: "refused", why: "is the committed primary"},
		{name: "rejoin: already replicating from the primary",
			in: InstanceInput{Action: ActionRejoin, Instance: "r", Primary: "new", AddressMap: map[string]string{"10.0.0.2:3306": "new"},
				Node: mariadb("0-1-100", true, "10.0.0.2:3306", probe.IORunning, true)},
			want: "done", why: "already replicates from the primary new"},
		{name: "rejoin: a replica of the primary whose IO thread failed is repointed",
			in: InstanceInput{Action: ActionRejoin, Instance: "r", Primary: "new",
				Node: mariadb("0-1-100", true, "new", probe.IOConnecting, true), PrimaryFacts: primary},
			want: "allowed"},
		{name: "rejoin: the node does not answer",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", NodeErr: "connection refused", PrimaryFacts: primary},
			want: "refused", why: "old does not answer (connection refused)"},
		{name: "rejoin: the primary does not answer",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", Node: mariadb("0-1-100", true, "", 0, false), PrimaryErr: "i/o timeout"},
			want: "refused", why: "the committed primary new does not answer (i/o timeout)"},
		{name: "rejoin: a state that does not parse is refused",
			in:   InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new", Node: mariadb("0-1-x", true, "", 0, false), PrimaryFacts: primary},
			want: "refused", why: "cannot be compared"},
		{name: "rejoin: MySQL errant set for mysqlbinlog",
			in: InstanceInput{Action: ActionRejoin, Instance: "old", Primary: "new",
				Node:         &probe.MySQLFacts{Flavor: probe.FlavorMySQL, GTIDExecuted: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7"},
				PrimaryFacts: &probe.MySQLFacts{Flavor: probe.FlavorMySQL, GTIDExecuted: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"}},
			want: "refused", errant: "3e11fa47-71ca-11e1-9e33-c80aa9429562:6-7",
			binlog: []string{"--include-gtids=3e11fa47-71ca-11e1-9e33-c80aa9429562:6-7"}},

		{name: "fence: a replica",
			in:   InstanceInput{Action: ActionFence, Instance: "r", Primary: "new", Node: mariadb("0-1-100", false, "new", probe.IORunning, true)},
			want: "allowed", why: "set read-only"},
		{name: "fence: a read-only node again (its sessions are killed)",
			in:   InstanceInput{Action: ActionFence, Instance: "old", Primary: "new", Node: mariadb("0-1-103", true, "", 0, false)},
			want: "allowed", why: "read-only already"},
		{name: "fence: the primary without force",
			in:   InstanceInput{Action: ActionFence, Instance: "new", Primary: "new", Node: primary},
			want: "refused", why: "stops every write to the cluster"},
		{name: "fence: the primary with force",
			in:   InstanceInput{Action: ActionFence, Instance: "new", Primary: "new", Force: true, Node: primary},
			want: "allowed"},
		{name: "fence: the node does not answer",
			in:   InstanceInput{Action: ActionFence, Instance: "old", Primary: "new"},
			want: "refused", why: "does not answer (-)"},

		// DESIGN.md §6.4: a writable non-primary is a condition, never made.
		{name: "unfence: not the primary",
			in:   InstanceInput{Action: ActionUnfence, Instance: "old", Primary: "new", Node: mariadb("0-1-103", true, "", 0, false)},
			want: "refused", why: "WritableNonPrimary"},
		{name: "unfence: the fenced primary",
			in:   InstanceInput{Action: ActionUnfence, Instance: "new", Primary: "new", Node: mariadb("0-1-100", true, "", 0, false)},
			want: "allowed", why: "read_only=OFF"},
		{name: "unfence: a MySQL primary with only super_read_only",
			in:   InstanceInput{Action: ActionUnfence, Instance: "new", Primary: "new", Node: &probe.MySQLFacts{Flavor: probe.FlavorMySQL, SuperReadOnly: true}},
			want: "allowed"},
		{name: "unfence: writable already",
			in:   InstanceInput{Action: ActionUnfence, Instance: "new", Primary: "new", Node: primary},
			want: "done", why: "writable already"},
		{name: "unfence: the primary replicates from another node",
			in:   InstanceInput{Action: ActionUnfence, Instance: "new", Primary: "new", Node: mariadb("0-1-100", true, "x:1", probe.IOConnecting, false)},
			want: "refused", why: "PrimaryIsReplica"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideInstance(tc.in)
			got := "refused"
			switch {
			case d.Allowed && d.Done:
				t.Fatalf("allowed and done at once: %+v", d)
			case d.Allowed:
				got = "allowed"
			case d.Done:
				got = "done"
			}
			if got != tc.want || !strings.Contains(d.Why, tc.why) || d.Demote != tc.demote || d.Errant != tc.errant ||
				!slices.Equal(d.Binlog, tc.binlog) {
				t.Errorf("DecideInstance(%+v)\n got %s %+v\nwant %s, why containing %q, demote %t, errant %q, binlog %q",
					tc.in, got, d, tc.want, tc.why, tc.demote, tc.errant, tc.binlog)
			}
			if d.Refused() != (tc.want == "refused") {
				t.Errorf("Refused() = %t for %s", d.Refused(), tc.want)
			}
		})
	}
}

func TestDecideInstanceFencingThePrimaryWarns(t *testing.T) {
	p := mariadb("0-1-100", false, "", 0, false)
	d := DecideInstance(InstanceInput{Action: ActionFence, Instance: "p", Primary: "p", Force: true, Node: p})
	if !strings.Contains(d.Warning, "takes no writes") {
		t.Errorf("forced fence of the primary: warning %q, want it to say the cluster takes no writes", d.Warning)
	}
	d = DecideInstance(InstanceInput{Action: ActionFence, Instance: "r", Primary: "p", Force: true, Node: p})
	if d.Warning != "" {
		t.Errorf("fence of a non-primary: warning %q, want none", d.Warning)
	}
}

func TestParseInstanceAction(t *testing.T) {
	for _, a := range InstanceActions {
		if got, err := ParseInstanceAction(string(a)); err != nil || got != a {
			t.Errorf("ParseInstanceAction(%q) = %q, %v", a, got, err)
		}
	}
	if _, err := ParseInstanceAction("demote"); err == nil || !strings.Contains(err.Error(), "want rejoin, fence or unfence") {
		t.Errorf("ParseInstanceAction(demote): %v, want an error listing the actions", err)
	}
}
