package gtid

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Triple is one MariaDB GTID, domain-server-seq: transaction Seq of
// replication domain Domain, written first on the server with id Server.
// Sequence numbers grow within a domain whichever server writes (a new
// primary continues the domain's numbering), so Server says where one
// transaction came from, not whose numbering it is.
type Triple struct {
	Domain uint32 `json:"domain"`
	Server uint32 `json:"server"`
	Seq    uint64 `json:"seq"`
}

// String is "domain-server-seq".
func (t Triple) String() string {
	return strconv.FormatUint(uint64(t.Domain), 10) + "-" +
		strconv.FormatUint(uint64(t.Server), 10) + "-" +
		strconv.FormatUint(t.Seq, 10)
}

// Order is how two GTID sets or positions relate. The zero value is
// unknown; Compare never returns it.
type Order uint8

const (
	OrderUnknown Order = iota
	// Less: the left one is strictly behind (contained in) the right one.
	Less
	// Equal: the same.
	Equal
	// Greater: the left one is strictly ahead of (contains) the right one.
	Greater
	// Incomparable: each has something the other lacks (different domains
	// ahead, or diverged histories).
	Incomparable
)

func (o Order) String() string {
	switch o {
	case Less:
		return "less"
	case Equal:
		return "equal"
	case Greater:
		return "greater"
	case Incomparable:
		return "incomparable"
	}
	return "unknown"
}

func (o Order) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// order turns the two containments into an Order.
func order(ge, le bool) Order {
	switch {
	case ge && le:
		return Equal
	case ge:
		return Greater
	case le:
		return Less
	}
	return Incomparable
}

// entry is a parsed triple and where it was in the input.
type entry struct {
	Triple
	lo, hi int
}

// parseTriples reads "d-s-n,d-s-n,…" for errors named what. "" (or only
// whitespace) is an empty list; whitespace around entries is allowed.
func parseTriples(what, in string) ([]entry, error) {
	fail := func(piece string, lo, hi int, reason string) error {
		return &ParseError{What: what, Input: in, Piece: piece, Token: in[lo:hi], Offset: lo, Reason: reason}
	}
	if lo, hi := trimSpace(in, 0, len(in)); lo == hi {
		return nil, nil
	}
	var out []entry
	for lo := 0; lo <= len(in); {
		hi := lo + strings.IndexByte(in[lo:], ',')
		if hi < lo {
			hi = len(in)
		}
		a, b := trimSpace(in, lo, hi)
		if a == b {
			return nil, fail("entry", a, b, "empty (two commas in a row, or a comma at an end)")
		}
		parts := strings.Split(in[a:b], "-")
		if len(parts) != 3 {
			return nil, fail("entry", a, b, "want domain-server-seq")
		}
		d, reason := parseDecimal(parts[0], math.MaxUint32)
		if reason != "" {
			return nil, fail("entry", a, b, "domain id: "+reason)
		}
		s, reason := parseDecimal(parts[1], math.MaxUint32)
		if reason != "" {
			return nil, fail("entry", a, b, "server id: "+reason)
		}
		n, reason := parseDecimal(parts[2], math.MaxUint64)
		if reason != "" {
			return nil, fail("entry", a, b, "seq: "+reason)
		}
		out = append(out, entry{Triple{uint32(d), uint32(s), n}, a, b})
		lo = hi + 1
	}
	return out, nil
}

// Position is a MariaDB GTID position — @@gtid_binlog_pos,
// @@gtid_slave_pos, @@gtid_current_pos, Gtid_IO_Pos: the last transaction
// per replication domain, one entry per domain.
//
// Positions are partially ordered: a position is ahead of another when it
// is at least as far in every domain the other has, and two positions each
// ahead in a different domain are Incomparable. A Position is a value: no
// method modifies its receiver or arguments; the zero value is empty.
type Position struct {
	// ts is sorted by domain, one per domain.
	ts []Triple
}

