package promote

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// DefaultPriority is the priority of a replica whose configured priority is
// unset and whose replica-priority could not be read (Redis's own default).
const DefaultPriority = 100

// LinkDownFactor is how many down_after periods a replica's link may have
// been down beyond the primary's own downtime and still be promoted, as in
// Redis Sentinel (sentinelSelectSlave: (now − s_down_since) + 10 ×
// down-after-milliseconds).
const LinkDownFactor = 10

// Lineage is the replication history of a Redis primary (DESIGN.md §2):
// master_replid, master_replid2 and master_repl_offset from one
// observation. The zero value is unknown.
type Lineage struct {
	// ReplID is master_replid.
	ReplID string `json:"master_replid"`
	// ReplID2 is master_replid2; empty or all zeros when it has none.
	ReplID2 string `json:"master_replid2,omitempty"`
	// Offset is master_repl_offset (bytes) when it was observed.
	Offset int64 `json:"master_repl_offset"`
}

// RedisLineage takes the lineage from an instance's facts; unknown (zero)
// when f is nil or has no replid.
func RedisLineage(f *probe.RedisFacts) Lineage {
	if f == nil || f.ReplID == "" {
		return Lineage{}
	}
	return Lineage{ReplID: f.ReplID, ReplID2: f.ReplID2, Offset: f.Offset}
}

// Known says whether the lineage was observed.
func (l Lineage) Known() bool { return l.ReplID != "" }

// has says whether a replica in history id is in this lineage: id is the
// primary's replid or, after the primary's own promotion, its replid2.
func (l Lineage) has(id string) bool {
	return id == l.ReplID || (!unsetReplID(l.ReplID2) && id == l.ReplID2)
}

func unsetReplID(id string) bool { return strings.Trim(id, "0") == "" }

// Candidate is one replica of the old primary as this sentinel sees it.
type Candidate struct {
	// Address names the replica (DESIGN.md §2).
	Address string `json:"address"`
	// Observation is its latest probe result; Observation.Redis carries the
	// replication facts ranked on.
	Observation probe.Observation `json:"observation"`
	// SDOWN is this sentinel's detector's verdict on it.
	SDOWN bool `json:"sdown"`
	// Priority is the configured priority (clusters[].instances[].priority);
	// nil uses the server's replica-priority, or DefaultPriority when that
	// is unknown. Lower is preferred; 0 never promotes.
	Priority *int `json:"priority,omitempty"`
}

// Limits bound which replicas may be promoted.
type Limits struct {
	// MaxLinkDown excludes a replica whose link to the old primary has been
	// down longer than this. 0 derives it like Redis Sentinel:
	// (now − PrimaryDownSince) + LinkDownFactor × DownAfter; with neither
	// set there is no bound.
	MaxLinkDown time.Duration `json:"max_link_down_ns,omitempty"`
	// PrimaryDownSince is when this sentinel's detector declared the old
	// primary SDOWN.
	PrimaryDownSince time.Time `json:"primary_down_since,omitzero"`
	// DownAfter is the detection window (detection.down_after).
	DownAfter time.Duration `json:"down_after_ns,omitempty"`
	// MaxObservationAge excludes a replica whose latest observation started
	// more than this before now (stale facts). 0 disables the check.
	MaxObservationAge time.Duration `json:"max_observation_age_ns,omitempty"`
}

// linkDownBound is the longest link downtime allowed; 0 means no bound.
func (l Limits) linkDownBound(now time.Time) time.Duration {
	if l.MaxLinkDown > 0 {
		return l.MaxLinkDown
	}
	if l.PrimaryDownSince.IsZero() || l.DownAfter <= 0 {
		return 0
	}
	return max(now.Sub(l.PrimaryDownSince), 0) + LinkDownFactor*l.DownAfter
}

