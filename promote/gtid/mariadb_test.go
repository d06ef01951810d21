package gtid

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func mustPos(t *testing.T, s string) Position {
	t.Helper()
	p, err := ParsePosition(s)
	if err != nil {
		t.Fatalf("ParsePosition(%q): %v", s, err)
	}
	return p
}

func mustState(t *testing.T, s string) State {
	t.Helper()
	st, err := ParseState(s)
	if err != nil {
		t.Fatalf("ParseState(%q): %v", s, err)
	}
	return st
}

func TestParsePosition(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"0-1-100", "0-1-100"},
		{"0-1-100,1-2-50", "0-1-100,1-2-50"},
		{"1-2-50,0-1-100", "0-1-100,1-2-50"},
		{" 0-1-100 ,\n1-2-50 ", "0-1-100,1-2-50"},
		{"4294967295-4294967295-18446744073709551615", "4294967295-4294967295-18446744073709551615"},
		{"0-0-0", ""},
		{"0-1-0,1-1-5", "1-1-5"},
		{"10-1-5,2-1-7,99999-3-1", "2-1-7,10-1-5,99999-3-1"},
	}
	for _, tt := range tests {
		p, err := ParsePosition(tt.in)
		if err != nil {
			t.Errorf("ParsePosition(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("ParsePosition(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if again := mustPos(t, p.String()); !again.Equal(p) {
			t.Errorf("round trip of %q: %q", p, again)
		}
	}
}

func TestParseMariaDBErrors(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		want  []string
	}{
		{"position duplicate domain", posErr, "0-1-100,0-2-105",
			[]string{`parse MariaDB GTID position "0-1-100,0-2-105": entry "0-2-105" at byte 8: domain 0 already has 0-1-100`, "ParseState"}},
		{"two fields", posErr, "0-100", []string{`entry "0-100" at byte 0: want domain-server-seq`}},
		{"four fields", posErr, "0-1-2-3", []string{"want domain-server-seq"}},
		{"duplicate domain with seq 0", posErr, "0-1-0,0-2-5", []string{"domain 0 already has 0-1-0"}},
		{"negative", posErr, "0--1-5", []string{"want domain-server-seq"}},
		{"domain too large", posErr, "4294967296-1-1", []string{"domain id: greater than 4294967295"}},
		{"server too large", posErr, "0-4294967296-1", []string{"server id: greater than 4294967295"}},
		{"seq too large", posErr, "0-1-18446744073709551616", []string{"seq: greater than 18446744073709551615"}},
		{"leading zero", posErr, "0-01-5", []string{"server id: leading zero"}},
		{"letters", posErr, "0-1-1O", []string{"seq: not a decimal number"}},
		{"empty entry", posErr, "0-1-1,,1-1-1", []string{`entry "" at byte 6: empty`}},
		{"trailing comma", posErr, "0-1-1,", []string{"empty"}},
		{"space inside", posErr, "0 -1-1", []string{"domain id: not a decimal number"}},
		{"mysql set", posErr, uA + ":1-5", []string{"want domain-server-seq"}},
		{"state duplicate pair", stateErr, "0-1-3,0-3-4,0-1-5",
			[]string{`parse MariaDB GTID state "0-1-3,0-3-4,0-1-5": entry "0-1-5" at byte 12: domain 0 server 1 already has 0-1-3`}},
		{"state bad entry", stateErr, "0-1-3,x", []string{`entry "x" at byte 6: want domain-server-seq`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.in)
			if err == nil {
				t.Fatalf("parse %q: no error", tt.in)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("parse %q error\n got %s\nwant it to contain %s", tt.in, err, w)
				}
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.in || tt.in[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
				t.Errorf("parse %q: error %#v does not locate its token", tt.in, err)
			}
		})
	}
}

func posErr(s string) error   { _, err := ParsePosition(s); return err }
func stateErr(s string) error { _, err := ParseState(s); return err }

func TestPositionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want Order
	}{
		{"", "", Equal},
		{"0-1-100", "0-1-100", Equal},
		{"0-1-100", "0-1-90", Greater},
		{"0-1-90", "0-1-100", Less},
		{"0-1-100", "", Greater},
		{"", "0-1-1", Less},
		// a new primary continues the domain's numbering: still ahead
		{"0-2-110", "0-1-100", Greater},
		// ahead in different domains
		{"0-1-100,1-2-50", "0-1-90,1-2-60", Incomparable},
		{"0-1-100,1-2-50", "0-1-100", Greater},
		{"0-1-100", "1-2-50", Incomparable},
		// same seq, different origin: diverged (probe testdata
		// mariadb_replica_sql_error: Gtid_IO_Pos 0-1-4 vs gtid_current_pos 0-3-4)
		{"0-1-4", "0-3-4", Incomparable},
		{"0-1-4,1-1-9", "0-3-4,1-1-2", Incomparable},
	}
	for _, tt := range tests {
		a, b := mustPos(t, tt.a), mustPos(t, tt.b)
		if got := a.Compare(b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got, want := a.Contains(b), tt.want == Equal || tt.want == Greater; got != want {
			t.Errorf("%q.Contains(%q) = %v, want %v", tt.a, tt.b, got, want)
		}
	}
}

func TestPositionUnionSubtract(t *testing.T) {
	tests := []struct {
		a, b, union string
		aMinusB     []string
	}{
		{"", "", "", nil},
		{"0-1-120", "0-1-100", "0-1-120", []string{"domain 0 seqs 101-120 (last from server 1)"}},
		{"0-1-100", "0-1-120", "0-1-120", nil},
		{"0-1-100,1-2-50", "0-1-90,1-2-60", "0-1-100,1-2-60", []string{"domain 0 seqs 91-100 (last from server 1)"}},
		{"0-1-100,2-5-7", "0-1-100", "0-1-100,2-5-7", []string{"domain 2 seqs 1-7 (last from server 5)"}},
		{"0-2-101", "0-1-100", "0-2-101", []string{"domain 0 seq 101 (last from server 2)"}},
		// diverged: the union keeps a's entry
		{"0-1-4", "0-3-4", "0-1-4", []string{"domain 0 seq 4 (last from server 1)"}},
	}
	for _, tt := range tests {
		a, b := mustPos(t, tt.a), mustPos(t, tt.b)
		if got := a.Union(b).String(); got != tt.union {
			t.Errorf("Union(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.union)
		}
		if got := strs(a.Subtract(b)); !slices.Equal(got, tt.aMinusB) {
			t.Errorf("%q.Subtract(%q) = %q, want %q", tt.a, tt.b, got, tt.aMinusB)
		}
	}
}

func strs[T fmt.Stringer](xs []T) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

func TestPositionAccessors(t *testing.T) {
	p := mustPos(t, "3-2-9,0-1-100,1-2-50")
	if got, want := p.Domains(), []uint32{0, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("Domains() = %v, want %v", got, want)
	}
	if got, want := p.Origins(), []uint32{1, 2}; !slices.Equal(got, want) {
		t.Errorf("Origins() = %v, want %v", got, want)
	}
	if got, ok := p.Get(1); !ok || got != (Triple{1, 2, 50}) {
		t.Errorf("Get(1) = %v, %v", got, ok)
	}
	if _, ok := p.Get(2); ok {
		t.Error("Get(2) found a domain p lacks")
	}
	if got := strs(p.Triples()); !slices.Equal(got, []string{"0-1-100", "1-2-50", "3-2-9"}) {
		t.Errorf("Triples() = %v", got)
	}
	if !(Position{}).IsEmpty() || p.IsEmpty() {
		t.Error("IsEmpty wrong")
	}
}

func TestParseState(t *testing.T) {
	tests := []struct{ in, want, pos string }{
		{"", "", ""},
		{"0-1-3", "0-1-3", "0-1-3"},
		// probe testdata mariadb_replica_sql_error: a local write by server 3
		{"0-1-3,0-3-4", "0-1-3,0-3-4", "0-3-4"},
		// the domain's latest last, as MariaDB prints it
		{"0-2-18962,0-1-9566", "0-1-9566,0-2-18962", "0-2-18962"},
		{"1-5-7,0-2-105,0-1-100", "0-1-100,0-2-105,1-5-7", "0-2-105,1-5-7"},
		{"0-2-5,0-1-5", "0-1-5,0-2-5", "0-1-5"},
		{"0-1-0,0-2-3", "0-2-3", "0-2-3"},
	}
	for _, tt := range tests {
		st := mustState(t, tt.in)
		if got := st.String(); got != tt.want {
			t.Errorf("ParseState(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if got := st.Pos().String(); got != tt.pos {
			t.Errorf("ParseState(%q).Pos() = %q, want %q", tt.in, got, tt.pos)
		}
		if again := mustState(t, st.String()); !again.Equal(st) {
			t.Errorf("round trip of %q: %q", st, again)
		}
	}
}

// notes/mariadb.md §4: the returning old primary is errant when some D-S-N
// of its state has N above the new primary's N for the same D-S.
func TestStateSubtractReturningPrimary(t *testing.T) {
	tests := []struct {
		name, old, cur string
		want           []string
	}{
		{"notes §4 example", "0-1-9572", "0-1-9566,0-2-18962",
			[]string{"domain 0 seqs 9567-9572 (last from server 1)"}},
		{"clean: behind the new primary", "0-1-9560", "0-1-9566,0-2-18962", nil},
		{"clean: equal", "0-1-9566", "0-1-9566,0-2-18962", nil},
		{"clean: truncated by --init-rpl-role=SLAVE", "0-1-8000", "0-1-8003,0-2-8010", nil},
		{"ahead by one", "0-1-13070,0-2-12000", "0-1-13069,0-2-12798", []string{"domain 0 seq 13070 (last from server 1)"}},
		{"server unknown to the new primary", "0-1-5,0-3-6", "0-1-5,0-2-9", []string{"domain 0 seqs 1-6 (last from server 3)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(mustState(t, tt.old).Subtract(mustState(t, tt.cur)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q.Subtract(%q) = %q, want %q", tt.old, tt.cur, got, tt.want)
			}
		})
	}
}

