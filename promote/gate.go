package promote

import (
	"fmt"
	"strings"
	"time"
)

// OldState is what is known of the old primary when the route is about to
// move away from it.
type OldState uint8

const (
	// OldUnknown: not probed since the failover started.
	OldUnknown OldState = iota
	// OldRefuses: connections are refused: no process listens, so nothing
	// is acknowledged there.
	OldRefuses
	// OldDemoted: it answers as a replica (of the new primary, or read-only):
	// it refuses writes.
	OldDemoted
	// OldUnreachable: timeouts, no route, a SIGSTOPped or cut-off process:
	// it may still acknowledge writes where clients reach it.
	OldUnreachable
	// OldWritable: it answers as a writable primary.
	OldWritable
)

func (s OldState) String() string {
	switch s {
	case OldRefuses:
		return "refuses connections"
	case OldDemoted:
		return "demoted"
	case OldUnreachable:
		return "unreachable"
	case OldWritable:
		return "writable"
	}
	return "unknown"
}

// Fenced says whether the old primary is confirmed to acknowledge no write.
func (s OldState) Fenced() bool { return s == OldRefuses || s == OldDemoted }

// GateInput is what RouteGate decides from.
type GateInput struct {
	FenceWait  FenceWait
	OldPrimary string
	Old        OldState
	// OldSelfFence is the self-fence the old primary runs with (the weaker
	// of the configured one and what it last reported).
	OldSelfFence SelfFence
	// LastDetach is when the last reachable replica of the old primary was
	// detached from it (repointed); zero when none had to be. The old
	// primary refuses writes by its own self-fence at most
	// min-replicas-max-lag + 1 s later.
	LastDetach time.Time
	// AtRisk are the replicas that could still acknowledge for the old
	// primary: attached to it, or last seen so, and unreachable now.
	AtRisk []string
}

// Gate is RouteGate's answer.
type Gate struct {
	// Open: the route may move now.
	Open bool
	// Until is when a time-bound wait ends (the fence window); zero when
	// the wait has no end a clock can tell (CRITICAL) or the gate is open.
	Until time.Time `json:",omitzero"`
	// Critical: the wait is the split-brain case and a person must know
	// (DESIGN.md §6.3).
	Critical bool
	// SplitBrainRisk: open, but the old primary may still acknowledge
	// writes (fast): they are to be counted.
	SplitBrainRisk bool
	Why            string
}

// FenceWindowSlack is what Redis adds to min-replicas-max-lag before a
// primary whose replicas were detached refuses writes: replicas ack once a
// second, so the last ack can be up to a second older than the detach.
const FenceWindowSlack = time.Second

// RouteGate says whether the route may move from the old primary
// (DESIGN.md §6.3). Fast: at once; the writes the old primary may still
// acknowledge are counted (SplitBrainRisk) unless it is confirmed fenced.
// Strict: once the old primary is confirmed fenced (it refuses
// connections, or answers as a replica), or must have fenced itself: every
// replica that could acknowledge for it is detached and the window
// LastDetach + min-replicas-max-lag + 1 s has passed. Without a self-fence,
// or with at least min-replicas-to-write of its replicas unreachable, only
// confirmation opens the gate, and the wait is CRITICAL.
func RouteGate(in GateInput, now time.Time) Gate {
	old := in.OldPrimary
	if in.Old.Fenced() {
		return Gate{Open: true, Why: fmt.Sprintf("old primary %s %s", old, in.Old)}
	}
	sf := in.OldSelfFence
	atRisk := len(in.AtRisk) > 0 && len(in.AtRisk) >= sf.MinReplicas
	if in.FenceWait == FenceWaitFast {
		why := fmt.Sprintf("fast: old primary %s is %s and may acknowledge writes until it is fenced", old, in.Old)
		if atRisk {
			why += fmt.Sprintf(" (replicas %s unreachable: it may meet its self-fence through them)", strings.Join(in.AtRisk, ", "))
		}
		return Gate{Open: true, SplitBrainRisk: true, Why: why}
	}
	switch {
	case sf.MinReplicas == 0:
		return Gate{Critical: true, Why: fmt.Sprintf(
			"strict: old primary %s is %s and has no self-fence: the route moves when it is confirmed fenced or refuses connections", old, in.Old)}
	case atRisk:
		return Gate{Critical: true, Why: fmt.Sprintf(
			"strict: old primary %s is %s and replicas %s that could acknowledge for it are unreachable (its min-replicas-to-write %d): the route moves when they are detached or it is confirmed fenced",
			old, in.Old, strings.Join(in.AtRisk, ", "), sf.MinReplicas)}
	}
	until := in.LastDetach.Add(sf.MaxLag + FenceWindowSlack)
	if now.Before(until) {
		return Gate{Until: until, Why: fmt.Sprintf(
			"strict: old primary %s is %s: waiting until its self-fence has refused writes (last detach + min-replicas-max-lag %v + %v)",
			old, in.Old, sf.MaxLag, FenceWindowSlack)}
	}
	return Gate{Open: true, Why: fmt.Sprintf(
		"strict: old primary %s must have fenced itself: its replicas were detached more than min-replicas-max-lag %v + %v ago", old, sf.MaxLag, FenceWindowSlack)}
}