// RankInput is what Rank decides from: read-only, gathered by the daemon.
type RankInput struct {
	Cluster string `json:"cluster"`
	// OldPrimary names the failed primary.
	OldPrimary string `json:"old_primary"`
	// OldLineage is the old primary's lineage from its last good
	// observation in the committed history: before any restart that broke
	// it (a primary restarted empty has a new replid and must not define
	// the lineage, notes/redis.md). Zero when never observed.
	OldLineage Lineage `json:"old_lineage"`
	// Candidates are the replicas to rank, in any order.
	Candidates []Candidate `json:"candidates"`
	// AddressMap translates addresses servers report (a replica's
	// master_host:master_port) to the names used here (probe.MapAddress).
	AddressMap map[string]string `json:"address_map,omitempty"`
	Limits     Limits            `json:"limits"`
}

// Exclusion says why a replica may not be promoted. The zero value means it
// is not excluded.
type Exclusion uint8

const (
	NotExcluded          Exclusion = iota
	ExcludedOldPrimary             // it is the old primary itself
	ExcludedSDOWN                  // this sentinel's detector says it is down
	ExcludedUnreachable            // its latest probe got no live answer
	ExcludedStale                  // its latest observation is too old
	ExcludedNoFacts                // no Redis replication facts
	ExcludedLoading                // loading its dataset
	ExcludedNotReplica             // reports itself primary, or no role
	ExcludedOtherPrimary           // replicates another primary
	ExcludedLineage                // another replication history
	ExcludedFullSync               // a full sync is replacing its data
	ExcludedLinkDown               // link to the old primary down too long, or never up
	ExcludedPriorityZero           // priority 0: never promote
	ExcludedNoOffset               // no replication offset reported
	ExcludedAmbiguous              // old lineage unknown and replicas disagree
)

var exclusionNames = []string{
	NotExcluded:          "",
	ExcludedOldPrimary:   "old-primary",
	ExcludedSDOWN:        "sdown",
	ExcludedUnreachable:  "unreachable",
	ExcludedStale:        "stale",
	ExcludedNoFacts:      "no-facts",
	ExcludedLoading:      "loading",
	ExcludedNotReplica:   "not-replica",
	ExcludedOtherPrimary: "other-primary",
	ExcludedLineage:      "lineage",
	ExcludedFullSync:     "full-sync",
	ExcludedLinkDown:     "link-down",
	ExcludedPriorityZero: "priority-0",
	ExcludedNoOffset:     "no-offset",
	ExcludedAmbiguous:    "ambiguous-lineage",
}

func (e Exclusion) String() string {
	if int(e) < len(exclusionNames) {
		return exclusionNames[e]
	}
	return "exclusion(" + strconv.Itoa(int(e)) + ")"
}

func (e Exclusion) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

func (e *Exclusion) UnmarshalText(b []byte) error {
	for i, n := range exclusionNames {
		if n == string(b) {
			*e = Exclusion(i)
			return nil
		}
	}
	return fmt.Errorf("unknown exclusion %q", b)
}

// Verdict is the ranking's judgement of one replica.
type Verdict struct {
	Address string `json:"address"`
	// Rank is 1 for the chosen replica, 2 for the next; 0 when excluded.
	Rank      int       `json:"rank"`
	Exclusion Exclusion `json:"exclusion,omitempty"`
	// Reason says why, for a person: "candidate #1: offset 12345 (most
	// advanced)", "excluded: priority 0".
	Reason string `json:"reason"`
	// The facts ranked on, as far as they were known; Offset -1 when not.
	Offset   int64  `json:"offset"`
	Priority int    `json:"priority"`
	ReplID   string `json:"master_replid,omitempty"`
	LinkUp   bool   `json:"link_up"`
	// LastIOSecondsAgo is master_last_io_seconds_ago; -1 when the link is
	// down or unknown.
	LastIOSecondsAgo int64 `json:"last_io_seconds_ago"`
	// Received is what a MySQL replica received (GTID set or position), in
	// canonical form; empty for Redis.
	Received string `json:"received,omitempty"`
}

// Ranking is Rank's decision: which replica to promote and why, with a
// verdict for every replica.
type Ranking struct {
	Cluster    string    `json:"cluster"`
	OldPrimary string    `json:"old_primary"`
	At         time.Time `json:"at"`
	// Chosen is the replica to promote; empty when none may be.
	Chosen string `json:"chosen"`
	// Why explains the choice, or what a person can do when there is none.
	Why string `json:"why"`
	// LinkDownBound is the link downtime bound applied; 0 when none was.
	LinkDownBound time.Duration `json:"link_down_bound_ns"`
	// Verdicts: the candidates in rank order, then the excluded replicas
	// by address.
	Verdicts []Verdict `json:"verdicts"`
}

