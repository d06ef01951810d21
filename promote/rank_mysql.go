package promote

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/gtid"
)

// MySQL exclusions, beside the shared ones (SDOWN, unreachable, stale, not
// a replica, another primary, priority 0).
const (
	ExcludedErrant        Exclusion = iota + ExcludedAmbiguous + 1 // transactions from a server that never was a primary
	ExcludedThreadsBroken                                          // replication threads stopped with an error too long
	ExcludedNoGTID                                                 // no GTID position to compare
	ExcludedNoAccess                                               // refuses the admin login or lacks its grants
)

func init() {
	names := map[Exclusion]string{ExcludedErrant: "errant", ExcludedThreadsBroken: "threads-broken", ExcludedNoGTID: "no-gtid", ExcludedNoAccess: "no-access"}
	for e, n := range names {
		for int(e) >= len(exclusionNames) {
			exclusionNames = append(exclusionNames, "")
		}
		exclusionNames[e] = n
	}
}

// MySQLRankInput is what RankMySQL decides from.
type MySQLRankInput struct {
	Cluster    string            `json:"cluster"`
	OldPrimary string            `json:"old_primary"`
	Candidates []Candidate       `json:"candidates"`
	AddressMap map[string]string `json:"address_map,omitempty"`
	// PrimaryServerIDs (MariaDB) and PrimaryUUIDs (MySQL) name every server
	// that was a primary in the cluster's committed history: transactions
	// from any other origin are errant (DESIGN.md §6.5). Empty: the history
	// is unknown and nothing is judged errant.
	PrimaryServerIDs []uint32 `json:"primary_server_ids,omitempty"`
	PrimaryUUIDs     []string `json:"primary_uuids,omitempty"`
	// MaxObservationAge excludes a replica whose latest observation started
	// more than this before now. 0 disables the check.
	MaxObservationAge time.Duration `json:"max_observation_age_ns,omitempty"`
	// BrokenFor says, per replica, how long its replication threads have
	// been stopped by an error (the daemon tracks it from its
	// observations); one broken longer than MaxBroken is excluded. A
	// MaxBroken of 0 excludes at the first observation of the error.
	BrokenFor map[string]time.Duration `json:"broken_for_ns,omitempty"`
	MaxBroken time.Duration            `json:"max_broken_ns,omitempty"`
}

// received is what a replica has received from the cluster, in its
// flavor's terms.
type received struct {
	maria    gtid.Position
	mysql    gtid.Set
	isMySQL  bool
	describe string
}

func (r received) contains(o received) bool {
	if r.isMySQL {
		return r.mysql.Contains(o.mysql)
	}
	return r.maria.Contains(o.maria)
}

// lacks says, for a person, what o has that r has not.
func (r received) lacks(o received) string {
	if r.isMySQL {
		return o.mysql.Subtract(r.mysql).String()
	}
	var parts []string
	for _, s := range o.maria.Subtract(r.maria) {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ", ")
}

// receivedOf reads a MySQL replica's received transactions: MariaDB the
// union of its current position and the IO thread's (Gtid_IO_Pos); MySQL
// gtid_executed ∪ Retrieved_Gtid_Set.
func receivedOf(f *probe.MySQLFacts, ch *probe.Channel) (received, error) {
	if f.Flavor == probe.FlavorMySQL {
		set, err := gtid.ParseSet(f.GTIDExecuted)
		if err != nil {
			return received{}, err
		}
		if ch != nil && ch.RetrievedGTIDSet != "" {
			got, err := gtid.ParseSet(ch.RetrievedGTIDSet)
			if err != nil {
				return received{}, err
			}
			set = set.Union(got)
		}
		return received{mysql: set, isMySQL: true, describe: set.String()}, nil
	}
	pos, err := gtid.ParsePosition(f.GTIDCurrentPos)
	if err != nil {
		return received{}, err
	}
	if ch != nil && ch.GTIDIOPos != "" {
		io, err := gtid.ParsePosition(ch.GTIDIOPos)
		if err != nil {
			return received{}, err
		}
		pos = pos.Union(io)
	}
	return received{maria: pos, describe: pos.String()}, nil
}

