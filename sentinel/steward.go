package sentinel

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/quorum"
)

// stewardJob is a steward lease's work, gathered by the cluster goroutine.
type stewardJob struct {
	epoch     uint64
	committed promote.Committed
	repairs   []promote.Repair
	// gates: for a route repair that moves the route away from a primary,
	// what this sentinel observed of it (DESIGN.md §6.3 applies to the
	// steward too).
	gates     map[string]promote.GateInput
	deadlines promote.Deadlines
}

// runRepairs carries out the repairs in order (Redis or MySQL) and
// returns, at the first failure, which and why ("" when all were done):
// the rest wait for the next steward lease, which looks again.
func (x *executor) runRepairs(ctx context.Context, j *stewardJob) string {
	c := j.committed
	for _, r := range j.repairs {
		err := x.repair(ctx, j, &c, r)
		detail := map[string]any{"epoch": j.epoch, "kind": r.Kind, "target": r.Target, "why": r.Why}
		if err != nil {
			detail["err"] = err.Error()
			x.m.append(EventRepair, time.Now(), detail)
			x.m.log.Warn("steward: repair failed", "epoch", j.epoch, "repair", r.Kind, "target", r.Target, "err", err)
			return r.String() + ": " + err.Error()
		}
		x.m.append(EventRepair, time.Now(), detail)
		x.m.log.Info("steward: repaired", "epoch", j.epoch, "repair", r.Kind, "target", r.Target, "why", r.Why)
	}
	return ""
}

