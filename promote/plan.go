package promote

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// FenceWait is when the route may move to a new primary (DESIGN.md §6.3).
// The zero value is unknown, planned as strict.
type FenceWait uint8

const (
	FenceWaitUnknown FenceWait = iota
	// FenceWaitStrict moves the route only once the old primary is
	// confirmed fenced or must have fenced itself.
	FenceWaitStrict
	// FenceWaitFast moves the route at once and counts the writes the old
	// primary may still acknowledge.
	FenceWaitFast
)

// ParseFenceWait reads the config spelling (clusters[].fence_wait).
func ParseFenceWait(s string) (FenceWait, error) {
	switch s {
	case "strict":
		return FenceWaitStrict, nil
	case "fast":
		return FenceWaitFast, nil
	}
	return FenceWaitUnknown, fmt.Errorf("unknown fence_wait %q (want strict or fast)", s)
}

func (f FenceWait) String() string {
	switch f {
	case FenceWaitStrict:
		return "strict"
	case FenceWaitFast:
		return "fast"
	}
	return "unknown"
}

func (f FenceWait) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *FenceWait) UnmarshalText(b []byte) error {
	if string(b) == "unknown" {
		*f = FenceWaitUnknown
		return nil
	}
	v, err := ParseFenceWait(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Step names. "fence" and "promote" are also the intent steps the agreement
// persists (quorum.Intent.Step).
const (
	StepKillSessions = "kill-sessions" // other sentinels' admin connections (§5.6)
	StepFence        = "fence"         // CLIENT PAUSE WRITE on the old primary
	StepPromote      = "promote"       // REPLICAOF NO ONE on the chosen replica
	StepDemote       = "demote"        // REPLICAOF new primary on the old primary
	StepRepoint      = "repoint"       // REPLICAOF new primary on the other replicas
	StepSelfFence    = "self-fence"    // min-replicas-to-write on the new primary
	StepCommit       = "commit"        // the new config on a fleet majority
	StepFenceWindow  = "fence-window"  // strict: until the old primary fenced itself
	StepWaitCritical = "wait-critical" // strict: a replica of the old primary is unreachable
	StepRoute        = "route"         // route compare-and-set and publish
	StepClientKill   = "client-kill"   // disconnect clients so they re-resolve
	StepRelease      = "release"       // release the lease
)

// Target names for steps that do not act on a data node.
const (
	TargetFleet   = "fleet majority"
	TargetRouting = "routing redis"
	TargetLease   = "lease"
)

// Step is one step of a plan.
type Step struct {
	// N numbers the steps from 1 in plan order.
	N    int    `json:"n"`
	Name string `json:"step"`
	// Targets are the instances the step acts on (in parallel when several),
	// or TargetFleet, TargetRouting, TargetLease.
	Targets []string `json:"targets"`
	// Deadline bounds the step; 0 when it has none (release, and
	// wait-critical, which lasts until resolved).
	Deadline time.Duration `json:"deadline_ns"`
	// Irreversible steps change a data node's role or history: the holder
	// persists an intent on a majority first, and starts one only while its
	// remaining lease covers the deadline (DESIGN.md §5.6–5.7).
	Irreversible bool `json:"irreversible"`
	// Background steps run beside the steps after them and never delay
	// them: fencing an old primary that is often unreachable (§6.1).
	Background bool `json:"background"`
	// Action says what the step does, for a person.
	Action string `json:"action"`
}

// Deadlines are the step deadlines (failover.steps), as plain durations.
type Deadlines struct {
	Fence   time.Duration `json:"fence_ns"`
	Promote time.Duration `json:"promote_ns"`
	Repoint time.Duration `json:"repoint_ns"`
	Commit  time.Duration `json:"commit_ns"`
	Route   time.Duration `json:"route_ns"`
}

// SelfFence is a primary's self-fence (DESIGN.md §6.2): Redis
// min-replicas-to-write and min-replicas-max-lag.
type SelfFence struct {
	// MinReplicas is min-replicas-to-write; 0 when the self-fence is off.
	MinReplicas int `json:"min_replicas"`
	// MaxLag is min-replicas-max-lag (whole seconds in Redis).
	MaxLag time.Duration `json:"max_lag_ns"`
}

// PlanInput is what PlanRedisFailover plans from.
type PlanInput struct {
	// Ranking chose the new primary (Ranking.Chosen) and names the cluster
	// and the old primary.
	Ranking   Ranking   `json:"ranking"`
	FenceWait FenceWait `json:"fence_wait"`
	// SelfFence is the cluster's configured self-fence
	// (clusters[].self_fence; MinReplicas 0 when disabled), set on the new
	// primary.
	SelfFence SelfFence `json:"self_fence"`
	// OldSelfFence is the old primary's self-fence as it last reported it
	// (its CONFIG values); nil when unknown. The old primary fences itself
	// by its own settings, so the plan uses the weaker of this and
	// SelfFence (fewer replicas, longer lag).
	OldSelfFence *SelfFence `json:"old_self_fence,omitempty"`
	// Reachable are the other replicas to repoint to the new primary
	// (reachable now, whatever their verdict).
	Reachable []string `json:"reachable"`
	// Unreachable are the replicas that could still acknowledge writes for
	// the old primary but cannot be reached: the known replicas not
	// answering and any the old primary last reported that are not known.
	Unreachable []string  `json:"unreachable"`
	Deadlines   Deadlines `json:"deadlines"`
	// Lease is the holder's remaining authority when the plan starts; the
	// old primary is paused for that long.
	Lease time.Duration `json:"lease_ns"`
}

// Plan is an unplanned failover as a list of steps: printable data, never
// executed here.
type Plan struct {
	Cluster    string    `json:"cluster"`
	Kind       string    `json:"kind"`
	OldPrimary string    `json:"old_primary"`
	NewPrimary string    `json:"new_primary"`
	FenceWait  FenceWait `json:"fence_wait"`
	Steps      []Step    `json:"steps"`
	// Warnings are what a person should know before it runs: the
	// split-brain risks, a relaxed self-fence, deadlines the lease does not
	// cover.
	Warnings []string `json:"warnings,omitempty"`
	// Why says why there are no steps (no replica can be promoted).
	Why string `json:"why,omitempty"`
}

// PlanRedisFailover lists the steps of an unplanned Redis failover in the
// order of DESIGN.md §6.1:
//
//  1. kill-sessions, fence (background): on the old primary, kill the other
//     sentinels' admin connections, then CLIENT PAUSE WRITE for the
//     remaining lease. It is often unreachable; that never delays what
//     follows.
//  2. kill-sessions, promote: REPLICAOF NO ONE on the chosen replica, then
//     poll ROLE until it says master.
//  3. demote (background): REPLICAOF the new primary on the old primary,
//     only after the promotion is confirmed (before it, the chosen replica
//     still replicates the old primary and the two would form a loop).
//  4. kill-sessions, repoint: REPLICAOF the new primary on every other
//     reachable replica, detaching them from the old primary.
//  5. self-fence: min-replicas-to-write on the new primary, relaxed to the
//     replicas it has when fewer than configured (§6.2).
//  6. commit the new config on a fleet majority.
//  7. strict only: fence-window until the last detach + max-lag + 1 s, so
//     the old primary refuses writes by its own self-fence; wait-critical
//     when enough replicas of the old primary to satisfy its self-fence
//     are unreachable (it may still acknowledge writes through them).
//  8. route compare-and-set, published in the same script (§6.7).
//  9. client-kill TYPE normal and pubsub on the reconfigured nodes, so
//     clients reconnect and re-resolve.
//  10. release the lease.
//
// "Before the first write there" (§5.6) is why kill-sessions precede the
// holder's first write on each node. Neither commit nor route needs an
// intent: the commit is itself a majority write, and the steward rewrites a
// route older than the committed config (§6.7).
//
// With no chosen replica the plan has no steps and Why says what to do.
func PlanRedisFailover(in PlanInput) Plan {
	rk := in.Ranking
	p := Plan{Cluster: rk.Cluster, Kind: "redis", OldPrimary: rk.OldPrimary, NewPrimary: rk.Chosen, FenceWait: in.FenceWait}
	if rk.Chosen == "" {
		p.Why = rk.Why
		if p.Why == "" {
			p.Why = "no replica was chosen"
		}
		return p
	}
	if p.FenceWait == FenceWaitUnknown {
		p.FenceWait = FenceWaitStrict
		p.Warnings = append(p.Warnings, "fence_wait unknown: planned as strict")
	}
	others := func(list []string) []string {
		var out []string
		for _, a := range list {
			if a != rk.Chosen && a != rk.OldPrimary && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		return out
	}
	reachable, unreachable := others(in.Reachable), others(in.Unreachable)
	unreachable = slices.DeleteFunc(unreachable, func(a string) bool { return slices.Contains(reachable, a) })
	old, cur, d := rk.OldPrimary, rk.Chosen, in.Deadlines
	oldSF := in.SelfFence
	if o := in.OldSelfFence; o != nil {
		oldSF = SelfFence{MinReplicas: min(oldSF.MinReplicas, o.MinReplicas), MaxLag: max(oldSF.MaxLag, o.MaxLag)}
		if o.MinReplicas < in.SelfFence.MinReplicas || o.MaxLag > in.SelfFence.MaxLag {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"%s reported a weaker self-fence than configured (min-replicas-to-write %d, min-replicas-max-lag %v): planned with it",
				old, o.MinReplicas, o.MaxLag))
		}
	}

	add := func(s Step) {
		s.N = len(p.Steps) + 1
		p.Steps = append(p.Steps, s)
	}
	add(Step{Name: StepKillSessions, Targets: []string{old}, Deadline: d.Fence, Background: true,
		Action: "kill other sentinels' admin connections before this holder's first write (may be unreachable)"})
	add(Step{Name: StepFence, Targets: []string{old}, Deadline: d.Fence, Background: true,
		Action: fmt.Sprintf("CLIENT PAUSE %d WRITE (the remaining lease); expires by itself, the next holder re-fences", in.Lease.Milliseconds())})
	add(Step{Name: StepKillSessions, Targets: []string{cur}, Deadline: d.Promote,
		Action: "kill other sentinels' admin connections before this holder's first write"})
	add(Step{Name: StepPromote, Targets: []string{cur}, Deadline: d.Promote, Irreversible: true,
		Action: "REPLICAOF NO ONE, then poll ROLE every 50ms until master"})
	add(Step{Name: StepDemote, Targets: []string{old}, Deadline: d.Fence, Irreversible: true, Background: true,
		Action: fmt.Sprintf("after the promotion: journal its offset, then REPLICAOF %s (a steward repeats it when it returns)", spaced(cur))})
	if len(reachable) > 0 {
		add(Step{Name: StepKillSessions, Targets: reachable, Deadline: d.Repoint,
			Action: "kill other sentinels' admin connections before this holder's first write"})
		add(Step{Name: StepRepoint, Targets: reachable, Deadline: d.Repoint, Irreversible: true,
			Action: fmt.Sprintf("REPLICAOF %s (in parallel), detaching them from the old primary", spaced(cur))})
	}
	if in.SelfFence.MinReplicas > 0 {
		n := min(in.SelfFence.MinReplicas, len(reachable))
		add(Step{Name: StepSelfFence, Targets: []string{cur}, Deadline: d.Repoint,
			Action: fmt.Sprintf("CONFIG SET min-replicas-to-write %d min-replicas-max-lag %d", n, int64(in.SelfFence.MaxLag/time.Second))})
		if n < in.SelfFence.MinReplicas {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"self-fence relaxed on %s to min-replicas-to-write %d (configured %d): %d reachable %s; no zero-loss claim until replicas return",
				cur, n, in.SelfFence.MinReplicas, len(reachable), plural(len(reachable), "replica", "replicas")))
		}
	}
	add(Step{Name: StepCommit, Targets: []string{TargetFleet}, Deadline: d.Commit,
		Action: fmt.Sprintf("persist the config (new epoch, primary %s) on a majority", cur)})

	// Through the unreachable replicas the old primary may still meet its
	// self-fence and acknowledge writes: that is the split-brain case. With
	// fewer of them than min-replicas-to-write it refuses writes once the
	// reachable ones are detached and the window has passed.
	atRisk := len(unreachable) > 0 && len(unreachable) >= oldSF.MinReplicas
	switch p.FenceWait {
	case FenceWaitStrict:
		if oldSF.MinReplicas > 0 {
			add(Step{Name: StepFenceWindow, Targets: []string{old}, Deadline: oldSF.MaxLag + time.Second,
				Action: fmt.Sprintf("wait until the last detach + min-replicas-max-lag %v + 1s; ends early when the old primary is confirmed fenced or refuses connections", oldSF.MaxLag)})
		} else {
			atRisk = true
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"strict without a self-fence: %s never fences itself; the route moves only when it is confirmed fenced or refuses connections — CRITICAL", old))
		}
		if atRisk {
			targets := unreachable
			if len(targets) == 0 {
				targets = []string{old}
			}
			add(Step{Name: StepWaitCritical, Targets: targets,
				Action: "raise CRITICAL and wait until these are detached or the old primary is confirmed fenced; a person may decide"})
		}
		for _, a := range unreachable {
			if atRisk {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"strict: replica %s unreachable; the route moves only when it is detached and the window has passed, or the old primary is confirmed fenced — CRITICAL", a))
			} else {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"strict: replica %s unreachable, but %d unreachable cannot meet the old primary's min-replicas-to-write %d: the fence window suffices", a, len(unreachable), oldSF.MinReplicas))
			}
		}
	case FenceWaitFast:
		msg := fmt.Sprintf("fast: the route moves without waiting; %s may acknowledge writes until it is fenced", old)
		if oldSF.MinReplicas > 0 && !atRisk {
			msg += fmt.Sprintf(" (at most min-replicas-max-lag %v + 1s after the last detach)", oldSF.MaxLag)
		}
		p.Warnings = append(p.Warnings, msg+"; those writes are counted as possible split-brain writes")
		if atRisk {
			for _, a := range unreachable {
				p.Warnings = append(p.Warnings, fmt.Sprintf(
					"fast: replica %s unreachable; the old primary can keep acknowledging through it until fenced — split-brain writes likely", a))
			}
		}
	}
	add(Step{Name: StepRoute, Targets: []string{TargetRouting}, Deadline: d.Route,
		Action: fmt.Sprintf("compare-and-set the route to %s at the new epoch; publish the change in the same script", cur)})
	killed := append([]string{cur}, reachable...)
	killed = append(killed, old)
	add(Step{Name: StepClientKill, Targets: killed, Deadline: d.Route,
		Action: "CLIENT KILL TYPE normal, CLIENT KILL TYPE pubsub, so clients reconnect and re-resolve (old primary only if reachable)"})
	add(Step{Name: StepRelease, Targets: []string{TargetLease},
		Action: "release the lease"})

	for _, s := range p.Steps {
		if s.Irreversible && s.Deadline > in.Lease {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"the remaining lease %v does not cover step %d %s (%v): the holder must renew before it starts", in.Lease, s.N, s.Name, s.Deadline))
		}
	}
	return p
}

