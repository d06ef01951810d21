package redisnode

import (
	"context"
	"fmt"
	"time"
)

// PauseWrites blocks the node's write commands for d (CLIENT PAUSE <ms>
// WRITE; d rounded up to whole milliseconds, at least 1): reads are still
// served, writes wait until the pause ends. The pause ends by itself, so a
// holder that dies does not leave the node paused (DESIGN.md §6.1).
func (n *Node) PauseWrites(ctx context.Context, d time.Duration) error {
	ms := ceilDiv(d, time.Millisecond, 1)
	if _, err := n.do(ctx, "client", "pause", ms, "write"); err != nil {
		return fmt.Errorf("pause writes on %s: client pause %d write: %w", n.o.Address, ms, err)
	}
	return nil
}

// Unpause ends a pause at once (CLIENT UNPAUSE); without one it does
// nothing.
func (n *Node) Unpause(ctx context.Context) error {
	if _, err := n.do(ctx, "client", "unpause"); err != nil {
		return fmt.Errorf("unpause %s: client unpause: %w", n.o.Address, err)
	}
	return nil
}

// SetSelfFence sets the self-fence (DESIGN.md §6.2): the node refuses
// writes unless at least minReplicas replicas acknowledged within maxLag
// (CONFIG SET min-replicas-to-write N min-replicas-max-lag S, S = maxLag
// in whole seconds rounded up, as Redis counts lag). minReplicas 0 turns it
// off. A negative minReplicas or maxLag, or minReplicas > 0 with maxLag 0,
// is an error before any I/O. With maxLag under 2 s a healthy primary
// refuses writes now and then (see WaitReplicas on how Redis counts lag).
func (n *Node) SetSelfFence(ctx context.Context, minReplicas int, maxLag time.Duration) error {
	switch {
	case minReplicas < 0:
		return fmt.Errorf("set self-fence on %s: min replicas %d is negative", n.o.Address, minReplicas)
	case maxLag < 0:
		return fmt.Errorf("set self-fence on %s: max lag %v is negative", n.o.Address, maxLag)
	case minReplicas > 0 && maxLag == 0:
		return fmt.Errorf("set self-fence on %s: max lag is 0 with %d min replicas: no replica would count", n.o.Address, minReplicas)
	}
	lag := ceilDiv(maxLag, time.Second, 0)
	if _, err := n.do(ctx, "config", "set", "min-replicas-to-write", minReplicas, "min-replicas-max-lag", lag); err != nil {
		return fmt.Errorf("set self-fence on %s: config set min-replicas-to-write %d min-replicas-max-lag %d: %w",
			n.o.Address, minReplicas, lag, err)
	}
	return nil
}

// SetHeartbeat sets how often the node, as a primary, pings its replicas
// (CONFIG SET repl-ping-replica-period <period in whole seconds, rounded
// up, at least 1>); replicas judge their link by it (DESIGN.md §5.4).
func (n *Node) SetHeartbeat(ctx context.Context, period time.Duration) error {
	s := ceilDiv(period, time.Second, 1)
	if _, err := n.do(ctx, "config", "set", "repl-ping-replica-period", s); err != nil {
		return fmt.Errorf("set heartbeat on %s: config set repl-ping-replica-period %d: %w", n.o.Address, s, err)
	}
	return nil
}

// ceilDiv is d in units, rounded up, and at least floor.
func ceilDiv(d, unit time.Duration, floor int64) int64 {
	v := int64(d / unit)
	if d%unit > 0 {
		v++
	}
	return max(v, floor)
}
