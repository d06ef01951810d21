package quorum

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Opinion is one sentinel's judgement of a cluster's primary (DESIGN.md
// §5.3). It names what it judges: the cluster, the sender's config epoch
// and the primary it believes in. Opinions about another config never
// count.
type Opinion struct {
	From        MemberID `json:"from"`
	Cluster     string   `json:"cluster"`
	ConfigEpoch uint64   `json:"config_epoch"`
	// ConfigVersion lets a sentinel that missed an update within the epoch
	// notice and pull it; the tally ignores it.
	ConfigVersion uint64 `json:"config_version,omitempty"`
	Primary       string `json:"primary"`
	// SDOWN is the sender's detector's verdict on Primary.
	SDOWN bool `json:"sdown"`
}

// Heard is an opinion with when this sentinel received it, on its own
// monotonic clock (the sender's clock is never trusted for freshness).
type Heard struct {
	Opinion
	At time.Time
}

// TallyInput is what ODOWN is decided from.
type TallyInput struct {
	Voters Voters
	// The config the tally is about: this sentinel's view.
	Cluster     string
	ConfigEpoch uint64
	Primary     string
	// Quorum is how many fresh SDOWN opinions make ODOWN.
	Quorum int
	// TTL is how long an opinion stays fresh after it was received.
	TTL time.Duration
	// Opinions are the latest heard from each member, this sentinel's own
	// included (heard at the time it formed it).
	Opinions []Heard
	// Cooldown asks for stronger evidence (DESIGN.md §5.10): every member
	// in Alive must report SDOWN, as well as at least Quorum, except a
	// member whose latest opinion is about another config.
	Cooldown bool
	// Alive are the members the transport sees alive; used in a cooldown.
	Alive []MemberID
}

// Verdict says how one member's opinion was counted.
type Verdict struct {
	Member  MemberID
	Counted bool   // a fresh SDOWN opinion about this config
	Why     string // "sdown", "says up", "stale (4.1s old > 3s)", "other config (epoch 3, primary x)", "not heard", "not a voter"
}

// Tally is the ODOWN decision with its explanation.
type Tally struct {
	ODOWN    bool
	Down     int // fresh SDOWN opinions about this config
	Quorum   int
	Verdicts []Verdict // one per voter, by id, then non-voters heard
	// Missing names the alive members still to report SDOWN in a cooldown.
	Missing []MemberID
}

// CountODOWN decides ODOWN (DESIGN.md §5.3): at least Quorum voters report
// SDOWN for the same (cluster, config epoch, primary), each opinion
// received within TTL of now. It is pure.
func CountODOWN(in TallyInput, now time.Time) Tally {
	latest := map[MemberID]Heard{}
	for _, h := range in.Opinions {
		if cur, ok := latest[h.From]; !ok || h.At.After(cur.At) {
			latest[h.From] = h
		}
	}
	t := Tally{Quorum: in.Quorum}
	down := map[MemberID]bool{}
	for _, id := range in.Voters.IDs() {
		h, ok := latest[id]
		v := Verdict{Member: id}
		switch age := now.Sub(h.At); {
		case !ok:
			v.Why = "not heard"
		case h.Cluster != in.Cluster || h.ConfigEpoch != in.ConfigEpoch || h.Primary != in.Primary:
			v.Why = fmt.Sprintf("other config (epoch %d, primary %s)", h.ConfigEpoch, h.Primary)
		case age > in.TTL:
			v.Why = fmt.Sprintf("stale (%v old > %v)", age.Round(time.Millisecond), in.TTL)
		case !h.SDOWN:
			v.Why = "says up"
		default:
			v.Counted, v.Why = true, "sdown"
			down[id] = true
			t.Down++
		}
		t.Verdicts = append(t.Verdicts, v)
	}
	var others []MemberID
	for id := range latest {
		if !in.Voters.Has(id) {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	for _, id := range others {
		t.Verdicts = append(t.Verdicts, Verdict{Member: id, Why: "not a voter"})
	}
	t.ODOWN = in.Quorum > 0 && t.Down >= in.Quorum
	if in.Cooldown {
		for _, id := range in.Alive {
			h, heard := latest[id]
			otherConfig := heard && (h.ConfigEpoch != in.ConfigEpoch || h.Primary != in.Primary)
			// A live sentinel judging another config cannot confirm this
			// one: requiring it would let one sentinel holding a config the
			// others never got block them for the whole cooldown.
			if in.Voters.Has(id) && !down[id] && !otherConfig {
				t.Missing = append(t.Missing, id)
			}
		}
		slices.Sort(t.Missing)
		if len(t.Missing) > 0 {
			t.ODOWN = false
		}
	}
	return t
}

// Describe explains the tally in one line for logs, events and test
// failures.
func (t Tally) Describe() string {
	var b strings.Builder
	if t.ODOWN {
		b.WriteString("ODOWN: ")
	} else {
		b.WriteString("not ODOWN: ")
	}
	fmt.Fprintf(&b, "%d of quorum %d report SDOWN", t.Down, t.Quorum)
	for _, v := range t.Verdicts {
		fmt.Fprintf(&b, "; %s %s", v.Member, v.Why)
	}
	if len(t.Missing) > 0 {
		fmt.Fprintf(&b, "; in cooldown every live sentinel must report SDOWN, still missing %v", t.Missing)
	}
	return b.String()
}
