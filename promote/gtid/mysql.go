package gtid

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// UUID is a MySQL source UUID (@@server_uuid, Source_UUID). The zero value
// is the nil UUID, which no server uses.
type UUID [16]byte

// uuidLen is the text length of a UUID: MySQL GTID sets use only the
// 8-4-4-4-12 form with dashes.
const uuidLen = 36

// ParseUUID reads a UUID in the 8-4-4-4-12 form, in either case.
func ParseUUID(s string) (UUID, error) {
	u, reason := parseUUID(s)
	if reason != "" {
		return UUID{}, &ParseError{What: "MySQL server UUID", Input: s, Reason: reason}
	}
	return u, nil
}

func parseUUID(s string) (UUID, string) {
	var u UUID
	if len(s) != uuidLen {
		return u, fmt.Sprintf("not a UUID: %d characters, want 36 (8-4-4-4-12 hex digits)", len(s))
	}
	var digits [32]byte
	n := 0
	for i := 0; i < uuidLen; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return u, fmt.Sprintf("not a UUID: %q at %d, want '-' (8-4-4-4-12 hex digits)", c, i)
			}
			continue
		}
		if !isHex(c) {
			return u, fmt.Sprintf("not a UUID: %q at %d is not a hex digit", c, i)
		}
		digits[n] = c
		n++
	}
	if _, err := hex.Decode(u[:], digits[:]); err != nil {
		return u, "not a UUID: " + err.Error()
	}
	return u, ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// String is the lowercase 8-4-4-4-12 form, as MySQL prints it.
func (u UUID) String() string {
	var b [uuidLen]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// Tag is the tag of a MySQL 8.3+ tagged GTID (uuid:tag:number); "" for the
// untagged GTIDs every server writes by default. A tag is 1–32 of
// [a-z0-9_], starting with a letter or '_'; MySQL compares tags without
// case and prints them in lowercase, so Parse lowercases them.
type Tag string

// maxTagLen is MySQL's tag_max_length.
const maxTagLen = 32

func parseTag(s string) (Tag, string) {
	if len(s) > maxTagLen {
		return "", fmt.Sprintf("longer than %d characters", maxTagLen)
	}
	t := strings.ToLower(s)
	for i := 0; i < len(t); i++ {
		c := t[i]
		ok := c == '_' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return "", fmt.Sprintf("%q at %d: a tag is letters, digits and '_', starting with a letter or '_'", c, i)
		}
	}
	return Tag(t), ""
}

// tsid is MySQL's transaction source identifier: a UUID and a tag.
type tsid struct {
	uuid UUID
	tag  Tag
}

func (a tsid) compare(b tsid) int {
	return cmp.Or(bytes.Compare(a.uuid[:], b.uuid[:]), strings.Compare(string(a.tag), string(b.tag)))
}

// run is the transactions of one tsid: a non-empty normalized list.
type run struct {
	id  tsid
	ivs []Interval
}

// Set is a MySQL GTID set (@@gtid_executed, Retrieved_Gtid_Set,
// Executed_Gtid_Set): per source UUID and tag, a set of transaction numbers.
//
// A Set is a value: no method modifies its receiver or arguments, and the
// zero value is the empty set. Two Sets are the same set exactly when Equal
// says so (== on Sets is not meaningful).
type Set struct {
	// runs is sorted by (uuid, tag); no two share a tsid; none is empty.
	runs []run
}

// ParseSet reads a GTID set as MySQL prints or accepts it:
//
//	3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9,
//	2174b383-5441-11e8-b90a-c80aa9429562:1-3:tag_a:1-4
//
// UUIDs in either case; a source may repeat and intervals may overlap or
// come in any order (they are merged); whitespace is allowed around every
// token (MySQL prints ",\n" between sources); empty elements between
// commas are skipped, as MySQL does; "" is the empty set. MySQL 8.3+
// tagged GTIDs are supported: after a UUID, a tag applies to the intervals
// that follow it, up to the next tag.
//
// It is stricter than the server where the server is silently lenient:
// an interval whose end is before its start (MySQL ignores it), a UUID
// with no intervals, a tag with no intervals, a number with a leading zero
// (MySQL would read "010" as octal), and a number above MaxGNO are errors.
func ParseSet(s string) (Set, error) {
	p := setParser{in: s}
	return p.parse()
}

type setParser struct {
	in  string
	acc map[tsid][]Interval
}

func (p *setParser) fail(piece string, lo, hi int, within, reason string) error {
	return &ParseError{What: "MySQL GTID set", Input: p.in, Piece: piece,
		Token: p.in[lo:hi], Offset: lo, Within: within, Reason: reason}
}

