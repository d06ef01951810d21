package memberlist

import (
	"fmt"
	"slices"

	hml "github.com/hashicorp/memberlist"

	"github.com/imsentinel/imsentinel/quorum"
)

// The adapters memberlist calls. memberlist calls them from its packet and
// stream handlers, often with its node lock held: they never block, never
// call back into memberlist, and copy what they keep.
var (
	_ hml.Delegate         = delegate{}
	_ hml.EventDelegate    = events{}
	_ hml.ConflictDelegate = conflicts{}
	_ hml.AliveDelegate    = aliveFilter{}
)

// delegate carries messages and push/pull state.
type delegate struct{ t *Transport }

// NodeMeta offers no metadata: everything travels in messages.
func (delegate) NodeMeta(limit int) []byte { return nil }

// NotifyMsg receives a SendReliable payload; b is reused by memberlist
// once this returns, and decodeEnvelope copies it.
func (d delegate) NotifyMsg(b []byte) { d.t.receive(b, kindMessage) }

// GetBroadcasts sends nothing by gossip: messages go direct (Send).
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState offers the state installed with SetState, for joins and
// periodic push/pull alike.
func (d delegate) LocalState(join bool) []byte {
	f := d.t.state.Load()
	if f == nil {
		return nil
	}
	payload := (*f)()
	if len(payload) == 0 {
		return nil
	}
	return envelope{kind: kindState, from: d.t.self, payload: payload}.encode()
}

// MergeRemoteState delivers a member's state to Inbox.
func (d delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) == 0 {
		return
	}
	d.t.receive(b, kindState)
}

// events keeps the set of live voters, with their addresses, for Send and
// Alive. memberlist calls it for this node too.
type events struct{ t *Transport }

func (e events) NotifyJoin(n *hml.Node) {
	id := quorum.MemberID(n.Name)
	if !e.t.voters.Has(id) {
		return // refused by aliveFilter; never happens
	}
	e.t.setNode(n)
	if id != e.t.self {
		e.t.log.Info("sentinel joined the gossip cluster", "sentinel", id, "address", n.Address())
	}
}

func (e events) NotifyUpdate(n *hml.Node) {
	if e.t.voters.Has(quorum.MemberID(n.Name)) {
		e.t.setNode(n)
	}
}

func (e events) NotifyLeave(n *hml.Node) {
	id := quorum.MemberID(n.Name)
	e.t.nodesMu.Lock()
	_, was := e.t.nodes[id]
	delete(e.t.nodes, id)
	e.t.nodesMu.Unlock()
	if !was || id == e.t.self {
		return
	}
	how := "failed"
	if n.State == hml.StateLeft {
		how = "left"
	}
	e.t.log.Info("sentinel is no longer in the gossip cluster", "sentinel", id, "address", n.Address(), "how", how)
	e.t.poke() // the joiner tries it again
}

func (t *Transport) setNode(n *hml.Node) {
	c := *n
	c.Addr = slices.Clone(n.Addr)
	c.Meta = slices.Clone(n.Meta)
	t.nodesMu.Lock()
	t.nodes[quorum.MemberID(n.Name)] = c
	t.nodesMu.Unlock()
}

// conflicts hears of two nodes claiming one name from different
// addresses.
type conflicts struct{ t *Transport }

func (c conflicts) NotifyConflict(existing, other *hml.Node) {
	c.t.noteConflict(quorum.MemberID(existing.Name), existing.Address(), other.Address())
}

// aliveFilter refuses nodes whose name is not a voter: they never become
// peers, so nothing is sent to them and the joiner never counts them.
type aliveFilter struct{ t *Transport }

func (a aliveFilter) NotifyAlive(n *hml.Node) error {
	id := quorum.MemberID(n.Name)
	if a.t.voters.Has(id) {
		return nil
	}
	a.t.warnOnce("alive:"+n.Name, "refused a gossip node that is not in fleet.members",
		"sentinel", id, "address", n.Address())
	return fmt.Errorf("%s is not in fleet.members %v", id, a.t.voters.IDs())
}
