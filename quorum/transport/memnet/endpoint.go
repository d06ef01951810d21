package memnet

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

var _ transport.Transport = (*Endpoint)(nil)

// Endpoint is one member's attachment to a Network: its transport. Get it
// with Network.Endpoint. Its fields are guarded by the network's lock.
type Endpoint struct {
	n     *Network
	id    quorum.MemberID
	inbox chan transport.Message
	state func() []byte
	dead  bool // crashed, replaced by Restart, or closed
	stats transport.Stats
}

// ID is the member this endpoint belongs to.
func (e *Endpoint) ID() quorum.MemberID { return e.id }

// Send queues payload (copied) for member to. It decides at once, from the
// network's rng, whether the link loses it and when it is due. It fails
// when this endpoint is dead (ErrClosed), to never had an endpoint
// (ErrUnknownMember), or to is dead or cut off from this member
// (ErrUnreachable). It never blocks.
func (e *Endpoint) Send(ctx context.Context, to quorum.MemberID, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send from %s to %s: %w", e.id, to, err)
	}
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case e.dead:
		return fmt.Errorf("send from %s to %s: %w", e.id, to, transport.ErrClosed)
	case n.eps[to] == nil:
		return fmt.Errorf("send from %s to %s: %w", e.id, to, transport.ErrUnknownMember)
	case !n.reachable(e.id, to):
		return fmt.Errorf("send from %s to %s: %w", e.id, to, transport.ErrUnreachable)
	}
	e.stats.Sent++
	n.stats.Sent++
	l := n.link(e.id, to)
	if l.Drop > 0 && n.rng.Float64() < l.Drop {
		n.stats.Lost++
		return nil
	}
	delay := l.Delay
	if l.Jitter > 0 {
		delay += time.Duration(n.rng.Int64N(int64(l.Jitter)))
	}
	n.seq++
	heap.Push(&n.queue, &message{at: n.now.Add(delay), seq: n.seq, from: e.id, dst: n.eps[to], payload: slices.Clone(payload)})
	return nil
}

// Inbox delivers what Advance moved to this endpoint. It is closed when
// the endpoint dies (Crash, Restart, Close).
func (e *Endpoint) Inbox() <-chan transport.Message { return e.inbox }

// SetState installs the function whose result this member offers in
// push/pull exchanges. f is called from Advance without the network's
// lock; it must not block.
func (e *Endpoint) SetState(f func() []byte) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.state = f
}

// Alive lists, sorted, this member and every live member it can reach
// now; nil when this endpoint is dead.
func (e *Endpoint) Alive() []quorum.MemberID {
	n := e.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.dead {
		return nil
	}
	var out []quorum.MemberID
	for _, id := range n.ids {
		if id == e.id || n.reachable(e.id, id) {
			out = append(out, id)
		}
	}
	return out
}

// Stats reports this endpoint's counters: Sent (accepted by Send, lost on
// the way or not), Received (put into its Inbox), Dropped (refused by its
// full Inbox).
func (e *Endpoint) Stats() transport.Stats {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	return e.stats
}

// Close kills the endpoint like Crash. It is idempotent.
func (e *Endpoint) Close() error {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	e.kill()
	return nil
}

// kill marks e dead, discards its Inbox and closes it. Locked.
func (e *Endpoint) kill() {
	if e.dead {
		return
	}
	e.dead = true
	e.state = nil
	for drained := false; !drained; {
		select {
		case <-e.inbox:
		default:
			drained = true
		}
	}
	close(e.inbox)
}