// ParsePosition reads a position as MariaDB prints it ("0-1-100,1-2-50";
// "" is empty). Entries may come in any order; whitespace around them is
// allowed; numbers are plain decimal (no sign, no leading zero). A domain
// listed twice is an error: that is a gtid_binlog_state, for ParseState.
// An entry with seq 0 names no transaction (MariaDB numbers a domain from
// 1) and is dropped: "0-1-0" is the empty position.
func ParsePosition(s string) (Position, error) {
	const what = "MariaDB GTID position"
	es, err := parseTriples(what, s)
	if err != nil {
		return Position{}, err
	}
	slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.Domain, b.Domain) })
	var p Position
	for i, e := range es {
		if i > 0 && es[i-1].Domain == e.Domain {
			return Position{}, &ParseError{What: what, Input: s, Piece: "entry", Token: s[e.lo:e.hi], Offset: e.lo,
				Reason: fmt.Sprintf("domain %d already has %s: a position has one entry per domain (a gtid_binlog_state, with one per domain and server, is read by ParseState)", e.Domain, es[i-1].Triple)}
		}
		if e.Seq > 0 {
			p.ts = append(p.ts, e.Triple)
		}
	}
	return p, nil
}

// String is the canonical form, entries sorted by domain and joined by ","
// (as MariaDB prints it); "" when empty.
func (p Position) String() string { return joinTriples(p.ts) }

func joinTriples(ts []Triple) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.String())
	}
	return b.String()
}