// repair carries out one repair; c is the committed config, updated by
// the repairs that commit.
func (x *executor) repair(ctx context.Context, j *stewardJob, c *promote.Committed, r promote.Repair) error {
	d := j.deadlines
	switch r.Kind {
	case promote.RepairCommitSeed:
		cfg := quorum.Config{Primary: r.Target, Replicas: r.Replicas}
		if err := x.m.commit(ctx, d.Commit, cfg); err != nil {
			return err
		}
		*c = promote.Committed{Epoch: j.epoch, Primary: r.Target, Replicas: r.Replicas}
		// The seed is now routable: write it in the same lease.
		return x.writeRoute(ctx, *c, "seed committed", d.Route)

	case promote.RepairDemote:
		x.m.append(EventSplitBrain, time.Now(), map[string]any{"epoch": j.epoch, "instance": r.Target,
			"extra_offset": r.ExtraOffset, "detail": "a returning primary is demoted: " + r.Why})
		return x.step(ctx, promote.StepDemote, []string{r.Target}, d.Fence,
			&quorum.Intent{Step: "steward-" + promote.StepDemote, Target: r.Primary, OldPrimary: r.Target},
			func(ctx context.Context) error {
				if err := x.first(ctx, r.Target); err != nil {
					return err
				}
				return x.node(r.Target).ReplicaOf(ctx, x.m.announce(r.Primary))
			})

	case promote.RepairRepoint:
		return x.step(ctx, promote.StepRepoint, []string{r.Target}, d.Repoint,
			&quorum.Intent{Step: "steward-" + promote.StepRepoint, Target: r.Primary, OldPrimary: r.Target},
			func(ctx context.Context) error {
				if err := x.first(ctx, r.Target); err != nil {
					return err
				}
				return x.node(r.Target).ReplicaOf(ctx, x.m.announce(r.Primary))
			})

	case promote.RepairRestoreSelfFence:
		settings := maps.Clone(c.Settings)
		delete(settings, promote.SettingMinReplicas)
		if err := x.m.commit(ctx, d.Commit, quorum.Config{Primary: c.Primary, Replicas: c.Replicas, Settings: settings}); err != nil {
			return err
		}
		*c = promote.Committed{Epoch: j.epoch, Primary: c.Primary, Replicas: c.Replicas, Settings: settings}
		// The config moved to this lease's epoch: route it in the same
		// lease, or every sentinel would see the route older.
		if err := x.writeRoute(ctx, *c, "self-fence restored", d.Route); err != nil {
			return err
		}
		fallthrough
	case promote.RepairSelfFence:
		return x.step(ctx, promote.StepSelfFence, []string{r.Target}, d.Repoint, nil, func(ctx context.Context) error {
			if err := x.first(ctx, r.Target); err != nil {
				return err
			}
			return x.node(r.Target).SetSelfFence(ctx, r.MinReplicas, r.MaxLag)
		})

	case promote.RepairRejoin:
		host, port, _ := net.SplitHostPort(x.m.announce(r.Primary))
		portN, _ := strconv.Atoi(port)
		src := mysqlsql.Source{Host: host, Port: portN, User: x.m.cfg.Credentials.Replication.Username,
			Password: x.m.cfg.Credentials.Replication.Password.Reveal(), Heartbeat: x.m.cfg.Heartbeat.Period,
			ConnectRetry: time.Second, Demote: true}
		return x.step(ctx, "rejoin", []string{r.Target}, d.Repoint,
			&quorum.Intent{Step: "steward-rejoin", Target: r.Primary, OldPrimary: r.Target},
			func(ctx context.Context) error {
				if err := x.mfirst(ctx, r.Target); err != nil {
					return err
				}
				if _, err := x.mnode(r.Target).Fence(ctx, fenceLockWait); err != nil {
					return err
				}
				return x.mnode(r.Target).Repoint(ctx, src)
			})

	case promote.RepairUndoDetach:
		it := &quorum.Intent{Step: promote.StepUndo, Target: r.Target, OldPrimary: r.Target}
		return x.step(ctx, promote.StepUndo, append(slices.Clone(r.Replicas), r.Target), undoDeadline, it, func(ctx context.Context) error {
			return x.giveBack(ctx, r.Target, r.Replicas, r.Unfence)
		})

	case promote.RepairFenceErrant:
		return x.step(ctx, promote.StepFence, []string{r.Target}, mysqlFenceDeadline(d.Fence), nil, func(ctx context.Context) error {
			if err := x.mfirst(ctx, r.Target); err != nil {
				return err
			}
			_, err := x.mnode(r.Target).Fence(ctx, fenceLockWait)
			return err
		})

	case promote.RepairHeartbeat:
		return x.step(ctx, "heartbeat", []string{r.Target}, d.Repoint, nil, func(ctx context.Context) error {
			if x.m.kind == probe.KindMySQL {
				if err := x.mfirst(ctx, r.Target); err != nil {
					return err
				}
				return x.mnode(r.Target).SetHeartbeat(ctx, r.Period)
			}
			if err := x.first(ctx, r.Target); err != nil {
				return err
			}
			return x.node(r.Target).SetHeartbeat(ctx, r.Period)
		})

	case promote.RepairRoute:
		if g, ok := j.gates[r.OldPrimary]; ok {
			if gate := promote.RouteGate(g, time.Now()); !gate.Open {
				if gate.Critical {
					x.m.log.Error("steward: the route waits for the old primary to be fenced", "why", gate.Why)
				}
				return fmt.Errorf("route not moved yet: %s", gate.Why)
			}
		}
		return x.writeRoute(ctx, *c, "reconcile: "+r.Why, d.Route)
	}
	return fmt.Errorf("unknown repair %q", r.Kind)
}

// writeRoute writes the committed config c as the route: the
// compare-and-set step, under the lease. Without a routing Redis it does
// nothing.
func (x *executor) writeRoute(ctx context.Context, c promote.Committed, reason string, deadline time.Duration) error {
	if x.m.router == nil {
		return nil
	}
	return x.step(ctx, promote.StepRoute, []string{promote.TargetRouting}, deadline, nil, func(ctx context.Context) error {
		res, err := x.m.router.Write(ctx, x.m.routeEntry(c), reason)
		switch {
		case err != nil:
			return err
		case res.Refused != "":
			return fmt.Errorf("route refused: %s", res.Refused)
		}
		return nil
	})
}