func (p *setParser) parse() (Set, error) {
	p.acc = map[tsid][]Interval{}
	for lo := 0; lo <= len(p.in); {
		hi := lo + strings.IndexByte(p.in[lo:], ',')
		if hi < lo {
			hi = len(p.in)
		}
		if err := p.element(lo, hi); err != nil {
			return Set{}, err
		}
		lo = hi + 1
	}
	var set Set
	for id, ivs := range p.acc {
		set.runs = append(set.runs, run{id, normalize(ivs)})
	}
	slices.SortFunc(set.runs, func(a, b run) int { return a.id.compare(b.id) })
	return set, nil
}

// element parses in[lo:hi], one "uuid:intervals[:tag:intervals]…".
func (p *setParser) element(lo, hi int) error {
	lo, hi = trimSpace(p.in, lo, hi)
	if lo == hi {
		return nil // MySQL skips empty elements between commas
	}
	// Split on ':' into segments.
	var segs [][2]int
	for a := lo; ; {
		b := a + strings.IndexByte(p.in[a:hi], ':')
		if b < a {
			b = hi
		}
		sa, sb := trimSpace(p.in, a, b)
		segs = append(segs, [2]int{sa, sb})
		if b == hi {
			break
		}
		a = b + 1
	}
	ulo, uhi := segs[0][0], segs[0][1]
	u, reason := parseUUID(p.in[ulo:uhi])
	if reason != "" {
		return p.fail("source", ulo, uhi, "", reason)
	}
	within := "source " + u.String()
	if len(segs) == 1 {
		return p.fail("source", ulo, uhi, "", "no intervals after the UUID")
	}
	id := tsid{uuid: u}
	wantInterval := false // a tag was just read
	for _, sg := range segs[1:] {
		a, b := sg[0], sg[1]
		tok := p.in[a:b]
		switch {
		case tok == "":
			return p.fail("interval", a, b, within, "empty (two colons in a row, or a colon at the end)")
		case tok[0] == '_' || 'a' <= tok[0] && tok[0] <= 'z' || 'A' <= tok[0] && tok[0] <= 'Z':
			if wantInterval {
				return p.fail("tag", a, b, within, fmt.Sprintf("follows tag %q, which has no intervals", id.tag))
			}
			t, reason := parseTag(tok)
			if reason != "" {
				return p.fail("tag", a, b, within, reason)
			}
			id.tag, wantInterval = t, true
		default:
			iv, reason := parseInterval(tok)
			if reason != "" {
				w := within
				if id.tag != "" {
					w += " tag " + string(id.tag)
				}
				return p.fail("interval", a, b, w, reason)
			}
			p.acc[id] = append(p.acc[id], iv)
			wantInterval = false
		}
	}
	if wantInterval {
		last := segs[len(segs)-1]
		return p.fail("tag", last[0], last[1], within, "no intervals after the tag")
	}
	return nil
}

// parseInterval reads "N" or "N-M" (spaces allowed around '-').
func parseInterval(tok string) (Interval, string) {
	first, last, isRange := strings.Cut(tok, "-")
	a, reason := parseGNO(strings.TrimFunc(first, isSpaceRune))
	if reason != "" {
		return Interval{}, "start: " + reason
	}
	if !isRange {
		return Interval{a, a}, ""
	}
	b, reason := parseGNO(strings.TrimFunc(last, isSpaceRune))
	if reason != "" {
		return Interval{}, "end: " + reason
	}
	if b < a {
		return Interval{}, "end before start"
	}
	return Interval{a, b}, ""
}

func isSpaceRune(r rune) bool { return r < 0x80 && isSpace(byte(r)) }

func parseGNO(s string) (uint64, string) {
	v, reason := parseDecimal(s, MaxGNO)
	if reason != "" {
		return 0, reason
	}
	if v == 0 {
		return 0, "transaction numbers start at 1"
	}
	return v, ""
}

// String is the canonical form: sources sorted by UUID, lowercase; for
// each UUID the untagged intervals, then each tag in order with its
// intervals; intervals sorted and merged; "," between UUIDs (MySQL prints
// ",\n": Parse reads both, and so does the server). "" for the empty set.
func (s Set) String() string {
	var b strings.Builder
	for i, r := range s.runs {
		if i == 0 || r.id.uuid != s.runs[i-1].id.uuid {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(r.id.uuid.String())
		}
		if r.id.tag != "" {
			b.WriteByte(':')
			b.WriteString(string(r.id.tag))
		}
		for _, iv := range r.ivs {
			b.WriteByte(':')
			b.WriteString(iv.String())
		}
	}
	return b.String()
}