func (p Position) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p *Position) UnmarshalText(b []byte) error {
	v, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// IsEmpty reports whether p has no domain.
func (p Position) IsEmpty() bool { return len(p.ts) == 0 }

// Triples lists p's entries, sorted by domain.
func (p Position) Triples() []Triple { return slices.Clone(p.ts) }

// Domains lists p's domains, sorted.
func (p Position) Domains() []uint32 {
	out := make([]uint32, len(p.ts))
	for i, t := range p.ts {
		out[i] = t.Domain
	}
	return out
}

// Get is p's entry for domain d.
func (p Position) Get(d uint32) (Triple, bool) {
	i, ok := slices.BinarySearchFunc(p.ts, d, func(t Triple, d uint32) int { return cmp.Compare(t.Domain, d) })
	if !ok {
		return Triple{}, false
	}
	return p.ts[i], true
}

// Origins lists the server ids of p's entries (the origin of each domain's
// last transaction), sorted, without repeats.
func (p Position) Origins() []uint32 { return origins(p.ts) }

func origins(ts []Triple) []uint32 {
	out := make([]uint32, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Server)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Equal reports whether p and o have the same entries.
func (p Position) Equal(o Position) bool { return slices.Equal(p.ts, o.ts) }

// Contains reports whether p is at or ahead of o: for every domain of o,
// p has that domain with a greater seq, or the same seq from the same
// server. The same seq from a different server is not contained: the two
// servers wrote different transactions under one number (diverged
// histories, or a GTID re-used after a truncated binlog).
//
// A position is only the frontier of each domain: it cannot show
// divergence below it. Use State and its Errant and Subtract for that.
func (p Position) Contains(o Position) bool {
	for _, t := range o.ts {
		u, ok := p.Get(t.Domain)
		if !ok || u.Seq < t.Seq || u.Seq == t.Seq && u.Server != t.Server {
			return false
		}
	}
	return true
}

// Compare orders p and o by Contains: Equal, Less (o is ahead), Greater (p
// is ahead) or Incomparable.
func (p Position) Compare(o Position) Order { return order(p.Contains(o), o.Contains(p)) }

// Union is, per domain, the entry with the greater seq (the position a
// server that received everything either received would be at). When both
// have the same seq from different servers (diverged), p's entry is kept:
// the union is then not ahead of o, and Compare says so.
func (p Position) Union(o Position) Position {
	var out Position
	i, j := 0, 0
	for i < len(p.ts) || j < len(o.ts) {
		switch {
		case j == len(o.ts) || i < len(p.ts) && p.ts[i].Domain < o.ts[j].Domain:
			out.ts = append(out.ts, p.ts[i])
			i++
		case i == len(p.ts) || o.ts[j].Domain < p.ts[i].Domain:
			out.ts = append(out.ts, o.ts[j])
			j++
		default:
			t := p.ts[i]
			if o.ts[j].Seq > t.Seq {
				t = o.ts[j]
			}
			out.ts = append(out.ts, t)
			i, j = i+1, j+1
		}
	}
	return out
}

// SeqRange describes transactions one list has and another lacks, in one
// domain: sequence numbers First…Last. Server is the origin of Last; the
// numbers before it may have other origins (MariaDB numbers a domain's
// transactions, whichever server writes them), and with gtid_strict_mode
// off some numbers in the range may not exist.
type SeqRange struct {
	Domain uint32 `json:"domain"`
	Server uint32 `json:"server"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
}

// String is "domain D seq F-L (last from server S)".
func (r SeqRange) String() string {
	seqs := "seq " + strconv.FormatUint(r.First, 10)
	if r.Last != r.First {
		seqs = "seqs " + strconv.FormatUint(r.First, 10) + "-" + strconv.FormatUint(r.Last, 10)
	}
	return fmt.Sprintf("domain %d %s (last from server %d)", r.Domain, seqs, r.Server)
}

// Count is the number of sequence numbers in r.
func (r SeqRange) Count() uint64 { return r.Last - r.First + 1 }

// Subtract describes what o lacks of p, per domain of p: seqs o.seq+1 …
// p.seq when o is behind, 1 … p.seq when o lacks the domain, and p.seq
// alone when o has the same seq from another server (o has a different
// transaction under that number). Empty when o contains p.
func (p Position) Subtract(o Position) []SeqRange {
	var out []SeqRange
	for _, t := range p.ts {
		u, ok := o.Get(t.Domain)
		switch {
		case !ok:
			if t.Seq > 0 {
				out = append(out, SeqRange{t.Domain, t.Server, 1, t.Seq})
			}
		case u.Seq < t.Seq:
			out = append(out, SeqRange{t.Domain, t.Server, u.Seq + 1, t.Seq})
		case u.Seq == t.Seq && u.Server != t.Server:
			out = append(out, SeqRange{t.Domain, t.Server, t.Seq, t.Seq})
		}
	}
	return out
}

// State is a MariaDB binlog state, @@gtid_binlog_state: the last
// transaction per replication domain and server id in the binary log
// ("0-1-100,0-2-105"), so it keeps every server that ever wrote to a
// domain. Errant transactions show here (notes/mariadb.md §4). A State is
// a value; the zero value is empty.
type State struct {
	// ts is sorted by (domain, server), one per pair.
	ts []Triple
}

// ParseState reads a binlog state as MariaDB prints it; a position is also
// a valid state. A (domain, server) pair listed twice is an error. Same
// syntax rules as ParsePosition, and seq-0 entries are dropped likewise.
func ParseState(s string) (State, error) {
	const what = "MariaDB GTID state"
	es, err := parseTriples(what, s)
	if err != nil {
		return State{}, err
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Server, b.Server))
	})
	var st State
	for i, e := range es {
		if i > 0 && es[i-1].Domain == e.Domain && es[i-1].Server == e.Server {
			return State{}, &ParseError{What: what, Input: s, Piece: "entry", Token: s[e.lo:e.hi], Offset: e.lo,
				Reason: fmt.Sprintf("domain %d server %d already has %s", e.Domain, e.Server, es[i-1].Triple)}
		}
		if e.Seq > 0 {
			st.ts = append(st.ts, e.Triple)
		}
	}
	return st, nil
}

// String is the canonical form: sorted by domain, and within a domain by
// seq, so each domain's latest transaction comes last as MariaDB prints it;
// "" when empty.
func (s State) String() string {
	ts := slices.Clone(s.ts)
	slices.SortFunc(ts, func(a, b Triple) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Server, b.Server))
	})
	return joinTriples(ts)
}

func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// IsEmpty reports whether s has no entry.
func (s State) IsEmpty() bool { return len(s.ts) == 0 }

// Triples lists s's entries sorted by domain, then server id.
func (s State) Triples() []Triple { return slices.Clone(s.ts) }

// Get is the last seq s has for domain d from server id srv.
func (s State) Get(d, srv uint32) (uint64, bool) {
	i, ok := slices.BinarySearchFunc(s.ts, Triple{Domain: d, Server: srv}, compareDS)
	if !ok {
		return 0, false
	}
	return s.ts[i].Seq, true
}

func compareDS(a, b Triple) int {
	return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Server, b.Server))
}

// Origins lists every server id in s, sorted, without repeats.
func (s State) Origins() []uint32 { return origins(s.ts) }

// Pos is the position s implies: per domain the entry with the greatest
// seq (the server id breaks a tie, lower first; with gtid_strict_mode no
// tie exists). It equals @@gtid_binlog_pos when gtid_strict_mode is on.
func (s State) Pos() Position {
	var p Position
	for _, t := range s.ts {
		n := len(p.ts)
		if n > 0 && p.ts[n-1].Domain == t.Domain {
			if t.Seq > p.ts[n-1].Seq {
				p.ts[n-1] = t
			}
			continue
		}
		p.ts = append(p.ts, t)
	}
	return p
}

// Equal reports whether s and o have the same entries.
func (s State) Equal(o State) bool { return slices.Equal(s.ts, o.ts) }

// Contains reports whether, for every (domain, server) of o, s has at
// least o's seq.
func (s State) Contains(o State) bool {
	for _, t := range o.ts {
		if n, ok := s.Get(t.Domain, t.Server); !ok || n < t.Seq {
			return false
		}
	}
	return true
}

// Union is, per (domain, server), the greater seq.
func (s State) Union(o State) State {
	var out State
	i, j := 0, 0
	for i < len(s.ts) || j < len(o.ts) {
		c := 0
		switch {
		case i == len(s.ts):
			c = 1
		case j == len(o.ts):
			c = -1
		default:
			c = compareDS(s.ts[i], o.ts[j])
		}
		switch {
		case c < 0:
			out.ts = append(out.ts, s.ts[i])
			i++
		case c > 0:
			out.ts = append(out.ts, o.ts[j])
			j++
		default:
			t := s.ts[i]
			t.Seq = max(t.Seq, o.ts[j].Seq)
			out.ts = append(out.ts, t)
			i, j = i+1, j+1
		}
	}
	return out
}

// Subtract describes what ref lacks of s, per (domain, server): seqs
// ref's+1 … s's for that pair (a missing pair counts as 0). This is the
// check for a returning old primary (DESIGN.md §6.6, notes/mariadb.md §4):
// s is its state right after restart, ref the new primary's; any range is
// errant. Example: s "0-1-9572", ref "0-1-9566,0-2-18962" → domain 0
// seqs 9567-9572 from server 1.
//
// It cannot see a GTID re-used with other content (a truncated binlog
// written to again, notes/mariadb.md gotcha 7): compare before anything
// writes there.
func (s State) Subtract(ref State) []SeqRange {
	var out []SeqRange
	for _, t := range s.ts {
		n, _ := ref.Get(t.Domain, t.Server)
		if t.Seq > n {
			out = append(out, SeqRange{t.Domain, t.Server, n + 1, t.Seq})
		}
	}
	return out
}

// Errant lists the entries of replica state s whose server id is not a
// primary of the cluster's committed history (DESIGN.md §6.5): the last
// transaction each such server wrote in each domain. Being ahead of other
// replicas — higher seqs from known primaries — is not errant.
//
// Like Set.Errant it cannot see a write on a server that once was a
// primary; use Subtract against the current primary for a returning one.
func (s State) Errant(primaries []uint32) []Triple {
	var out []Triple
	for _, t := range s.ts {
		if !slices.Contains(primaries, t.Server) {
			out = append(out, t)
		}
	}
	return out
}
