package sentinel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/mysqlsql"
	"github.com/imsentinel/imsentinel/quorum"
)

// ErrNoInstance: the cluster has no instance of that name: 404.
var ErrNoInstance = errors.New("no such instance")

// Operator instance steps, as the journal and the intents name them.
const (
	stepOperatorRejoin  = "operator-rejoin"
	stepOperatorFence   = "operator-fence"
	stepOperatorUnfence = "operator-unfence"
)

// InstanceRequest is the body of POST
// /v1/clusters/{name}/instances/{instance}/{rejoin,fence,unfence}.
type InstanceRequest struct {
	// Force allows fencing the committed primary (fence only).
	Force bool `json:"force,omitempty"`
}

// InstanceOutcome answers an instance action that was not refused.
type InstanceOutcome struct {
	Cluster  string `json:"cluster"`
	Instance string `json:"instance"`
	Action   string `json:"action"`
	// Primary is the committed primary the action was judged against.
	Primary string `json:"primary"`
	// Epoch is the operator lease the action ran under (0: nothing needed
	// doing, no lease was taken).
	Epoch uint64 `json:"epoch,omitempty"`
	// Changed: the node was changed; false when it already was as asked.
	Changed bool   `json:"changed"`
	Detail  string `json:"detail"`
	Warning string `json:"warning,omitempty"`
	// Killed counts the application sessions a fence killed.
	Killed int `json:"killed,omitempty"`
}

// InstanceRefusal is a refused instance action (409): the decision, with
// the errant GTIDs of a refused rejoin.
type InstanceRefusal struct {
	Decision promote.InstanceDecision
}

func (r *InstanceRefusal) Error() string { return r.Decision.Why }

// Unwrap makes a refusal an ErrRefused.
func (r *InstanceRefusal) Unwrap() error { return ErrRefused }

