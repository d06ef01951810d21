package gtid

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Property tests over seeded generators: each property runs propCases
// cases from a fixed seed, so a failure replays exactly (the case's seed is
// in the message).

const propCases = 3000

// forCases runs f on propCases generators, each seeded from name and the
// case number.
func forCases(t *testing.T, name string, f func(t *testing.T, r *rand.Rand) string) {
	t.Helper()
	base := uint64(0)
	for _, c := range name {
		base = base*31 + uint64(c)
	}
	for i := range uint64(propCases) {
		r := rand.New(rand.NewPCG(base, i))
		if msg := f(t, r); msg != "" {
			t.Fatalf("%s, case %d (rand.NewPCG(%d, %d)): %s", name, i, base, i, msg)
		}
	}
}

// A few UUIDs and tags, so that generated sets share sources often.
var (
	genUUIDs = []string{uA, uB, uC, "00000000-0000-0000-0000-000000000001", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	genTags  = []string{"", "", "", "a", "ops_1"}
)

// genSetText writes a random valid GTID set, not canonical: sources
// repeated and unordered, intervals overlapping, touching or reversed in
// order, mixed case, MySQL's ",\n", and sometimes numbers near MaxGNO.
func genSetText(r *rand.Rand) string {
	var elems []string
	for range r.IntN(5) {
		u := genUUIDs[r.IntN(len(genUUIDs))]
		if r.IntN(4) == 0 {
			u = strings.ToUpper(u)
		}
		var b strings.Builder
		b.WriteString(u)
		for range 1 + r.IntN(3) {
			// a tag applies to the intervals after it; "" continues the
			// previous tag (or none, in the first segment)
			if tag := genTags[r.IntN(len(genTags))]; tag != "" {
				b.WriteString(":" + tag)
			}
			for range 1 + r.IntN(4) {
				b.WriteString(":" + genInterval(r).String())
			}
		}
		elems = append(elems, b.String())
	}
	sep := ","
	if r.IntN(2) == 0 {
		sep = ",\n"
	}
	return strings.Join(elems, sep)
}

// genInterval mostly draws small numbers, so that intervals collide, and
// sometimes numbers at the top of the range.
func genInterval(r *rand.Rand) Interval {
	var lo uint64
	switch r.IntN(10) {
	case 0:
		lo = MaxGNO - uint64(r.IntN(20))
	default:
		lo = 1 + uint64(r.IntN(40))
	}
	hi := lo + uint64(r.IntN(8))
	if hi > MaxGNO {
		hi = MaxGNO
	}
	return Interval{lo, hi}
}

func genSet(t *testing.T, r *rand.Rand) Set {
	t.Helper()
	txt := genSetText(r)
	s, err := ParseSet(txt)
	if err != nil {
		t.Fatalf("generated set %q does not parse: %v", txt, err)
	}
	return s
}

// members lists every (tsid, number) of s when s is small enough: the
// reference model the algebra is checked against.
func members(s Set) map[string]bool {
	m := map[string]bool{}
	for _, r := range s.runs {
		for _, iv := range r.ivs {
			for n := iv.First; n <= iv.Last; n++ {
				m[fmt.Sprintf("%s:%s:%d", r.id.uuid, r.id.tag, n)] = true
			}
		}
	}
	return m
}

// wellFormed checks the Set invariants: runs sorted by tsid and unique,
// none empty, intervals sorted, disjoint, not adjacent, in 1…MaxGNO.
func wellFormed(s Set) string {
	for i, r := range s.runs {
		if i > 0 && s.runs[i-1].id.compare(r.id) >= 0 {
			return fmt.Sprintf("runs out of order at %d in %q", i, s)
		}
		if len(r.ivs) == 0 {
			return fmt.Sprintf("empty run %v in %q", r.id, s)
		}
		for j, iv := range r.ivs {
			if iv.First < 1 || iv.First > iv.Last || iv.Last > MaxGNO {
				return fmt.Sprintf("bad interval %v in %q", iv, s)
			}
			if j > 0 && r.ivs[j-1].Last+1 >= iv.First {
				return fmt.Sprintf("intervals %v %v not merged in %q", r.ivs[j-1], iv, s)
			}
		}
	}
	return ""
}

func TestPropertySetUnion(t *testing.T) {
	forCases(t, "set union", func(t *testing.T, r *rand.Rand) string {
		a, b, c := genSet(t, r), genSet(t, r), genSet(t, r)
		ab := a.Union(b)
		switch {
		case wellFormed(ab) != "":
			return wellFormed(ab)
		case !ab.Equal(b.Union(a)):
			return fmt.Sprintf("not commutative: a=%q b=%q", a, b)
		case !ab.Union(c).Equal(a.Union(b.Union(c))):
			return fmt.Sprintf("not associative: a=%q b=%q c=%q", a, b, c)
		case !a.Union(a).Equal(a):
			return fmt.Sprintf("not idempotent: a=%q", a)
		case !ab.Contains(a) || !ab.Contains(b):
			return fmt.Sprintf("a ∪ b=%q does not contain a=%q and b=%q", ab, a, b)
		case !a.Union(Set{}).Equal(a):
			return fmt.Sprintf("a ∪ ∅ ≠ a for %q", a)
		}
		return ""
	})
}

func TestPropertySetSubtractIntersect(t *testing.T) {
	forCases(t, "set subtract", func(t *testing.T, r *rand.Rand) string {
		a, b := genSet(t, r), genSet(t, r)
		d, i := a.Subtract(b), a.Intersect(b)
		switch {
		case wellFormed(d) != "":
			return wellFormed(d)
		case wellFormed(i) != "":
			return wellFormed(i)
		case !d.Intersect(b).IsEmpty():
			return fmt.Sprintf("(a−b)∩b = %q, want ∅; a=%q b=%q", d.Intersect(b), a, b)
		case !d.Union(i).Equal(a):
			return fmt.Sprintf("(a−b)∪(a∩b) = %q, want a=%q; b=%q", d.Union(i), a, b)
		case !i.Equal(b.Intersect(a)):
			return fmt.Sprintf("∩ not commutative: a=%q b=%q", a, b)
		case !a.Contains(d) || !a.Contains(i) || !b.Contains(i):
			return fmt.Sprintf("containment of a−b or a∩b wrong: a=%q b=%q", a, b)
		case !a.Subtract(a).IsEmpty():
			return fmt.Sprintf("a−a not empty for %q", a)
		}
		return ""
	})
}

func TestPropertySetContains(t *testing.T) {
	forCases(t, "set contains", func(t *testing.T, r *rand.Rand) string {
		a, b := genSet(t, r), genSet(t, r)
		if r.IntN(3) == 0 {
			b = a.Intersect(b) // make containment common
		}
		if got, want := a.Contains(b), b.Subtract(a).IsEmpty(); got != want {
			return fmt.Sprintf("a=%q ⊇ b=%q is %v, but b−a empty is %v", a, b, got, want)
		}
		if got, want := a.Equal(b), a.Contains(b) && b.Contains(a); got != want {
			return fmt.Sprintf("Equal %v but mutual containment %v: a=%q b=%q", got, want, a, b)
		}
		ord, rev := a.Compare(b), b.Compare(a)
		if want := map[Order]Order{Less: Greater, Greater: Less, Equal: Equal, Incomparable: Incomparable}[ord]; rev != want {
			return fmt.Sprintf("Compare not antisymmetric: %v then %v; a=%q b=%q", ord, rev, a, b)
		}
		return ""
	})
}

// The algebra against a brute-force model, on sets small enough to list.
func TestPropertySetModel(t *testing.T) {
	forCases(t, "set model", func(t *testing.T, r *rand.Rand) string {
		a, b := genSet(t, r), genSet(t, r)
		if a.Count() > 2000 || b.Count() > 2000 {
			return ""
		}
		ma, mb := members(a), members(b)
		for k := range members(a.Union(b)) {
			if !ma[k] && !mb[k] {
				return fmt.Sprintf("a ∪ b has %s from neither; a=%q b=%q", k, a, b)
			}
		}
		mu, mi, md := members(a.Union(b)), members(a.Intersect(b)), members(a.Subtract(b))
		for k := range ma {
			if !mu[k] || mi[k] != mb[k] || md[k] == mb[k] {
				return fmt.Sprintf("%s of a misplaced; a=%q b=%q", k, a, b)
			}
		}
		for k := range mb {
			if !mu[k] || mi[k] != ma[k] || md[k] {
				return fmt.Sprintf("%s of b misplaced; a=%q b=%q", k, a, b)
			}
		}
		if uint64(len(ma)) != a.Count() {
			return fmt.Sprintf("Count %d, members %d for %q", a.Count(), len(ma), a)
		}
		return ""
	})
}

func TestPropertySetStringParse(t *testing.T) {
	forCases(t, "set string", func(t *testing.T, r *rand.Rand) string {
		a := genSet(t, r)
		if msg := wellFormed(a); msg != "" {
			return msg
		}
		txt := a.String()
		b, err := ParseSet(txt)
		switch {
		case err != nil:
			return fmt.Sprintf("canonical %q does not parse: %v", txt, err)
		case !b.Equal(a):
			return fmt.Sprintf("Parse(String(a)) ≠ a for %q", txt)
		case b.String() != txt:
			return fmt.Sprintf("String(Parse(%q)) = %q", txt, b.String())
		}
		return ""
	})
}

// MariaDB positions: few domains and servers, small seqs, so that ties and
// conflicts (same seq, different server) happen.
func genPos(t *testing.T, r *rand.Rand) Position {
	t.Helper()
	var parts []string
	for d := range uint32(4) {
		if r.IntN(3) == 0 {
			continue
		}
		parts = append(parts, Triple{d, uint32(1 + r.IntN(3)), uint64(r.IntN(6))}.String())
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	txt := strings.Join(parts, ",")
	p, err := ParsePosition(txt)
	if err != nil {
		t.Fatalf("generated position %q does not parse: %v", txt, err)
	}
	return p
}

// conflict reports a domain where a and b have the same seq from different
// servers.
func conflict(a, b Position) bool {
	for _, x := range a.ts {
		if y, ok := b.Get(x.Domain); ok && x.Seq == y.Seq && x.Server != y.Server {
			return true
		}
	}
	return false
}

func TestPropertyPositionOrder(t *testing.T) {
	reverse := map[Order]Order{Less: Greater, Greater: Less, Equal: Equal, Incomparable: Incomparable}
	forCases(t, "position order", func(t *testing.T, r *rand.Rand) string {
		a, b, c := genPos(t, r), genPos(t, r), genPos(t, r)
		ab, ba := a.Compare(b), b.Compare(a)
		switch {
		case ab == OrderUnknown:
			return "Compare returned OrderUnknown"
		case ba != reverse[ab]:
			return fmt.Sprintf("not antisymmetric: Compare(%q, %q) = %v, reversed %v", a, b, ab, ba)
		case (ab == Equal) != a.Equal(b):
			return fmt.Sprintf("Compare(%q, %q) = %v but Equal = %v", a, b, ab, a.Equal(b))
		case a.Compare(a) != Equal:
			return fmt.Sprintf("Compare(a, a) = %v for %q", a.Compare(a), a)
		}
		// transitive: a ≤ b ≤ c ⇒ a ≤ c
		if b.Contains(a) && c.Contains(b) && !c.Contains(a) {
			return fmt.Sprintf("not transitive: %q ≤ %q ≤ %q", a, b, c)
		}
		// Subtract is empty exactly when contained
		if got := len(a.Subtract(b)) == 0; got != b.Contains(a) {
			return fmt.Sprintf("%q − %q empty = %v, but %q ⊇ %q = %v", a, b, got, b, a, b.Contains(a))
		}
		return ""
	})
}

func TestPropertyPositionUnion(t *testing.T) {
	forCases(t, "position union", func(t *testing.T, r *rand.Rand) string {
		a, b := genPos(t, r), genPos(t, r)
		u := a.Union(b)
		if o := u.Compare(a); o != Greater && o != Equal {
			return fmt.Sprintf("a=%q not ≤ a ∪ b=%q (%v)", a, u, o)
		}
		if !conflict(a, b) {
			if o := u.Compare(b); o != Greater && o != Equal {
				return fmt.Sprintf("b=%q not ≤ a ∪ b=%q (%v), no conflict", b, u, o)
			}
			if !u.Equal(b.Union(a)) {
				return fmt.Sprintf("union not commutative without conflict: a=%q b=%q", a, b)
			}
		} else if u.Contains(b) {
			return fmt.Sprintf("a=%q and b=%q conflict, yet a ∪ b=%q contains b", a, b, u)
		}
		// per-domain max
		for _, d := range []uint32{0, 1, 2, 3} {
			x, okA := a.Get(d)
			y, okB := b.Get(d)
			z, okU := u.Get(d)
			if okU != (okA || okB) {
				return fmt.Sprintf("domain %d in a ∪ b = %v, in a %v, in b %v", d, okU, okA, okB)
			}
			if okU && z.Seq != max(x.Seq, y.Seq) {
				return fmt.Sprintf("domain %d: a ∪ b has seq %d, want max(%d, %d)", d, z.Seq, x.Seq, y.Seq)
			}
		}
		if !a.Union(a).Equal(a) {
			return fmt.Sprintf("not idempotent for %q", a)
		}
		if p, err := ParsePosition(u.String()); err != nil || !p.Equal(u) || p.String() != u.String() {
			return fmt.Sprintf("round trip of %q: %q, %v", u, p, err)
		}
		return ""
	})
}

func genState(t *testing.T, r *rand.Rand) State {
	t.Helper()
	var parts []string
	for d := range uint32(3) {
		for s := range uint32(4) {
			if r.IntN(2) == 0 {
				parts = append(parts, Triple{d, s + 1, uint64(r.IntN(8))}.String())
			}
		}
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	txt := strings.Join(parts, ",")
	st, err := ParseState(txt)
	if err != nil {
		t.Fatalf("generated state %q does not parse: %v", txt, err)
	}
	return st
}

func TestPropertyState(t *testing.T) {
	forCases(t, "state", func(t *testing.T, r *rand.Rand) string {
		a, b := genState(t, r), genState(t, r)
		u := a.Union(b)
		switch {
		case !u.Equal(b.Union(a)):
			return fmt.Sprintf("union not commutative: a=%q b=%q", a, b)
		case !u.Contains(a) || !u.Contains(b):
			return fmt.Sprintf("a ∪ b=%q does not contain a=%q and b=%q", u, a, b)
		case (len(a.Subtract(b)) == 0) != b.Contains(a):
			return fmt.Sprintf("%q − %q = %v, but contains = %v", a, b, a.Subtract(b), b.Contains(a))
		case !a.Pos().Union(b.Pos()).Contains(u.Pos()) && !conflict(a.Pos(), b.Pos()):
			return fmt.Sprintf("Pos of a ∪ b=%q is beyond a.Pos ∪ b.Pos", u)
		}
		if st, err := ParseState(u.String()); err != nil || !st.Equal(u) || st.String() != u.String() {
			return fmt.Sprintf("round trip of %q: %q, %v", u, st, err)
		}
		// every errant entry's server is outside the primaries, and every
		// other entry's inside
		prim := []uint32{1, 2}
		errant := map[Triple]bool{}
		for _, x := range a.Errant(prim) {
			errant[x] = true
		}
		for _, x := range a.ts {
			if errant[x] == (x.Server == 1 || x.Server == 2) {
				return fmt.Sprintf("Errant(%q, %v) misjudged %s", a, prim, x)
			}
		}
		return ""
	})
}