func (s Set) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Set) UnmarshalText(b []byte) error {
	v, err := ParseSet(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// IsEmpty reports whether s holds no transaction.
func (s Set) IsEmpty() bool { return len(s.runs) == 0 }

// Count is the number of transactions in s, saturating at the largest
// uint64.
func (s Set) Count() uint64 {
	var n uint64
	for _, r := range s.runs {
		c := countIvs(r.ivs)
		if n > ^uint64(0)-c {
			return ^uint64(0)
		}
		n += c
	}
	return n
}

// Sources lists the source UUIDs in s, sorted.
func (s Set) Sources() []UUID {
	var out []UUID
	for i, r := range s.runs {
		if i == 0 || r.id.uuid != s.runs[i-1].id.uuid {
			out = append(out, r.id.uuid)
		}
	}
	return out
}

// Tags lists the tags under which s holds transactions of u, "" (untagged)
// first.
func (s Set) Tags(u UUID) []Tag {
	var out []Tag
	for _, r := range s.runs {
		if r.id.uuid == u {
			out = append(out, r.id.tag)
		}
	}
	return out
}

// Intervals is s's transactions of u under tag, sorted and merged; nil
// when there are none.
func (s Set) Intervals(u UUID, tag Tag) []Interval {
	for _, r := range s.runs {
		if r.id == (tsid{u, tag}) {
			return slices.Clone(r.ivs)
		}
	}
	return nil
}

// Source is the part of s that originated on u (every tag).
func (s Set) Source(u UUID) Set {
	var out Set
	for _, r := range s.runs {
		if r.id.uuid == u {
			out.runs = append(out.runs, r)
		}
	}
	return out
}

// Equal reports whether s and o hold the same transactions.
func (s Set) Equal(o Set) bool {
	return slices.EqualFunc(s.runs, o.runs, func(a, b run) bool {
		return a.id == b.id && slices.Equal(a.ivs, b.ivs)
	})
}

// Contains reports whether s ⊇ o: every transaction of o is in s. This is
// the test for "this replica received everything that one did" (DESIGN.md
// §6.5).
func (s Set) Contains(o Set) bool {
	i := 0
	for _, y := range o.runs {
		for i < len(s.runs) && s.runs[i].id.compare(y.id) < 0 {
			i++
		}
		if i == len(s.runs) || s.runs[i].id != y.id || !containsIvs(s.runs[i].ivs, y.ivs) {
			return false
		}
	}
	return true
}

// Compare orders s and o by inclusion: Equal, Less (s ⊂ o), Greater
// (s ⊃ o) or Incomparable (each holds a transaction the other lacks).
func (s Set) Compare(o Set) Order {
	return order(s.Contains(o), o.Contains(s))
}

// Union is s ∪ o.
func (s Set) Union(o Set) Set { return combine(s, o, unionIvs, true, true) }

// Intersect is s ∩ o.
func (s Set) Intersect(o Set) Set { return combine(s, o, intersectIvs, false, false) }

// Subtract is s − o: the transactions of s that o lacks (MySQL's
// GTID_SUBTRACT(s, o)).
func (s Set) Subtract(o Set) Set { return combine(s, o, subtractIvs, true, false) }

// combine walks the runs of a and b in tsid order. A tsid in both gets
// op(a's, b's); one only in a (b) is kept when onlyA (onlyB).
func combine(a, b Set, op func(x, y []Interval) []Interval, onlyA, onlyB bool) Set {
	var out Set
	i, j := 0, 0
	for i < len(a.runs) || j < len(b.runs) {
		c := 0
		switch {
		case i == len(a.runs):
			c = 1
		case j == len(b.runs):
			c = -1
		default:
			c = a.runs[i].id.compare(b.runs[j].id)
		}
		switch {
		case c < 0:
			if onlyA {
				out.runs = append(out.runs, a.runs[i])
			}
			i++
		case c > 0:
			if onlyB {
				out.runs = append(out.runs, b.runs[j])
			}
			j++
		default:
			if ivs := op(a.runs[i].ivs, b.runs[j].ivs); len(ivs) > 0 {
				out.runs = append(out.runs, run{a.runs[i].id, ivs})
			}
			i, j = i+1, j+1
		}
	}
	return out
}

// Errant is the part of replica s whose origin is not a primary of the
// cluster's committed history (DESIGN.md §6.5): s minus every transaction
// whose source UUID is in primaries. A replica that is merely ahead of
// others — more transactions of a known primary — has no errant
// transactions.
//
// It cannot see a write made on a server that was a primary once and
// carries its UUID (an old primary written to after it was demoted, or
// crash recovery committing transactions no replica acknowledged,
// notes/mariadb.md §4): compare such a returning server with the current
// primary instead, old.Subtract(current) (DESIGN.md §6.6).
func (s Set) Errant(primaries []UUID) Set {
	var out Set
	for _, r := range s.runs {
		if !slices.Contains(primaries, r.id.uuid) {
			out.runs = append(out.runs, r)
		}
	}
	return out
}
