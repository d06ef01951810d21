package gtid

import (
	"cmp"
	"slices"
	"strconv"
)

// MaxGNO is the largest MySQL transaction number (GNO): the server's
// parse_gno refuses LLONG_MAX, so a GNO is 1 … 2^63−2. Keeping to it also
// means Last+1 never overflows here.
const MaxGNO = 1<<63 - 2

// Interval is the closed range First…Last of transaction numbers of one
// MySQL source: 1 ≤ First ≤ Last ≤ MaxGNO. In a Set the intervals of a
// source are sorted, disjoint and never adjacent (1-3:4-5 is kept as 1-5).
type Interval struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// String is "First-Last", or "First" for one transaction, as MySQL prints it.
func (iv Interval) String() string {
	if iv.First == iv.Last {
		return strconv.FormatUint(iv.First, 10)
	}
	return strconv.FormatUint(iv.First, 10) + "-" + strconv.FormatUint(iv.Last, 10)
}

// count is the number of transactions in iv.
func (iv Interval) count() uint64 { return iv.Last - iv.First + 1 }

// normalize returns ivs sorted, with overlapping and adjacent intervals
// merged, in a new slice.
func normalize(ivs []Interval) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	s := slices.Clone(ivs)
	slices.SortFunc(s, func(a, b Interval) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if iv.First <= last.Last+1 {
			last.Last = max(last.Last, iv.Last)
			continue
		}
		out = append(out, iv)
	}
	return slices.Clip(out)
}

// The functions below take and return normalized lists and never modify
// their arguments.

// unionIvs is a ∪ b.
func unionIvs(a, b []Interval) []Interval {
	out := make([]Interval, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var next Interval
		if j == len(b) || (i < len(a) && a[i].First <= b[j].First) {
			next, i = a[i], i+1
		} else {
			next, j = b[j], j+1
		}
		if n := len(out); n > 0 && next.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, next.Last)
			continue
		}
		out = append(out, next)
	}
	return out
}

// intersectIvs is a ∩ b.
func intersectIvs(a, b []Interval) []Interval {
	var out []Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].First, b[j].First), min(a[i].Last, b[j].Last)
		if lo <= hi {
			out = append(out, Interval{lo, hi})
		}
		if a[i].Last < b[j].Last {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtractIvs is a − b.
func subtractIvs(a, b []Interval) []Interval {
	var out []Interval
	j := 0
	for _, cur := range a {
		for j < len(b) && b[j].Last < cur.First {
			j++
		}
		whole := true
		for k := j; k < len(b) && b[k].First <= cur.Last; k++ {
			if b[k].First > cur.First {
				out = append(out, Interval{cur.First, b[k].First - 1})
			}
			if b[k].Last >= cur.Last {
				whole = false
				break
			}
			cur.First = b[k].Last + 1
		}
		if whole {
			out = append(out, cur)
		}
	}
	return out
}

// containsIvs reports a ⊇ b. In a normalized list every interval of b must
// lie inside a single interval of a.
func containsIvs(a, b []Interval) bool {
	i := 0
	for _, y := range b {
		for i < len(a) && a[i].Last < y.First {
			i++
		}
		if i == len(a) || a[i].First > y.First || a[i].Last < y.Last {
			return false
		}
	}
	return true
}

// countIvs is the number of transactions in ivs, saturating at the largest
// uint64.
func countIvs(ivs []Interval) uint64 {
	var n uint64
	for _, iv := range ivs {
		c := iv.count()
		if n > ^uint64(0)-c {
			return ^uint64(0)
		}
		n += c
	}
	return n
}
