package quorum

import (
	"errors"
	"strings"
	"testing"
)

func mustVoters(t *testing.T, name string, ids ...MemberID) Voters {
	t.Helper()
	var ms []Member
	for _, id := range ids {
		ms = append(ms, Member{ID: id, Address: string(id) + ":7946"})
	}
	v, err := NewVoters(name, ms)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVotersMajorityAndFingerprint(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 7: 4} {
		var ids []MemberID
		for i := range n {
			ids = append(ids, MemberID(string(rune('a'+i))))
		}
		if got := mustVoters(t, "f", ids...).Majority(); got != want {
			t.Errorf("Majority of %d members = %d, want %d (DESIGN.md §5.1: ⌊n/2⌋+1)", n, got, want)
		}
	}
	a := mustVoters(t, "f", "s1", "s2", "s3")
	b, _ := NewVoters("f", []Member{{ID: "s3", Address: "x:1"}, {ID: "s1", Address: "y:2"}, {ID: "s2"}})
	if a.Fingerprint() != b.Fingerprint() {
		t.Errorf("fingerprint depends on order or addresses: %s vs %s", a.Fingerprint(), b.Fingerprint())
	}
	if c := mustVoters(t, "g", "s1", "s2", "s3"); c.Fingerprint() == a.Fingerprint() {
		t.Errorf("fingerprint ignores the fleet name")
	}
	if d := mustVoters(t, "f", "s1", "s2", "s4"); d.Fingerprint() == a.Fingerprint() {
		t.Errorf("fingerprint ignores a member")
	}
	// "s1s2" + "s3" must not collide with "s1" + "s2s3".
	if FingerprintOf("f", []MemberID{"s1s2", "s3"}) == FingerprintOf("f", []MemberID{"s1", "s2s3"}) {
		t.Errorf("fingerprint is ambiguous across id boundaries")
	}
}

func TestNewVotersRefuses(t *testing.T) {
	for _, c := range []struct {
		name    string
		members []Member
		want    string
	}{
		{"", []Member{{ID: "s1"}}, "no fleet name"},
		{"f", nil, "has no members"},
		{"f", []Member{{ID: "s1"}, {ID: ""}}, "a member with no id"},
		{"f", []Member{{ID: "s1"}, {ID: "s2"}, {ID: "s1"}}, "lists member id s1 twice"},
	} {
		_, err := NewVoters(c.name, c.members)
		if !errors.Is(err, ErrVoters) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewVoters(%q, %v) = %v, want %q", c.name, c.members, err, c.want)
		}
	}
}

// DESIGN.md §5.1: a voter accepts requests from a list that differs from
// its own by one change, so old and new majorities overlap; more is refused
// with the reason.
func TestVotersCompatible(t *testing.T) {
	ours := mustVoters(t, "f", "s1", "s2", "s3")
	for _, c := range []struct {
		fleet string
		ids   []MemberID
		want  string // "" = compatible
	}{
		{"f", []MemberID{"s3", "s2", "s1"}, ""},
		{"f", []MemberID{"s1", "s2", "s3", "s4"}, ""},
		{"f", []MemberID{"s1", "s2"}, ""},
		{"f", []MemberID{"s1", "s2", "s4"}, "differ by 2 (theirs adds [s4], lacks [s3]"},
		{"f", []MemberID{"s1", "s2", "s3", "s4", "s5"}, "differ by 2"},
		{"f", []MemberID{"s9"}, "differ by 4"},
		{"g", []MemberID{"s1", "s2", "s3"}, `fleet "g", ours is "f"`},
	} {
		err := ours.Compatible(c.fleet, c.ids)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Compatible(%s, %v) = %v, want compatible", c.fleet, c.ids, err)
		case c.want != "" && (!errors.Is(err, ErrIncompatibleVoters) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Compatible(%s, %v) = %v, want %q", c.fleet, c.ids, err, c.want)
		}
	}
}

// With one member changed, every majority of the old set and every
// majority of the new set share a member (the reason for the one-change
// rule).
func TestOneChangeMajoritiesOverlap(t *testing.T) {
	all := []MemberID{"a", "b", "c", "d", "e", "f", "g", "h"}
	for n := 1; n <= 7; n++ {
		old := all[:n]
		for _, next := range [][]MemberID{all[:n+1], all[:n-1]} {
			if len(next) == 0 {
				continue
			}
			mo, mn := len(old)/2+1, len(next)/2+1
			forEachSubset(old, mo, func(a []MemberID) {
				forEachSubset(next, mn, func(b []MemberID) {
					if !overlaps(a, b) {
						t.Fatalf("majority %v of %v and %v of %v do not overlap", a, old, b, next)
					}
				})
			})
		}
	}
}

func forEachSubset(ids []MemberID, k int, f func([]MemberID)) {
	var rec func(start int, cur []MemberID)
	rec = func(start int, cur []MemberID) {
		if len(cur) == k {
			f(cur)
			return
		}
		for i := start; i < len(ids); i++ {
			rec(i+1, append(cur, ids[i]))
		}
	}
	rec(0, nil)
}

func overlaps(a, b []MemberID) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}
