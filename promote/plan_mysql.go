package promote

import (
	"fmt"
	"slices"
	"time"
)

// Steps of a MySQL failover beside the shared ones.
const (
	StepStopIO  = "stop-io"  // STOP SLAVE IO_THREAD on every reachable replica: none keeps acking the old primary
	StepCatchUp = "catch-up" // the candidate applies its relay log (MASTER_GTID_WAIT), renewing the lease
	// StepUndo gives the cluster back to the old primary when the failover
	// fails before the promote intent: START SLAVE IO_THREAD where it was
	// stopped, then read_only=OFF on the old primary if this failover
	// fenced it. Its intent supersedes the stop-io intent, so no later
	// holder rolls forward from a detach that was undone.
	StepUndo = "undo"
)

// MySQLPlanInput is what PlanMySQLFailover plans from.
type MySQLPlanInput struct {
	Ranking   Ranking   `json:"ranking"`
	FenceWait FenceWait `json:"fence_wait"`
	// SemiSync: the cluster runs semi-synchronous replication; the new
	// primary gets its semi-sync primary side enabled, relaxed when fewer
	// replicas remain than it needs (DESIGN.md §6.2).
	SemiSync bool `json:"semi_sync"`
	// Reachable are the other replicas; Unreachable those that could still
	// acknowledge for the old primary but cannot be reached.
	Reachable   []string      `json:"reachable"`
	Unreachable []string      `json:"unreachable"`
	Deadlines   Deadlines     `json:"deadlines"`
	CatchUp     time.Duration `json:"catch_up_ns"`
	Lease       time.Duration `json:"lease_ns"`
}

// PlanMySQLFailover lists the steps of an unplanned MySQL or MariaDB
// failover in the order of DESIGN.md §6.1, adapted to MySQL (§6.3): every
// reachable replica's IO thread is stopped first, so none keeps
// acknowledging the old primary's semi-sync commits (with
// rpl_semi_sync_master_wait_no_slave it then stalls: that is its fence);
// the old primary is fenced in the background (read_only, application
// sessions killed); the candidate applies what it received; it is promoted
// (replication reset, semi-sync primary side, read_only off); the others
// are repointed with GTID auto-positioning; the config is committed; the
// route moves (strict: only once no replica that could acknowledge for
// the old primary is unreachable).
func PlanMySQLFailover(in MySQLPlanInput) Plan {
	rk := in.Ranking
	p := Plan{Cluster: rk.Cluster, Kind: "mysql", OldPrimary: rk.OldPrimary, NewPrimary: rk.Chosen, FenceWait: in.FenceWait}
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
	old, cur, d := rk.OldPrimary, rk.Chosen, in.Deadlines
	var others, unreachable []string
	for _, a := range in.Reachable {
		if a != cur && a != old && !slices.Contains(others, a) {
			others = append(others, a)
		}
	}
	for _, a := range in.Unreachable {
		if a != cur && a != old && !slices.Contains(others, a) && !slices.Contains(unreachable, a) {
			unreachable = append(unreachable, a)
		}
	}
	add := func(s Step) {
		s.N = len(p.Steps) + 1
		p.Steps = append(p.Steps, s)
	}
	stopped := append([]string{cur}, others...)
	add(Step{Name: StepKillSessions, Targets: stopped, Deadline: d.Repoint,
		Action: "kill other sentinels' admin sessions before this holder's first write"})
	add(Step{Name: StepStopIO, Targets: stopped, Deadline: d.Repoint, Irreversible: true,
		Action: "STOP SLAVE IO_THREAD (in parallel): no replica acknowledges the old primary any more"})
	add(Step{Name: StepKillSessions, Targets: []string{old}, Deadline: d.Fence, Background: true,
		Action: "kill other sentinels' admin sessions (may be unreachable)"})
	add(Step{Name: StepFence, Targets: []string{old}, Deadline: d.Fence, Background: true,
		Action: "SET GLOBAL read_only=ON (lock_wait_timeout bounded: a commit waiting for a semi-sync ack blocks it), kill application sessions"})
	add(Step{Name: StepCatchUp, Targets: []string{cur}, Deadline: in.CatchUp,
		Action: "MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET for what it received, renewing the lease while the SQL thread advances; fails when it stalls"})
	semi := "read_only=OFF"
	if in.SemiSync {
		semi = "semi-sync primary side on (relaxed to the replicas it has, journaled), read_only=OFF"
		if len(others) == 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"semi-sync relaxed on %s: no other replica remains; no zero-loss claim until replicas return", cur))
		}
	}
	add(Step{Name: StepPromote, Targets: []string{cur}, Deadline: d.Promote, Irreversible: true,
		Action: "STOP SLAVE, RESET SLAVE ALL, " + semi})
	if len(others) > 0 {
		add(Step{Name: StepRepoint, Targets: others, Deadline: d.Repoint, Irreversible: true,
			Action: fmt.Sprintf("CHANGE MASTER TO %s with MASTER_USE_GTID=slave_pos / SOURCE_AUTO_POSITION=1, START SLAVE; check both threads run", cur)})
	}
	add(Step{Name: StepCommit, Targets: []string{TargetFleet}, Deadline: d.Commit,
		Action: fmt.Sprintf("persist the config (new epoch, primary %s) on a majority", cur)})
	switch {
	case p.FenceWait == FenceWaitStrict && len(unreachable) > 0:
		add(Step{Name: StepWaitCritical, Targets: unreachable,
			Action: "raise CRITICAL and wait until these are reachable and stopped, or the old primary is confirmed fenced; a person may decide"})
		for _, a := range unreachable {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"strict: replica %s unreachable; it may still acknowledge the old primary's commits — CRITICAL", a))
		}
	case p.FenceWait == FenceWaitFast && len(unreachable) > 0:
		for _, a := range unreachable {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"fast: replica %s unreachable; the old primary can keep committing through it until fenced — split-brain writes likely", a))
		}
	}
	add(Step{Name: StepRoute, Targets: []string{TargetRouting}, Deadline: d.Route,
		Action: fmt.Sprintf("compare-and-set the route to %s at the new epoch; publish the change in the same script", cur)})
	add(Step{Name: StepRelease, Targets: []string{TargetLease}, Action: "release the lease"})
	for _, s := range p.Steps {
		if s.Irreversible && s.Deadline > in.Lease {
			p.Warnings = append(p.Warnings, fmt.Sprintf(
				"the remaining lease %v does not cover step %d %s (%v): the holder must renew before it starts", in.Lease, s.N, s.Name, s.Deadline))
		}
	}
	return p
}