// errantOf lists a replica's transactions whose origin never was a
// primary of the cluster; "" when none.
//
// With no known primary (the history is unknown) nothing is errant: the
// check needs at least the old primary's identity.
func errantOf(in MySQLRankInput, f *probe.MySQLFacts) (string, error) {
	if f.Flavor == probe.FlavorMySQL && len(in.PrimaryUUIDs) == 0 || f.Flavor != probe.FlavorMySQL && len(in.PrimaryServerIDs) == 0 {
		return "", nil
	}
	if f.Flavor == probe.FlavorMySQL {
		set, err := gtid.ParseSet(f.GTIDExecuted)
		if err != nil {
			return "", err
		}
		var uuids []gtid.UUID
		for _, s := range in.PrimaryUUIDs {
			u, err := gtid.ParseUUID(s)
			if err != nil {
				return "", err
			}
			uuids = append(uuids, u)
		}
		if e := set.Errant(uuids); !e.IsEmpty() {
			return e.String(), nil
		}
		return "", nil
	}
	st, err := gtid.ParseState(f.GTIDBinlogState)
	if err != nil {
		return "", err
	}
	var out []string
	for _, t := range st.Errant(in.PrimaryServerIDs) {
		out = append(out, t.String())
	}
	return strings.Join(out, ","), nil
}

// RankMySQL chooses among the replicas of a failed MySQL or MariaDB primary
// (DESIGN.md §6.5): data first. It excludes the replicas that are down or
// stale, not replicas of the old primary, with replication threads stopped
// by an error, with priority 0, or with errant transactions (an origin
// that never was a primary of the cluster; being ahead of the others is
// not errant). Of the rest it chooses the one whose received set contains
// every reachable replica's, so no transaction any replica received is
// lost; priority (lower first), lag and the address break ties. When none
// contains them all, none is chosen, and Why says what each lacks and how
// to force one.
func RankMySQL(in MySQLRankInput, now time.Time) Ranking {
	r := Ranking{Cluster: in.Cluster, OldPrimary: in.OldPrimary, At: now}
	type cand struct {
		v        Verdict
		rec      received
		known    bool // rec was read
		lag      int64
		eligible bool
	}
	cands := make([]cand, len(in.Candidates))
	for i, c := range in.Candidates {
		cands[i].v, cands[i].rec, cands[i].known, cands[i].lag, cands[i].eligible = judgeMySQL(in, c, now)
	}
	// The data to keep: what every reachable, non-errant replica received.
	var keep []int
	for i, c := range cands {
		if c.known && c.v.Exclusion != ExcludedErrant {
			keep = append(keep, i)
		}
	}
	var complete []int
	for i, c := range cands {
		if !c.eligible {
			continue
		}
		var missing []string
		for _, k := range keep {
			if k != i && !c.rec.contains(cands[k].rec) {
				missing = append(missing, fmt.Sprintf("%s's %s", cands[k].v.Address, c.rec.lacks(cands[k].rec)))
			}
		}
		if len(missing) > 0 {
			cands[i].v.Reason = "lacks " + strings.Join(missing, "; ")
			continue
		}
		complete = append(complete, i)
	}
	slices.SortFunc(complete, func(a, b int) int {
		ca, cb := cands[a], cands[b]
		return cmp.Or(cmp.Compare(ca.v.Priority, cb.v.Priority), cmp.Compare(ca.lag, cb.lag),
			strings.Compare(ca.v.Address, cb.v.Address))
	})
	for n, i := range complete {
		v := &cands[i].v
		v.Rank = n + 1
		if n == 0 {
			v.Reason = fmt.Sprintf("candidate #1: received every transaction the reachable replicas did (%s)", cands[i].rec.describe)
			continue
		}
		v.Reason = fmt.Sprintf("candidate #%d: as complete as #1; priority %d, lag %ds, ranked after #%d", n+1, v.Priority, cands[i].lag, n)
	}
	var ranked, rest []Verdict
	for _, i := range complete {
		ranked = append(ranked, cands[i].v)
	}
	for _, c := range cands {
		if c.v.Rank == 0 {
			rest = append(rest, c.v)
		}
	}
	slices.SortStableFunc(rest, func(a, b Verdict) int { return cmp.Compare(a.Address, b.Address) })
	r.Verdicts = append(ranked, rest...)
	switch {
	case len(complete) > 0:
		r.Chosen = cands[complete[0]].v.Address
		r.Why = fmt.Sprintf("promote %s: it received every transaction any reachable replica did (%d %s)",
			r.Chosen, len(complete), plural(len(complete), "candidate", "candidates"))
	case len(in.Candidates) == 0:
		r.Why = "no replica can be promoted: none is known. Wait for the old primary to return, or force a replica with `imctl failover " +
			in.Cluster + " --to <address>`."
	default:
		var parts []string
		for _, v := range rest {
			parts = append(parts, v.Address+" "+strings.TrimPrefix(v.Reason, "excluded: "))
		}
		r.Why = "no replica can be promoted without losing transactions another received: " + strings.Join(parts, "; ") +
			". Wait for the replicas to catch up or the old primary to return, or force one with `imctl failover " + in.Cluster +
			" --to <address>` (what it lacks is lost)."
	}
	return r
}

