package memnet

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// DefaultPushPullInterval is the virtual time between two push/pull
// exchanges: 1 s.
const DefaultPushPullInterval = time.Second

// InboxSize is the capacity of every Inbox. A full Inbox drops what
// arrives (counted in Stats), so Advance never blocks.
const InboxSize = 4096

// Link is how messages fare on one directed link.
type Link struct {
	// Drop is the probability, in [0, 1], that a message is lost.
	Drop float64
	// Delay is the fixed one-way delay, ≥ 0.
	Delay time.Duration
	// Jitter adds a delay drawn uniformly from [0, Jitter), ≥ 0.
	Jitter time.Duration
	// Cut lets nothing pass.
	Cut bool
}

func (l Link) check() error {
	if l.Drop < 0 || l.Drop > 1 || l.Drop != l.Drop {
		return fmt.Errorf("drop probability %v outside [0, 1]", l.Drop)
	}
	if l.Delay < 0 {
		return fmt.Errorf("negative delay %s", l.Delay)
	}
	if l.Jitter < 0 {
		return fmt.Errorf("negative jitter %s", l.Jitter)
	}
	return nil
}

// Stats are a Network's counters.
type Stats struct {
	// Sent counts messages Send accepted.
	Sent uint64
	// Delivered counts messages put into an Inbox, push/pull states
	// included.
	Delivered uint64
	// Lost counts messages a link dropped, and messages in flight when a
	// cut, a partition or their destination's crash came first.
	Lost uint64
	// Overflow counts messages a full Inbox refused.
	Overflow uint64
}

type pair struct{ from, to quorum.MemberID }

// Network is one simulated network. Create it with New.
type Network struct {
	advance  sync.Mutex // held through Advance, which releases mu to call state functions
	mu       sync.Mutex
	rng      *rand.Rand
	now      time.Time
	seq      uint64
	defaults Link
	links    map[pair]Link
	groups   map[quorum.MemberID]int // nil: no partition
	eps      map[quorum.MemberID]*Endpoint
	ids      []quorum.MemberID // every member that has had an endpoint, sorted
	queue    queue
	pushPull time.Duration // ≤ 0: no push/pull
	nextPP   time.Time
	stats    Stats
}

// New returns a network whose virtual clock reads start. rng decides drops
// and jitter; the network is the only one to use it while it runs.
func New(rng *rand.Rand, start time.Time) *Network {
	return &Network{
		rng:      rng,
		now:      start,
		links:    map[pair]Link{},
		eps:      map[quorum.MemberID]*Endpoint{},
		pushPull: DefaultPushPullInterval,
		nextPP:   start.Add(DefaultPushPullInterval),
	}
}

// Endpoint returns the current endpoint of member id, creating it on first
// use. After Crash it returns the crashed endpoint, after Restart the new
// one.
func (n *Network) Endpoint(id quorum.MemberID) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.eps[id]; e != nil {
		return e
	}
	return n.newEndpoint(id)
}

func (n *Network) newEndpoint(id quorum.MemberID) *Endpoint {
	e := &Endpoint{n: n, id: id, inbox: make(chan transport.Message, InboxSize)}
	if _, known := n.eps[id]; !known {
		i, _ := slices.BinarySearch(n.ids, id)
		n.ids = slices.Insert(n.ids, i, id)
	}
	n.eps[id] = e
	return e
}

// Now is the virtual clock.
func (n *Network) Now() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// Advance moves the virtual clock to now (never backwards) and delivers
// every message due by then, in (due time, send sequence) order,
// interleaved with the push/pull exchanges due by then. It returns how
// many messages went into inboxes.
func (n *Network) Advance(now time.Time) int {
	n.advance.Lock()
	defer n.advance.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Before(n.now) {
		now = n.now
	}
	moved := 0
	for {
		msgDue := len(n.queue) > 0 && !n.queue[0].at.After(now)
		ppDue := n.pushPull > 0 && !n.nextPP.After(now)
		switch {
		case msgDue && (!ppDue || !n.queue[0].at.After(n.nextPP)):
			m := heap.Pop(&n.queue).(*message)
			if m.at.After(n.now) {
				n.now = m.at
			}
			moved += n.deliver(m.from, m.dst, m.payload)
		case ppDue:
			n.now = n.nextPP
			n.nextPP = n.nextPP.Add(n.pushPull)
			moved += n.exchange()
		default:
			n.now = now
			return moved
		}
	}
}

// deliver puts payload into dst's inbox if dst is still the live endpoint
// of its member and nothing cuts it off from the sender. Locked.
func (n *Network) deliver(from quorum.MemberID, dst *Endpoint, payload []byte) int {
	if dst.dead || n.eps[dst.id] != dst || !n.linked(from, dst.id) {
		n.stats.Lost++
		return 0
	}
	select {
	case dst.inbox <- transport.Message{From: from, Payload: payload}:
		n.stats.Delivered++
		dst.stats.Received++
		return 1
	default:
		n.stats.Overflow++
		dst.stats.Dropped++
		return 0
	}
}