// DESIGN.md §6.5: errant = origin not a primary in the committed history;
// being ahead of other replicas is not errant.
func TestStateErrant(t *testing.T) {
	tests := []struct {
		name, state string
		primaries   []uint32
		want        []string
	}{
		// probe testdata mariadb_replica_sql_error (server 3 wrote locally)
		{"local write on a replica", "0-1-3,0-3-4", []uint32{1}, []string{"0-3-4"}},
		{"ahead of others is fine", "0-1-9999", []uint32{1}, nil},
		{"two primaries in history", "0-1-9566,0-2-18962", []uint32{1, 2}, nil},
		{"several domains", "0-1-5,1-7-2,2-2-9", []uint32{1, 2}, []string{"1-7-2"}},
		{"no history", "0-1-5", nil, []string{"0-1-5"}},
		{"empty", "", []uint32{1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(mustState(t, tt.state).Errant(tt.primaries))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Errant(%q, %v) = %q, want %q", tt.state, tt.primaries, got, tt.want)
			}
		})
	}
}

func TestStateAccessors(t *testing.T) {
	st := mustState(t, "0-1-100,0-2-105,1-5-7")
	if got, ok := st.Get(0, 2); !ok || got != 105 {
		t.Errorf("Get(0, 2) = %d, %v", got, ok)
	}
	if _, ok := st.Get(1, 1); ok {
		t.Error("Get(1, 1) found a pair st lacks")
	}
	if got, want := st.Origins(), []uint32{1, 2, 5}; !slices.Equal(got, want) {
		t.Errorf("Origins() = %v, want %v", got, want)
	}
	if got := strs(st.Triples()); !slices.Equal(got, []string{"0-1-100", "0-2-105", "1-5-7"}) {
		t.Errorf("Triples() = %v", got)
	}
	other := mustState(t, "0-1-90,0-3-1")
	if got := st.Union(other).String(); got != "0-3-1,0-1-100,0-2-105,1-5-7" {
		t.Errorf("Union = %q", got)
	}
	if st.Contains(other) || !st.Union(other).Contains(st) || !st.Union(other).Contains(other) {
		t.Error("Contains wrong")
	}
	if !(State{}).IsEmpty() || st.IsEmpty() {
		t.Error("IsEmpty wrong")
	}
}

func TestMariaDBText(t *testing.T) {
	v := struct {
		P Position
		S State
		O Order
	}{mustPos(t, "0-1-5"), mustState(t, "0-1-3,0-3-4"), Incomparable}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"P":"0-1-5","S":"0-1-3,0-3-4","O":"incomparable"}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var back struct {
		P Position
		S State
	}
	if err := json.Unmarshal(b, &back); err != nil || !back.P.Equal(v.P) || !back.S.Equal(v.S) {
		t.Errorf("json.Unmarshal(%s) = %+v, %v", b, back, err)
	}
	if OrderUnknown.String() != "unknown" || Less.String() != "less" || Equal.String() != "equal" || Greater.String() != "greater" {
		t.Error("Order.String wrong")
	}
}