// judgeMySQL checks one replica against every exclusion and reads what it
// received.
func judgeMySQL(in MySQLRankInput, c Candidate, now time.Time) (v Verdict, rec received, known bool, lag int64, ok bool) {
	o := c.Observation
	f := o.MySQL
	v = Verdict{Address: c.Address, Offset: -1, LastIOSecondsAgo: -1, Priority: DefaultPriority}
	if c.Priority != nil {
		v.Priority = *c.Priority
	}
	exclude := func(e Exclusion, format string, args ...any) (Verdict, received, bool, int64, bool) {
		v.Exclusion = e
		v.Reason = "excluded: " + fmt.Sprintf(format, args...)
		return v, rec, known, lag, false
	}
	var ch *probe.Channel
	if f != nil {
		for i := range f.Channels {
			if sameAddress(in.AddressMap, f.Channels[i].Source, in.OldPrimary) {
				ch = &f.Channels[i]
			}
		}
		lag = f.LagSeconds
	}
	if o.Reachable && f != nil {
		if got, err := receivedOf(f, ch); err == nil {
			rec, known = got, true
			v.Received = got.describe
		}
	}
	// A candidate this sentinel cannot administer would fail mid-promotion
	// (docs/grants.md): a refused admin login, or a missing grant.
	administrable, noAccess := o.Access.Administrable()
	switch {
	case sameAddress(in.AddressMap, c.Address, in.OldPrimary):
		return exclude(ExcludedOldPrimary, "the old primary itself")
	case c.SDOWN:
		return exclude(ExcludedSDOWN, "SDOWN")
	case !o.Reachable:
		return exclude(ExcludedUnreachable, "unreachable%s", because(o.Error))
	case in.MaxObservationAge > 0 && now.Sub(o.At) > in.MaxObservationAge:
		return exclude(ExcludedStale, "last observed %v ago > %v", now.Sub(o.At), in.MaxObservationAge)
	case !administrable:
		return exclude(ExcludedNoAccess, "cannot be administered: %s", noAccess)
	case f == nil:
		return exclude(ExcludedNoFacts, "no replication facts%s", because(o.Error))
	case ch == nil:
		return exclude(ExcludedOtherPrimary, "no replication channel from the old primary %s", in.OldPrimary)
	}
	if errant, err := errantOf(in, f); err != nil {
		return exclude(ExcludedNoGTID, "cannot read its GTID state: %v", err)
	} else if errant != "" {
		return exclude(ExcludedErrant, "errant transactions %s (their origin never was a primary of %s)", errant, in.Cluster)
	}
	switch {
	case !known:
		return exclude(ExcludedNoGTID, "no GTID position to compare")
	case brokenTooLong(in, c.Address) && ch.LastIOErrno != 0 && ch.IO != probe.IORunning:
		return exclude(ExcludedThreadsBroken, "IO thread stopped with error %d for %v: %s", ch.LastIOErrno, in.BrokenFor[c.Address], ch.LastIOError)
	case brokenTooLong(in, c.Address) && ch.LastSQLErrno != 0 && !ch.SQLRunning:
		return exclude(ExcludedThreadsBroken, "SQL thread stopped with error %d for %v: %s (its relay log cannot be applied)",
			ch.LastSQLErrno, in.BrokenFor[c.Address], ch.LastSQLError)
	case v.Priority == 0:
		return exclude(ExcludedPriorityZero, "priority 0")
	}
	return v, rec, known, lag, true
}

// brokenTooLong says whether addr's threads have been broken longer than
// the bound.
func brokenTooLong(in MySQLRankInput, addr string) bool {
	return in.MaxBroken == 0 || in.BrokenFor[addr] > in.MaxBroken
}
