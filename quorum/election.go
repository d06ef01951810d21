package quorum

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Election is a candidate's count of one election it started: which voters
// granted, which refused and why (DESIGN.md §5.5). The candidate's own
// vote is recorded like any other, after its own DecideVote.
type Election struct {
	Request VoteRequest
	// Sent is when the requests went out, on the candidate's monotonic
	// clock: a won lease's authority counts from here (§5.6).
	Sent    time.Time
	voters  Voters
	granted map[MemberID]bool
	refused map[MemberID]string
}

// NewElection starts counting an election for req among voters.
func NewElection(voters Voters, req VoteRequest, sent time.Time) *Election {
	return &Election{Request: req, Sent: sent, voters: voters,
		granted: map[MemberID]bool{}, refused: map[MemberID]string{}}
}

// Record counts one voter's answer. Answers from non-voters and second
// answers from a voter are ignored: a voter grants at most once per epoch.
func (e *Election) Record(from MemberID, d Decision) {
	if !e.voters.Has(from) || e.granted[from] {
		return
	}
	if _, done := e.refused[from]; done {
		return
	}
	if d.Grant {
		e.granted[from] = true
		return
	}
	e.refused[from] = d.Why
}

// Won says whether a majority of the configured voters granted.
func (e *Election) Won() bool { return len(e.granted) >= e.voters.Majority() }

// Lost says whether the election can no longer be won: so many voters
// refused that a majority is out of reach. The candidate abandons then.
func (e *Election) Lost() bool {
	return e.voters.Len()-len(e.refused) < e.voters.Majority()
}

// Lease is the authority a won election gives.
func (e *Election) Lease(duration, driftMargin time.Duration) Lease {
	return Lease{Cluster: e.Request.Cluster, Epoch: e.Request.Epoch, Reason: e.Request.Reason,
		Sent: e.Sent, Duration: duration, DriftMargin: driftMargin}
}

// Granted lists the voters that granted, sorted.
func (e *Election) Granted() []MemberID {
	out := make([]MemberID, 0, len(e.granted))
	for id := range e.granted {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Describe explains the count: "epoch 7 (failover) by s1: 2 of majority 2
// granted (s1, s2); s3 refused: bound to s2 ...; s4 no answer".
func (e *Election) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d (%s) by %s: %d of majority %d granted", e.Request.Epoch, e.Request.Reason,
		e.Request.Candidate, len(e.granted), e.voters.Majority())
	if g := e.Granted(); len(g) > 0 {
		fmt.Fprintf(&b, " (%s)", joinIDs(g))
	}
	for _, id := range e.voters.IDs() {
		if why, ok := e.refused[id]; ok {
			fmt.Fprintf(&b, "; %s refused: %s", id, why)
		} else if !e.granted[id] {
			fmt.Fprintf(&b, "; %s no answer", id)
		}
	}
	return b.String()
}

func joinIDs(ids []MemberID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// Backoff is how long a candidate waits after a lost or timed-out election
// before it tries again: uniform in [base, base·2^attempt), capped at max,
// so competing candidates spread apart (DESIGN.md §5.5). attempt counts
// from 0; rng is injected so simulations replay exactly.
func Backoff(rng *rand.Rand, attempt int, base, maxWait time.Duration) time.Duration {
	hi := base
	for range min(attempt, 30) {
		if hi >= maxWait {
			break
		}
		hi *= 2
	}
	hi = min(hi, maxWait)
	if hi <= base {
		return base
	}
	return base + time.Duration(rng.Int64N(int64(hi-base)))
}
