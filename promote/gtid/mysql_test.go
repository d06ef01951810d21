package gtid

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	uA = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	uB = "2174b383-5441-11e8-b90a-c80aa9429562"
	uC = "73f86016-978b-11ea-91ed-0242ac110002"
)

func mustSet(t *testing.T, s string) Set {
	t.Helper()
	v, err := ParseSet(s)
	if err != nil {
		t.Fatalf("ParseSet(%q): %v", s, err)
	}
	return v
}

func mustUUID(t *testing.T, s string) UUID {
	t.Helper()
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatalf("ParseUUID(%q): %v", s, err)
	}
	return u
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"only whitespace", " \n\t", ""},
		{"only commas", ",, ,", ""},
		{"one gtid", uA + ":5", uA + ":5"},
		{"one interval", uA + ":1-5", uA + ":1-5"},
		{"single-number interval written as range", uA + ":5-5", uA + ":5"},
		{"several intervals", uA + ":1-5:7-9", uA + ":1-5:7-9"},
		{"uppercase UUID normalised", strings.ToUpper(uA) + ":1-3", uA + ":1-3"},
		// sorted by UUID bytes, as MySQL prints them
		{"sources sorted", uA + ":1-3," + uB + ":1-2", uB + ":1-2," + uA + ":1-3"},
		// the server prints ",\n" between sources (probe testdata mysql8_primary.vars.json)
		{"mysql newline after comma", uB + ":1-3,\n" + uC + ":1-9", uB + ":1-3," + uC + ":1-9"},
		{"whitespace around every token", "  " + uA + " : 1 - 3 : 5 ,\n " + uB + ":7  ", uB + ":7," + uA + ":1-3:5"},
		{"adjacent intervals merged", uA + ":1-3:4-5:6", uA + ":1-6"},
		{"overlapping and unsorted merged", uA + ":7-9:1-5:3-8", uA + ":1-9"},
		{"repeated source merged", uA + ":1-3," + uB + ":1," + uA + ":4-6", uB + ":1," + uA + ":1-6"},
		{"empty elements skipped", "," + uA + ":1,,", uA + ":1"},
		{"largest gno", uA + ":9223372036854775806", uA + ":9223372036854775806"},
		{"tag", uA + ":tag_a:1-4", uA + ":tag_a:1-4"},
		{"tag uppercase normalised", uA + ":Tag_A:1-4", uA + ":tag_a:1-4"},
		{"tag starting with underscore", uA + ":_x1:2", uA + ":_x1:2"},
		{"untagged first, tags sorted", uA + ":zz:1:aa:2-3:5," + uA + ":1-4", uA + ":1-4:aa:2-3:5:zz:1"},
		{"same tag twice merged", uA + ":t:1-2," + uA + ":T:3", uA + ":t:1-3"},
		{"32-character tag", uA + ":abcdefghijabcdefghijabcdefghij12:1", uA + ":abcdefghijabcdefghijabcdefghij12:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSet(tt.in)
			if err != nil {
				t.Fatalf("ParseSet(%q): %v", tt.in, err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("ParseSet(%q).String()\n got %q\nwant %q", tt.in, got, tt.want)
			}
			again := mustSet(t, s.String())
			if !again.Equal(s) || again.String() != s.String() {
				t.Errorf("round trip of %q: got %q", s.String(), again.String())
			}
		})
	}
}

func TestParseSetErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"end before start", strings.ToUpper(uA) + ":5-3",
			[]string{`parse MySQL GTID set "3E11FA47`, `interval "5-3" at byte 37 of source ` + uA + `: end before start`}},
		{"zero", uA + ":0", []string{`interval "0"`, "start: transaction numbers start at 1"}},
		{"zero end", uA + ":1-0", []string{"end: transaction numbers start at 1"}},
		{"leading zero", uA + ":010", []string{"start: leading zero"}},
		{"too large", uA + ":9223372036854775807", []string{"start: greater than 9223372036854775806"}},
		{"far too large", uA + ":1-99999999999999999999999", []string{"end: greater than"}},
		{"negative", uA + ":-5", []string{"start: empty number"}},
		{"plus sign", uA + ":+5", []string{`interval "+5"`, "start: not a decimal number"}},
		{"hex", uA + ":0x10", []string{"start: not a decimal number"}},
		{"garbage in number", uA + ":1-5x", []string{"end: not a decimal number"}},
		{"empty interval", uA + ":1::3", []string{`interval "" at byte 39`, "empty"}},
		{"trailing colon", uA + ":1:", []string{"empty"}},
		{"no intervals", uA, []string{`source "` + uA + `" at byte 0`, "no intervals after the UUID"}},
		{"short uuid", "3e11fa47-71ca-11e1-9e33:1", []string{`source "3e11fa47-71ca-11e1-9e33"`, "23 characters, want 36"}},
		{"uuid without dashes", "3e11fa4771ca11e19e33c80aa9429562:1", []string{"32 characters, want 36"}},
		{"uuid bad hex", "3e11fa47-71ca-11e1-9e33-c80aa942956g:1", []string{`'g' at 35 is not a hex digit`}},
		{"uuid misplaced dash", "3e11fa4-771ca-11e1-9e33-c80aa9429562:1", []string{`'-' at 7 is not a hex digit`}},
		{"uuid dash missing", "3e11fa477-1ca-11e1-9e33-c80aa9429562:1", []string{`'7' at 8, want '-'`}},
		{"second source bad", uA + ":1,\n" + uB + ":2-1", []string{`interval "2-1" at byte 77 of source ` + uB, "end before start"}},
		{"tag without intervals", uA + ":tag", []string{`tag "tag"`, "no intervals after the tag"}},
		{"two tags in a row", uA + ":a:b:1", []string{`tag "b"`, `follows tag "a", which has no intervals`}},
		{"tag too long", uA + ":abcdefghijabcdefghijabcdefghij123:1", []string{"longer than 32 characters"}},
		{"tag bad char", uA + ":ab-c:1", []string{`tag "ab-c"`, "a tag is letters, digits and '_'"}},
		{"bad interval after tag", uA + ":t:3-1", []string{"of source " + uA + " tag t: end before start"}},
		{"interval then garbage", uA + ":1 2", []string{`interval "1 2"`, "not a decimal number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSet(tt.in)
			if err == nil {
				t.Fatalf("ParseSet(%q) = %q, want an error", tt.in, s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseSet(%q) error\n got %s\nwant it to contain %s", tt.in, err, w)
				}
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.What != "MySQL GTID set" || pe.Input != tt.in {
				t.Errorf("ParseSet(%q) error %#v is not a *ParseError for the input", tt.in, err)
			}
			if pe != nil && pe.Token != "" && tt.in[pe.Offset:pe.Offset+len(pe.Token)] != pe.Token {
				t.Errorf("ParseSet(%q): token %q is not at byte %d", tt.in, pe.Token, pe.Offset)
			}
		})
	}
}

func TestParseSetErrorAbbreviatesLongInput(t *testing.T) {
	in := strings.Repeat(uA+":1,", 20) + uB + ":3-2"
	_, err := ParseSet(in)
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	if len(msg) > 300 || !strings.Contains(msg, "… (") || !strings.Contains(msg, `interval "3-2"`) {
		t.Errorf("error for a %d-byte input: %s", len(in), msg)
	}
}