// spaced writes host:port as "host port", the way REPLICAOF takes it.
func spaced(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	return strings.Trim(addr[:i], "[]") + " " + addr[i+1:]
}

// String prints the plan as an aligned table for a person.
func (p Plan) String() string {
	var b strings.Builder
	if len(p.Steps) == 0 {
		fmt.Fprintf(&b, "cluster %s: no failover plan (old primary %s)\n%s\n", p.Cluster, p.OldPrimary, p.Why)
		return b.String()
	}
	fmt.Fprintf(&b, "cluster %s (%s): fail over %s -> %s, fence_wait %s\n", p.Cluster, p.Kind, p.OldPrimary, p.NewPrimary, p.FenceWait)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSTEP\tTARGET\tDEADLINE\tIRREVERSIBLE\tACTION")
	for _, s := range p.Steps {
		dl := "-"
		if s.Deadline > 0 {
			dl = s.Deadline.String()
		}
		irr := "no"
		if s.Irreversible {
			irr = "yes"
		}
		action := s.Action
		if s.Background {
			action = "background: " + action
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.N, s.Name, strings.Join(s.Targets, ", "), dl, irr, action)
	}
	tw.Flush()
	if len(p.Warnings) > 0 {
		b.WriteString("warnings:\n")
		for _, w := range p.Warnings {
			fmt.Fprintf(&b, "  - %s\n", w)
		}
	}
	return b.String()
}