// InstanceAction carries out an operator's action on one instance of a
// MySQL/MariaDB cluster (DESIGN.md §6.6, §7): rejoin, fence or unfence, as
// promote.DecideInstance allows. It refuses at once from the latest
// observations when it can (an *InstanceRefusal); otherwise it takes an
// operator lease from the fleet, reads the instance and the committed
// primary again and decides again, then does the writes as authorized
// steps with their intent recorded on a majority, and journals the
// outcome as an operator event. Redis clusters are refused: their steward
// demotes a returning primary itself.
func (d *Daemon) InstanceAction(ctx context.Context, cluster, instance, action string, force bool) (InstanceOutcome, error) {
	m, err := d.monitor(cluster)
	if err != nil {
		return InstanceOutcome{}, err
	}
	act, err := promote.ParseInstanceAction(action)
	if err != nil {
		return InstanceOutcome{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if force && act != promote.ActionFence {
		return InstanceOutcome{}, fmt.Errorf("%w: force applies to fence only (fencing the committed primary)", ErrBadRequest)
	}
	switch {
	case m.kind != probe.KindMySQL:
		return InstanceOutcome{}, fmt.Errorf("%w: cluster %s is of kind %s: instance %s is for MySQL/MariaDB clusters only "+
			"(a Redis steward demotes a returning primary itself, and Redis has no read_only fence to set by hand)",
			ErrRefused, cluster, m.cfg.Kind, act)
	case m.newMySQLAdmin == nil:
		return InstanceOutcome{}, fmt.Errorf("%w: this sentinel observes %s only: ask another", ErrRefused, cluster)
	}
	v := m.view.Load()
	if !hasInstance(v, instance) {
		return InstanceOutcome{}, fmt.Errorf("%w: %s is not an instance of cluster %s (GET /v1/clusters/%s lists them)",
			ErrNoInstance, instance, cluster, cluster)
	}
	if pf := v.PendingFailover; pf != nil {
		// A failover began and is not committed: its target may be
		// writable already, so unfencing or rejoining by hand could make
		// two primaries. Checked again under the lease, on what the grants
		// brought (pendingFailoverRefuses).
		return InstanceOutcome{}, fmt.Errorf("%w: a failover of %s by %s at epoch %d is not finished (its %s intent moves the primary from %s to %s): %s",
			ErrRefused, cluster, pf.Holder, pf.Epoch, pf.Step, pf.OldPrimary, pf.Target, pendingAdvice(cluster, *pf))
	}
	if err := m.beginOp(); err != nil {
		return InstanceOutcome{}, err
	}
	defer m.opBusy.Store(false)
	out := InstanceOutcome{Cluster: cluster, Instance: instance, Action: string(act), Primary: v.Primary}
	log := m.log.With("instance", instance, "step", "operator-"+string(act))

	// A refusal from the latest observations needs no lease.
	dec := promote.DecideInstance(observedInput(v, act, instance, force, m.addrMap))
	if dec.Refused() {
		log.Info("operator: instance action refused", "why", dec.Why)
		m.append(EventOperator, time.Now(), map[string]any{"action": "instance-" + string(act), "instance": instance,
			"outcome": "refused", "why": dec.Why, "errant": dec.Errant})
		return out, &InstanceRefusal{Decision: dec}
	}

	if err := m.operatorLease(ctx, false); err != nil {
		return out, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = m.releaseLease(rctx)
	}()
	out.Epoch = m.heldEpoch(ctx)
	x := newExecutor(m, out.Epoch)
	defer x.close()
	log = log.With("epoch", out.Epoch)

	// Under the lease: read both nodes again and decide on what they say
	// now (DESIGN.md §6.6: compare GTID state right before acting).
	primary := m.view.Load().Primary // the committed one: only this holder could change it now
	out.Primary = primary
	in := promote.InstanceInput{Action: act, Instance: instance, Primary: primary, Force: force, AddressMap: m.addrMap}
	in.Node, in.NodeErr = x.readFacts(ctx, instance)
	if act == promote.ActionRejoin && instance != primary {
		in.PrimaryFacts, in.PrimaryErr = x.readFacts(ctx, primary)
	}
	dec = promote.DecideInstance(in)
	journal := func(outcome string, extra map[string]any) {
		detail := map[string]any{"action": "instance-" + string(act), "instance": instance, "epoch": out.Epoch,
			"primary": primary, "outcome": outcome, "why": dec.Why}
		for k, v := range extra {
			detail[k] = v
		}
		m.append(EventOperator, time.Now(), detail)
	}
	switch {
	case dec.Refused():
		log.Info("operator: instance action refused", "why", dec.Why)
		journal("refused", map[string]any{"errant": dec.Errant})
		return out, &InstanceRefusal{Decision: dec}
	case dec.Done:
		log.Info("operator: instance action: nothing to do", "why", dec.Why)
		journal("nothing to do", nil)
		out.Detail = dec.Why
		return out, nil
	}
	if dec.Warning != "" {
		log.Warn("operator: "+dec.Warning, "why", dec.Why)
	}
	out.Warning = dec.Warning
	steps := m.steps
	switch act {
	case promote.ActionRejoin:
		host, port, _ := net.SplitHostPort(m.announce(primary))
		portN, _ := strconv.Atoi(port)
		src := mysqlsql.Source{Host: host, Port: portN, User: m.cfg.Credentials.Replication.Username,
			Password: m.cfg.Credentials.Replication.Password.Reveal(), Heartbeat: m.cfg.Heartbeat.Period,
			ConnectRetry: time.Second, Demote: dec.Demote}
		err = x.step(ctx, stepOperatorRejoin, []string{instance}, mysqlFenceDeadline(steps.Fence)+steps.Repoint,
			&quorum.Intent{Step: stepOperatorRejoin, Target: primary, OldPrimary: instance},
			func(ctx context.Context) error {
				if err := x.mfirst(ctx, instance); err != nil {
					return err
				}
				res, err := x.mnode(instance).Fence(ctx, fenceLockWait)
				out.Killed = res.Killed
				if err != nil {
					return err
				}
				// Fenced, it commits nothing more: decide again on what it
				// holds now (a write between the first read and the fence
				// would be errant). Refused, it stays fenced.
				in.Node, in.NodeErr = x.readFacts(ctx, instance)
				in.PrimaryFacts, in.PrimaryErr = x.readFacts(ctx, primary)
				if again := promote.DecideInstance(in); again.Refused() {
					dec = again
					return &InstanceRefusal{Decision: again}
				}
				return x.mnode(instance).Repoint(ctx, src) // returns once both threads run
			})
	case promote.ActionFence:
		err = x.step(ctx, stepOperatorFence, []string{instance}, mysqlFenceDeadline(steps.Fence),
			&quorum.Intent{Step: stepOperatorFence, Target: instance}, func(ctx context.Context) error {
				if err := x.mfirst(ctx, instance); err != nil {
					return err
				}
				res, err := x.mnode(instance).Fence(ctx, fenceLockWait)
				out.Killed = res.Killed
				return err
			})
	case promote.ActionUnfence:
		err = x.step(ctx, stepOperatorUnfence, []string{instance}, steps.Promote,
			&quorum.Intent{Step: stepOperatorUnfence, Target: instance}, func(ctx context.Context) error {
				if err := x.mfirst(ctx, instance); err != nil {
					return err
				}
				return x.mnode(instance).Unfence(ctx)
			})
	}
	var refusal *InstanceRefusal
	if errors.As(err, &refusal) {
		log.Warn("operator: instance action refused once the node was fenced; it stays fenced", "why", refusal.Decision.Why)
		journal("refused", map[string]any{"errant": refusal.Decision.Errant, "fenced": true})
		return out, refusal
	}
	if err != nil {
		log.Warn("operator: instance action failed", "err", err)
		journal("failed", map[string]any{"err": err.Error(), "killed": out.Killed})
		return out, fmt.Errorf("cluster %s: %w", cluster, err) // err names the action and the node
	}
	log.Info("operator: instance action done", "why", dec.Why, "killed", out.Killed)
	journal("done", map[string]any{"killed": out.Killed})
	out.Changed, out.Detail = true, dec.Why
	return out, nil
}

// hasInstance says whether the cluster's view names instance.
func hasInstance(v *ClusterView, instance string) bool {
	for _, in := range v.Instances {
		if in.Address == instance {
			return true
		}
	}
	return false
}

// observedInput is DecideInstance's input from the latest observations,
// for a refusal before any lease.
func observedInput(v *ClusterView, act promote.InstanceAction, instance string, force bool, addrMap map[string]string) promote.InstanceInput {
	in := promote.InstanceInput{Action: act, Instance: instance, Primary: v.Primary, Force: force, AddressMap: addrMap}
	facts := func(addr string) (*probe.MySQLFacts, string) {
		for _, iv := range v.Instances {
			if iv.Address != addr {
				continue
			}
			switch o := iv.Observation; {
			case o == nil:
				return nil, "never probed"
			case !o.Reachable || o.MySQL == nil:
				return nil, o.Error
			default:
				return o.MySQL, ""
			}
		}
		return nil, "not an instance of the cluster"
	}
	in.Node, in.NodeErr = facts(instance)
	in.PrimaryFacts, in.PrimaryErr = facts(v.Primary)
	return in
}

// heldEpoch is the epoch of the lease this sentinel was just granted, as
// the cluster goroutine publishes it right after answering the request;
// 0 when it does not show within a second.
func (m *clusterMonitor) heldEpoch(ctx context.Context) uint64 {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	give := time.After(time.Second)
	for {
		if l := m.view.Load().Agreement.Lease; l != nil && l.Holder == m.sentinel && l.Reason == string(quorum.ReasonOperator) {
			return l.Epoch
		}
		select {
		case <-t.C:
		case <-give:
			return 0
		case <-ctx.Done():
			return 0
		}
	}
}

// readFacts reads a MySQL node's state through the task's admin session,
// as DecideInstance takes it; nil and why when it does not answer.
func (x *executor) readFacts(ctx context.Context, addr string) (*probe.MySQLFacts, string) {
	ctx, cancel := context.WithTimeout(ctx, x.m.steps.Fence)
	defer cancel()
	p, err := x.mnode(addr).Position(ctx)
	if err != nil {
		return nil, err.Error()
	}
	return positionFacts(p), ""
}

// positionFacts turns a node's position into the facts DecideInstance
// reads.
func positionFacts(p mysqlnode.Position) *probe.MySQLFacts {
	f := &probe.MySQLFacts{Flavor: p.Flavor.Kind, ServerID: p.ServerID, ServerUUID: p.ServerUUID, ReadOnly: p.ReadOnly,
		SuperReadOnly: p.SuperReadOnly, GTIDExecuted: p.GTIDExecuted, GTIDBinlogPos: p.GTIDBinlogPos,
		GTIDBinlogState: p.GTIDBinlogState, GTIDSlavePos: p.GTIDSlavePos, GTIDCurrentPos: p.GTIDCurrentPos}
	for _, c := range p.Channels {
		f.Channels = append(f.Channels, c.Channel)
	}
	return f
}

// postInstance serves POST /v1/clusters/{name}/instances/{instance}/{action}.
func (d *Daemon) postInstance(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req InstanceRequest
		if !readBody(w, r, &req) {
			return
		}
		// The action runs to its end even if the client goes away: a
		// rejoin is never left fenced and not repointed by a closed
		// connection.
		out, err := d.InstanceAction(context.WithoutCancel(r.Context()), r.PathValue("name"), r.PathValue("instance"), action, req.Force)
		var refusal *InstanceRefusal
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, out)
		case errors.As(err, &refusal):
			writeJSON(w, http.StatusConflict, map[string]any{"error": refusal.Error(), "decision": refusal.Decision})
		case errors.Is(err, ErrNoInstance):
			writeError(w, http.StatusNotFound, err.Error())
		default:
			writeOpError(w, err)
		}
	}
}