func TestParseUUID(t *testing.T) {
	u := mustUUID(t, "3E11FA47-71CA-11E1-9E33-C80AA9429562")
	if u.String() != uA {
		t.Errorf("String() = %q, want %q", u, uA)
	}
	b, err := json.Marshal(map[string]UUID{"u": u})
	if err != nil || string(b) != `{"u":"`+uA+`"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	var back map[string]UUID
	if err := json.Unmarshal(b, &back); err != nil || back["u"] != u {
		t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
	}
	for _, bad := range []string{"", "{" + uA + "}", uA + " ", "3e11fa4771ca11e19e33c80aa9429562"} {
		if _, err := ParseUUID(bad); err == nil || !strings.Contains(err.Error(), "parse MySQL server UUID") {
			t.Errorf("ParseUUID(%q) error = %v", bad, err)
		}
	}
}

func TestSetAccessors(t *testing.T) {
	s := mustSet(t, uA+":1-5:7-9:t:1-2,"+uB+":3")
	a, b := mustUUID(t, uA), mustUUID(t, uB)
	if got, want := s.Sources(), []UUID{b, a}; !slices.Equal(got, want) {
		t.Errorf("Sources() = %v, want %v", got, want)
	}
	if got, want := s.Tags(a), []Tag{"", "t"}; !slices.Equal(got, want) {
		t.Errorf("Tags(a) = %v, want %v", got, want)
	}
	if got, want := s.Intervals(a, ""), []Interval{{1, 5}, {7, 9}}; !slices.Equal(got, want) {
		t.Errorf("Intervals(a, \"\") = %v, want %v", got, want)
	}
	if got := s.Intervals(a, "nope"); got != nil {
		t.Errorf("Intervals(a, nope) = %v, want nil", got)
	}
	if got, want := s.Source(a).String(), uA+":1-5:7-9:t:1-2"; got != want {
		t.Errorf("Source(a) = %q, want %q", got, want)
	}
	if got := s.Count(); got != 11 {
		t.Errorf("Count() = %d, want 11", got)
	}
	if !(Set{}).IsEmpty() || s.IsEmpty() {
		t.Error("IsEmpty wrong")
	}
	huge := mustSet(t, uA+":1-9223372036854775806,"+uB+":1-9223372036854775806,"+uC+":1-9223372036854775806")
	if got := huge.Count(); got != ^uint64(0) {
		t.Errorf("Count() of a huge set = %d, want saturation", got)
	}
}

func TestSetAlgebra(t *testing.T) {
	tests := []struct {
		name                   string
		a, b                   string
		union, inter, aMinusB  string
		aContainsB, bContainsA bool
		order                  Order
	}{
		{name: "both empty", order: Equal, aContainsB: true, bContainsA: true},
		{name: "empty and not", a: uA + ":1-3", union: uA + ":1-3", aMinusB: uA + ":1-3", aContainsB: true, order: Greater},
		{name: "replica behind", a: uA + ":1-100", b: uA + ":1-90", union: uA + ":1-100", inter: uA + ":1-90",
			aMinusB: uA + ":91-100", aContainsB: true, order: Greater},
		{name: "holes", a: uA + ":1-10", b: uA + ":2-3:5:9-12", union: uA + ":1-12", inter: uA + ":2-3:5:9-10",
			aMinusB: uA + ":1:4:6-8", order: Incomparable},
		{name: "different sources", a: uA + ":1-5", b: uB + ":1-5", union: uB + ":1-5," + uA + ":1-5",
			aMinusB: uA + ":1-5", order: Incomparable},
		{name: "after failover both sources", a: uA + ":1-100," + uB + ":1-20", b: uA + ":1-100", union: uB + ":1-20," + uA + ":1-100",
			inter: uA + ":1-100", aMinusB: uB + ":1-20", aContainsB: true, order: Greater},
		{name: "tags are separate sources", a: uA + ":1-5", b: uA + ":t:1-5", union: uA + ":1-5:t:1-5", aMinusB: uA + ":1-5", order: Incomparable},
		{name: "equal", a: uA + ":1-3:5", b: uA + ":5:1-3", union: uA + ":1-3:5", inter: uA + ":1-3:5", aContainsB: true, bContainsA: true, order: Equal},
		{name: "adjacent union", a: uA + ":1-3", b: uA + ":4-6", union: uA + ":1-6", aMinusB: uA + ":1-3", order: Incomparable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustSet(t, tt.a), mustSet(t, tt.b)
			check := func(op, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s with a=%q b=%q\n got %q\nwant %q", op, tt.a, tt.b, got, want)
				}
			}
			check("a.Union(b)", a.Union(b).String(), tt.union)
			check("a.Intersect(b)", a.Intersect(b).String(), tt.inter)
			check("a.Subtract(b)", a.Subtract(b).String(), tt.aMinusB)
			if got := a.Contains(b); got != tt.aContainsB {
				t.Errorf("a=%q .Contains(b=%q) = %v, want %v", tt.a, tt.b, got, tt.aContainsB)
			}
			if got := b.Contains(a); got != tt.bContainsA {
				t.Errorf("b=%q .Contains(a=%q) = %v, want %v", tt.b, tt.a, got, tt.bContainsA)
			}
			if got := a.Compare(b); got != tt.order {
				t.Errorf("a=%q .Compare(b=%q) = %v, want %v", tt.a, tt.b, got, tt.order)
			}
		})
	}
}

// DESIGN.md §6.5: errant = origin not a primary in the committed history;
// being ahead of other replicas is not errant.
func TestSetErrant(t *testing.T) {
	a, b := mustUUID(t, uA), mustUUID(t, uB)
	tests := []struct {
		name, replica string
		primaries     []UUID
		want          string
	}{
		{"ahead of others, known primary", uA + ":1-500", []UUID{a}, ""},
		{"two primaries in history", uA + ":1-100," + uB + ":1-40", []UUID{a, b}, ""},
		{"local write on replica", uA + ":1-100," + uC + ":1-2", []UUID{a, b}, uC + ":1-2"},
		{"tagged local write", uA + ":1-100," + uC + ":ops:7", []UUID{a}, uC + ":ops:7"},
		{"no primaries known", uA + ":1-3", nil, uA + ":1-3"},
		{"empty replica", "", []UUID{a}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSet(t, tt.replica).Errant(tt.primaries)
			if got.String() != tt.want {
				t.Errorf("Errant(%q, %v) = %q, want %q", tt.replica, tt.primaries, got, tt.want)
			}
		})
	}
}

// The values in the prober's MySQL 8 fixtures (probe/mysqlprobe/testdata).
func TestSetProbeFixtures(t *testing.T) {
	executed := mustSet(t, "2174b383-5441-11e8-b90a-c80aa9429562:1-3,\n73f86016-978b-11ea-91ed-0242ac110002:1-9")
	retrieved := mustSet(t, "73f86016-978b-11ea-91ed-0242ac110002:1-3")
	if !executed.Contains(retrieved) || executed.Compare(retrieved) != Greater {
		t.Errorf("%q should contain %q", executed, retrieved)
	}
	empty := mustSet(t, "")
	if !retrieved.Contains(empty) || !empty.IsEmpty() {
		t.Error("the empty Retrieved_Gtid_Set of a fresh replica is contained in everything")
	}
}

func TestSetText(t *testing.T) {
	s := mustSet(t, uA+":1-5,"+uB+":t:2")
	b, err := json.Marshal(struct{ S Set }{s})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ S Set }
	if err := json.Unmarshal(b, &back); err != nil || !back.S.Equal(s) {
		t.Errorf("json round trip of %s: %v, %v", b, back.S, err)
	}
	if err := json.Unmarshal([]byte(`{"S":"nope"}`), &back); err == nil {
		t.Error("json.Unmarshal of a bad set: no error")
	}
}

// Operations never modify their operands (Sets share backing arrays).
func TestSetImmutable(t *testing.T) {
	a := mustSet(t, uA+":1-10:20-30,"+uB+":1-5")
	b := mustSet(t, uA+":5-25,"+uC+":1")
	as, bs := a.String(), b.String()
	_ = a.Union(b)
	_ = a.Subtract(b)
	_ = a.Intersect(b)
	_ = b.Union(a).Subtract(a)
	_ = a.Intervals(mustUUID(t, uA), "")
	if a.String() != as || b.String() != bs {
		t.Errorf("operands changed: a %q → %q, b %q → %q", as, a, bs, b)
	}
}