// exchange runs one push/pull round: every pair of live members linked
// both ways swaps states; a member without a state function (or with an
// empty state) only receives. The state functions are called without the lock
// (they may take their owner's locks), once each, in member order. Locked
// on entry and exit.
func (n *Network) exchange() int {
	type offer struct {
		e *Endpoint
		f func() []byte
	}
	var offers []offer
	for _, id := range n.ids {
		if e := n.eps[id]; !e.dead {
			offers = append(offers, offer{e, e.state})
		}
	}
	if len(offers) < 2 {
		return 0
	}
	states := make([][]byte, len(offers))
	n.mu.Unlock()
	for i, o := range offers {
		if o.f != nil {
			states[i] = slices.Clone(o.f())
		}
	}
	n.mu.Lock()
	moved := 0
	for i, a := range offers {
		for j := i + 1; j < len(offers); j++ {
			b := offers[j]
			if a.e.dead || b.e.dead || !n.linked(a.e.id, b.e.id) || !n.linked(b.e.id, a.e.id) {
				continue
			}
			if len(states[i]) > 0 {
				moved += n.deliver(a.e.id, b.e, slices.Clone(states[i]))
			}
			if len(states[j]) > 0 {
				moved += n.deliver(b.e.id, a.e, slices.Clone(states[j]))
			}
		}
	}
	return moved
}

// linked says whether messages may pass from one member to another now:
// no cut link and no partition between them. Locked.
func (n *Network) linked(from, to quorum.MemberID) bool {
	if n.link(from, to).Cut {
		return false
	}
	if from == to || n.groups == nil {
		return true
	}
	gf, okf := n.groups[from]
	gt, okt := n.groups[to]
	return okf && okt && gf == gt
}

// reachable says whether a message sent now from one member could reach
// the other: both live and linked. Locked.
func (n *Network) reachable(from, to quorum.MemberID) bool {
	f, t := n.eps[from], n.eps[to]
	return f != nil && t != nil && !f.dead && !t.dead && n.linked(from, to)
}

func (n *Network) link(from, to quorum.MemberID) Link {
	if l, ok := n.links[pair{from, to}]; ok {
		return l
	}
	return n.defaults
}

// SetDefaults sets how links without an override behave. It panics on a
// link that makes no sense (a probability outside [0, 1], a negative
// delay): that is a bug in the test.
func (n *Network) SetDefaults(l Link) {
	if err := l.check(); err != nil {
		panic(fmt.Sprintf("memnet: set default link: %v", err))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.defaults = l
}

// SetLink overrides the link from one member to another (one direction).
// It panics like SetDefaults.
func (n *Network) SetLink(from, to quorum.MemberID, l Link) {
	if err := l.check(); err != nil {
		panic(fmt.Sprintf("memnet: set link %s→%s: %v", from, to, err))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[pair{from, to}] = l
}

// ClearLinks removes every SetLink override.
func (n *Network) ClearLinks() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.links)
}

// Partition splits the network: members in different groups cannot talk,
// members in no group (including ones created later) are isolated. A member
// named in several groups belongs to the last. It replaces any previous
// partition; messages in flight across the new boundaries are lost.
func (n *Network) Partition(groups ...[]quorum.MemberID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = map[quorum.MemberID]int{}
	for i, g := range groups {
		for _, id := range g {
			n.groups[id] = i
		}
	}
}

// Heal ends the partition. Link overrides stay (see ClearLinks).
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = nil
}

// Crash kills member id's endpoint: it receives and sends nothing more,
// its Inbox is emptied and closed, and messages in flight to it are lost.
// Endpoint(id) keeps returning the dead endpoint until Restart.
func (n *Network) Crash(id quorum.MemberID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.eps[id]; e != nil {
		e.kill()
	}
}

// Restart gives member id a fresh endpoint (crashing the current one if it
// is live) and returns it: an empty Inbox, no state function, zero Stats.
// Messages in flight to the old endpoint are lost.
func (n *Network) Restart(id quorum.MemberID) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.eps[id]; e != nil {
		e.kill()
	}
	return n.newEndpoint(id)
}

// SetPushPullInterval sets the virtual time between push/pull exchanges,
// counted from now; d ≤ 0 stops them.
func (n *Network) SetPushPullInterval(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pushPull = d
	n.nextPP = n.now.Add(d)
}

// InFlight is how many messages were sent and are not yet due, delivered
// or lost.
func (n *Network) InFlight() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

// Stats returns the network's counters.
func (n *Network) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// message is one message in flight.
type message struct {
	at      time.Time
	seq     uint64
	from    quorum.MemberID
	dst     *Endpoint // the incarnation it was sent to
	payload []byte
}

// queue is a min-heap of messages by (at, seq).
type queue []*message

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*message)) }
func (q *queue) Pop() any {
	old := *q
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return m
}