// Candidates returns the ranked (not excluded) verdicts, best first.
func (r Ranking) Candidates() []Verdict {
	var out []Verdict
	for _, v := range r.Verdicts {
		if v.Rank > 0 {
			out = append(out, v)
		}
	}
	return out
}

// String prints the ranking for a person (imctl failover --dry-run).
func (r Ranking) String() string {
	var b strings.Builder
	if r.Chosen != "" {
		fmt.Fprintf(&b, "cluster %s: promote %s (old primary %s)\n", r.Cluster, r.Chosen, r.OldPrimary)
	} else {
		fmt.Fprintf(&b, "cluster %s: no replica to promote (old primary %s)\n", r.Cluster, r.OldPrimary)
	}
	fmt.Fprintf(&b, "%s\n", r.Why)
	if len(r.Verdicts) == 0 {
		return b.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tOFFSET\tPRIORITY\tVERDICT")
	for _, v := range r.Verdicts {
		off := "-"
		if v.Offset >= 0 {
			off = strconv.FormatInt(v.Offset, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", v.Address, off, v.Priority, v.Reason)
	}
	tw.Flush()
	return b.String()
}

// scored is a replica that passed every exclusion, with its sort keys.
type scored struct {
	i        int // index into verdicts
	offset   int64
	priority int
	linkUp   bool
	lastIO   int64 // when linkUp
	downFor  int64 // when !linkUp
	address  string
}

// better orders candidates: largest offset (data first, DESIGN.md §6.5),
// then lower priority, then the freshest link (up before down; less time
// since the last I/O; shorter downtime), then the address.
func better(a, b scored) int {
	if c := cmp.Compare(b.offset, a.offset); c != 0 {
		return c
	}
	if c := cmp.Compare(a.priority, b.priority); c != 0 {
		return c
	}
	if c := compareFreshness(a, b); c != 0 {
		return c
	}
	return cmp.Compare(a.address, b.address)
}

func compareFreshness(a, b scored) int {
	if a.linkUp != b.linkUp {
		if a.linkUp {
			return -1
		}
		return 1
	}
	if a.linkUp {
		return cmp.Compare(a.lastIO, b.lastIO)
	}
	return cmp.Compare(a.downFor, b.downFor)
}

// Rank chooses the replica to promote when a Redis primary failed
// (DESIGN.md §6.5). It is pure: now is the only time it knows.
//
// A replica is excluded, for the first of these reasons that holds: it is
// the old primary; SDOWN; unreachable; its observation is older than
// Limits.MaxObservationAge; no Redis facts; loading its dataset; it does
// not report itself a replica; it replicates another primary; its
// master_replid is neither the old primary's replid nor replid2 (when the
// old lineage is known); a full sync is in progress; its link has been
// down longer than the bound (Limits), or never up since it restarted (how
// stale it is cannot be told); priority 0; no replication offset. When the
// old lineage is unknown and the remaining replicas are in different
// histories, none is chosen: their offsets cannot be compared.
//
// The rest are ranked by slave_repl_offset, largest first (every offset is
// in the old primary's history, so they compare); priority (lower first),
// link freshness and finally the address break ties. Unlike Redis
// Sentinel, which puts priority first, data comes first here: priority
// only chooses among equally advanced replicas, and priority 0 excludes.
func Rank(in RankInput, now time.Time) Ranking {
	r := Ranking{Cluster: in.Cluster, OldPrimary: in.OldPrimary, At: now, LinkDownBound: in.Limits.linkDownBound(now)}
	verdicts := make([]Verdict, len(in.Candidates))
	var eligible []scored
	for i, c := range in.Candidates {
		v, s, ok := judge(in, c, r.LinkDownBound, now)
		verdicts[i] = v
		if ok {
			s.i = i
			eligible = append(eligible, s)
		}
	}
	if !in.OldLineage.Known() {
		histories := map[string]bool{}
		for _, s := range eligible {
			histories[verdicts[s.i].ReplID] = true
		}
		if len(histories) > 1 {
			for _, s := range eligible {
				v := &verdicts[s.i]
				v.Exclusion = ExcludedAmbiguous
				v.Reason = fmt.Sprintf("excluded: history %s, but the old primary's is unknown and the replicas are in %d histories", shortID(v.ReplID), len(histories))
			}
			eligible = nil
		}
	}
	slices.SortFunc(eligible, better)
	for n, s := range eligible {
		v := &verdicts[s.i]
		v.Rank = n + 1
		if n == 0 {
			v.Reason = fmt.Sprintf("candidate #1: offset %d (most advanced)", s.offset)
			continue
		}
		v.Reason = fmt.Sprintf("candidate #%d: %s", n+1, behind(eligible[0], eligible[n-1], s, n))
	}
	var ranked, excluded []Verdict
	for _, s := range eligible {
		ranked = append(ranked, verdicts[s.i])
	}
	for _, v := range verdicts {
		if v.Rank == 0 {
			excluded = append(excluded, v)
		}
	}
	slices.SortStableFunc(excluded, func(a, b Verdict) int { return cmp.Compare(a.Address, b.Address) })
	r.Verdicts = append(ranked, excluded...)
	r.Why = why(r, in, eligible, excluded)
	if len(eligible) > 0 {
		r.Chosen = verdicts[eligible[0].i].Address
	}
	return r
}

// behind explains why s ranks below the one before it (prev, rank n).
func behind(best, prev, s scored, n int) string {
	if s.offset < best.offset {
		return fmt.Sprintf("offset %d, %d bytes behind", s.offset, best.offset-s.offset)
	}
	head := fmt.Sprintf("offset %d (as advanced as #1), ", s.offset)
	switch {
	case s.priority != prev.priority:
		return head + fmt.Sprintf("priority %d after #%d's %d", s.priority, n, prev.priority)
	case compareFreshness(s, prev) != 0:
		return head + fmt.Sprintf("link %s after #%d's %s", freshness(s), n, freshness(prev))
	}
	return head + fmt.Sprintf("address after #%d's %s", n, prev.address)
}

func freshness(s scored) string {
	if s.linkUp {
		return fmt.Sprintf("last I/O %ds ago", s.lastIO)
	}
	return fmt.Sprintf("down for %ds", s.downFor)
}

// judge checks one replica against every exclusion; ok when it may be
// ranked.
func judge(in RankInput, c Candidate, bound time.Duration, now time.Time) (Verdict, scored, bool) {
	o := c.Observation
	f := o.Redis
	v := Verdict{Address: c.Address, Offset: -1, LastIOSecondsAgo: -1, Priority: DefaultPriority}
	prioSource := "default"
	if f != nil {
		v.ReplID = f.ReplID
		v.LinkUp = f.LinkUp
		if f.LinkUp {
			v.LastIOSecondsAgo = f.LastIOSecondsAgo
		}
		v.Offset = f.ReplicaOffset
		if v.Offset < 0 {
			v.Offset = f.Offset
		}
		if f.Priority >= 0 {
			v.Priority, prioSource = f.Priority, "replica-priority"
		}
	}
	if c.Priority != nil {
		v.Priority, prioSource = *c.Priority, "configured"
	}
	exclude := func(e Exclusion, format string, args ...any) (Verdict, scored, bool) {
		v.Exclusion = e
		v.Reason = "excluded: " + fmt.Sprintf(format, args...)
		return v, scored{}, false
	}
	primary := o.Primary
	if primary == "" && f != nil && f.PrimaryHost != "" {
		primary = net.JoinHostPort(f.PrimaryHost, strconv.Itoa(f.PrimaryPort))
	}
	switch {
	case sameAddress(in.AddressMap, c.Address, in.OldPrimary):
		return exclude(ExcludedOldPrimary, "the old primary itself")
	case c.SDOWN:
		return exclude(ExcludedSDOWN, "SDOWN")
	case !o.Reachable:
		return exclude(ExcludedUnreachable, "unreachable%s", because(o.Error))
	case in.Limits.MaxObservationAge > 0 && now.Sub(o.At) > in.Limits.MaxObservationAge:
		return exclude(ExcludedStale, "last observed %v ago > %v", now.Sub(o.At), in.Limits.MaxObservationAge)
	case f == nil:
		return exclude(ExcludedNoFacts, "no replication facts%s", because(o.Error))
	case f.Loading:
		return exclude(ExcludedLoading, "loading its dataset")
	case o.Role != probe.RoleReplica:
		return exclude(ExcludedNotReplica, "reports role %s, not replica", o.Role)
	case !sameAddress(in.AddressMap, primary, in.OldPrimary):
		return exclude(ExcludedOtherPrimary, "replicates %s, not the old primary", orNone(primary))
	case in.OldLineage.Known() && !in.OldLineage.has(f.ReplID):
		return exclude(ExcludedLineage, "history %s is not the old primary's (%s): it resynced from another or restarted primary", shortID(f.ReplID), shortID(in.OldLineage.ReplID))
	case f.SyncInProgress:
		return exclude(ExcludedFullSync, "full sync in progress (its data is being replaced)")
	case !f.LinkUp && f.LinkDownSinceSeconds < 0:
		return exclude(ExcludedLinkDown, "link never up since it restarted (how stale is unknown)")
	case !f.LinkUp && bound > 0 && time.Duration(f.LinkDownSinceSeconds)*time.Second > bound:
		return exclude(ExcludedLinkDown, "link down for %ds > %v", f.LinkDownSinceSeconds, bound)
	case v.Priority == 0:
		return exclude(ExcludedPriorityZero, "priority 0 (%s)", prioSource)
	case v.Offset < 0:
		return exclude(ExcludedNoOffset, "no replication offset reported")
	}
	s := scored{offset: v.Offset, priority: v.Priority, linkUp: f.LinkUp, address: c.Address}
	if f.LinkUp {
		s.lastIO = max(f.LastIOSecondsAgo, 0)
	} else {
		s.downFor = f.LinkDownSinceSeconds
	}
	return v, s, true
}

// sameAddress compares two addresses after the address map, so a reported
// master_host:master_port matches the instance it names.
func sameAddress(m map[string]string, a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return a == b || probe.MapAddress(m, a) == probe.MapAddress(m, b)
}

func because(err string) string {
	if err == "" {
		return ""
	}
	return " (" + err + ")"
}

func orNone(s string) string {
	if s == "" {
		return "no primary"
	}
	return s
}

// shortID shortens a replid for messages; 8 hex digits tell them apart.
func shortID(id string) string {
	if id == "" {
		return "unknown"
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func why(r Ranking, in RankInput, eligible []scored, excluded []Verdict) string {
	if len(eligible) > 0 {
		best := r.Verdicts[0]
		s := fmt.Sprintf("promote %s: offset %d, the most advanced of %d %s", best.Address, best.Offset, len(eligible), plural(len(eligible), "candidate", "candidates"))
		if len(excluded) > 0 {
			s += fmt.Sprintf(" (%d excluded)", len(excluded))
		}
		if in.OldLineage.Known() && in.OldLineage.Offset > best.Offset && in.OldLineage.ReplID == best.ReplID {
			s += fmt.Sprintf("; the old primary was last seen at offset %d, %d bytes ahead: writes after that point may be lost", in.OldLineage.Offset, in.OldLineage.Offset-best.Offset)
		}
		return s
	}
	if len(in.Candidates) == 0 {
		return "no replica can be promoted: none is known. Wait for the old primary to return, or add a replica of its data and force it with `imctl failover " + in.Cluster + " --to <address>`."
	}
	var parts []string
	for _, v := range excluded {
		parts = append(parts, v.Address+" "+strings.TrimPrefix(v.Reason, "excluded: "))
	}
	return "no replica can be promoted: " + strings.Join(parts, "; ") +
		". Wait for a replica to reconnect and catch up, or force one with `imctl failover " + in.Cluster +
		" --to <address>` (writes it did not receive are lost)."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
