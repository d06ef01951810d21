package memberlist

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	hml "github.com/hashicorp/memberlist"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

var _ transport.Transport = (*Transport)(nil)

// maxInflight bounds the sends to one member that may be dialling or
// writing at once; more wait for a slot (or for their ctx).
const maxInflight = 32

// Transport is the production fleet transport: one memberlist node named
// after this sentinel. All methods are safe for concurrent use. Send
// blocks until the payload is written or its ctx ends; Close blocks up to
// a second for the leave announcement plus, at worst, the profile's
// TCPTimeout for a dial in flight; the others never block.
type Transport struct {
	self     quorum.MemberID
	voters   quorum.Voters
	log      *slog.Logger
	prof     profile
	ml       *hml.Memberlist
	bindAddr string // host:port actually bound
	advAddr  string // host:port advertised to the others

	inbox chan transport.Message

	// mu orders Close against senders and deliveries: Send adds to wg and
	// deliver sends on inbox only under mu.RLock and while open.
	mu          sync.RWMutex
	closing     bool // Close has begun: no new sends
	inboxClosed bool
	wg          sync.WaitGroup // the joiner and the send goroutines
	closeOnce   sync.Once
	closeErr    error

	stop      chan struct{} // closed by Close: the joiner returns
	wake      chan struct{} // cap 1: a member was lost, or state was set
	pushState atomic.Bool   // the joiner should push/pull with every live member
	state     atomic.Pointer[func() []byte]
	inflight  map[quorum.MemberID]chan struct{}

	nodesMu sync.Mutex
	nodes   map[quorum.MemberID]hml.Node // live (alive or suspect) voters, self included

	conflictsMu  sync.Mutex
	conflicts    map[string]string // key → description, see noteConflict
	selfConflict bool
	warned       map[string]bool // warn-once keys: refused names, odd senders

	sent, received, dropped atomic.Uint64

	// For tests: joiner rounds completed; crash makes Close skip Leave.
	joinRounds atomic.Uint64
	crash      bool
	selfProbed atomic.Bool // a join to our own configured address succeeded
}

// New starts the transport of o.Self: it binds o.Bind, and starts a
// background joiner that keeps joining the addresses of every voter not
// currently seen alive (all at once, with backoff) until Close. It does
// not wait for any member to answer.
func New(o Options) (*Transport, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("start memberlist transport: %w", err)
	}
	prof, _ := profileNamed(o.Profile)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inboxSize := o.InboxSize
	if inboxSize == 0 {
		inboxSize = DefaultInboxSize
	}
	t := &Transport{
		self:      o.Self,
		voters:    o.Voters,
		log:       log,
		prof:      prof,
		inbox:     make(chan transport.Message, inboxSize),
		stop:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		inflight:  map[quorum.MemberID]chan struct{}{},
		nodes:     map[quorum.MemberID]hml.Node{},
		conflicts: map[string]string{},
		warned:    map[string]bool{},
	}
	for _, id := range o.Voters.IDs() {
		t.inflight[id] = make(chan struct{}, maxInflight)
	}

	conf := prof.config()
	conf.Name = string(o.Self)
	host, port, _ := splitIPPort(o.Bind, true) // validated
	conf.BindAddr, conf.BindPort = host, port
	conf.AdvertiseAddr, conf.AdvertisePort = "", port
	if o.Advertise != "" {
		conf.AdvertiseAddr, conf.AdvertisePort, _ = splitIPPort(o.Advertise, false)
	}
	conf.Label = o.Label
	if conf.Label == "" {
		conf.Label = o.Voters.Name()
	}
	if len(o.SecretKey) > 0 {
		conf.SecretKey = slices.Clone(o.SecretKey)
	}
	// A member that crashed and came back at another address may take its
	// name back once it has been dead this long; before, it is a conflict.
	conf.DeadNodeReclaimTime = conf.GossipToTheDeadTime
	conf.Delegate = delegate{t}
	conf.Events = events{t}
	conf.Conflict = conflicts{t}
	conf.Alive = aliveFilter{t}
	conf.Logger = slog.NewLogLogger(log.Handler(), slog.LevelDebug)

	ml, err := hml.Create(conf)
	if err != nil {
		return nil, fmt.Errorf("start memberlist transport for %s on %s: %w", o.Self, o.Bind, err)
	}
	t.ml = ml
	// Create replaced port 0 by the port it bound.
	t.bindAddr = net.JoinHostPort(host, strconv.Itoa(conf.BindPort))
	t.advAddr = ml.LocalNode().Address()

	t.wg.Add(1)
	go t.join()
	return t, nil
}

// LocalAddr is the address bound, host:port, with the real port when
// Options.Bind asked for port 0.
func (t *Transport) LocalAddr() string { return t.bindAddr }

// Send hands payload to member to over a TCP stream (memberlist's
// SendReliable) and returns once it is written, not once it is handled.
//
// It fails with ErrUnknownMember when to is not a voter or is this
// sentinel (a transport does not send to itself), with ErrUnreachable when
// memberlist does not currently see to alive or the dial or write fails,
// with ErrClosed after Close, and with ctx's error when ctx ends first;
// then the payload may still arrive, since the dial cannot be abandoned:
// it goes on in the background for up to the profile's TCPTimeout.
func (t *Transport) Send(ctx context.Context, to quorum.MemberID, payload []byte) error {
	t.mu.RLock()
	closing := t.closing
	t.mu.RUnlock()
	if closing {
		return fmt.Errorf("send to %s: %w", to, transport.ErrClosed)
	}
	if !t.voters.Has(to) {
		return fmt.Errorf("send to %s: %w", to, transport.ErrUnknownMember)
	}
	if to == t.self {
		return fmt.Errorf("send to %s: it is this sentinel, a transport does not send to itself: %w",
			to, transport.ErrUnknownMember)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	t.nodesMu.Lock()
	node, ok := t.nodes[to]
	t.nodesMu.Unlock()
	if !ok {
		return fmt.Errorf("send to %s: not a live member of the gossip cluster: %w", to, transport.ErrUnreachable)
	}
	addr := node.Address()

	sem := t.inflight[to]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("send to %s at %s: waiting for a free connection: %w", to, addr, ctx.Err())
	case <-t.stop:
		return fmt.Errorf("send to %s: %w", to, transport.ErrClosed)
	}
	t.mu.RLock()
	if t.closing {
		t.mu.RUnlock()
		<-sem
		return fmt.Errorf("send to %s: %w", to, transport.ErrClosed)
	}
	t.wg.Add(1)
	t.mu.RUnlock()

	buf := envelope{kind: kindMessage, from: t.self, to: to, payload: payload}.encode()
	done := make(chan error, 1)
	go func() {
		defer t.wg.Done()
		defer func() { <-sem }()
		done <- t.ml.SendReliable(&node, buf)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("send to %s at %s: %w: %w", to, addr, transport.ErrUnreachable, err)
		}
		t.sent.Add(1)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("send to %s at %s: %w", to, addr, ctx.Err())
	}
}

// Inbox delivers the direct messages and push/pull states received from
// other voters, in arrival order. It is closed by Close. When it is full,
// new messages are dropped and counted in Stats.Dropped.
func (t *Transport) Inbox() <-chan transport.Message { return t.inbox }

// SetState installs the function whose result this member offers in
// push/pull exchanges: at joins, every PushPullInterval with one random
// member, and right after SetState with every live member (so a new state
// function does not wait for the next interval). f must not block; nil
// stops offering state.
func (t *Transport) SetState(f func() []byte) {
	if f == nil {
		t.state.Store(nil)
		return
	}
	t.state.Store(&f)
	t.pushState.Store(true)
	t.poke()
}

// Alive lists the voters memberlist sees alive or suspect now, this one
// included, sorted.
func (t *Transport) Alive() []quorum.MemberID {
	t.nodesMu.Lock()
	defer t.nodesMu.Unlock()
	ids := make([]quorum.MemberID, 0, len(t.nodes))
	for id := range t.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Stats counts successful sends, messages put in Inbox, and messages
// dropped: Inbox full, from a non-voter or from this sentinel's own id,
// for another member, malformed, or after Close. A message taken from
// Inbox is already counted: deliver counts it under the read lock, and
// Stats takes the write lock, so it waits for any deliver in flight.
func (t *Transport) Stats() transport.Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return transport.Stats{Sent: t.sent.Load(), Received: t.received.Load(), Dropped: t.dropped.Load()}
}

// Conflicts describes the member id collisions seen since start, sorted:
// two nodes claiming one id from different addresses (DESIGN.md §5.1).
// Each entry starts with the id. Empty when there were none.
func (t *Transport) Conflicts() []string {
	t.conflictsMu.Lock()
	defer t.conflictsMu.Unlock()
	out := make([]string, 0, len(t.conflicts))
	for _, d := range t.conflicts {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// SelfConflict says whether another process was seen using this
// sentinel's id. Such a sentinel must not vote or act (DESIGN.md §5.1).
func (t *Transport) SelfConflict() bool {
	t.conflictsMu.Lock()
	defer t.conflictsMu.Unlock()
	return t.selfConflict
}

// Close announces that this member leaves (waiting up to a second for the
// announcement to go out), shuts memberlist down, waits for the joiner and
// for sends in flight (each bounded by the profile's TCPTimeout), then
// closes Inbox. Calls after the first return nil.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() { t.closeErr = t.close() })
	return t.closeErr
}

func (t *Transport) close() error {
	t.mu.Lock()
	t.closing = true
	t.mu.Unlock()
	close(t.stop)

	if !t.crash {
		// Leave fails only on timeout: the others then find out by probing.
		if err := t.ml.Leave(leaveTimeout); err != nil {
			t.log.Debug("leave announcement not confirmed; the others will notice by probing", "err", err)
		}
	}
	var err error
	if e := t.ml.Shutdown(); e != nil {
		err = fmt.Errorf("close memberlist transport of %s: shut down memberlist: %w", t.self, e)
	}
	t.wg.Wait()

	t.mu.Lock()
	t.inboxClosed = true
	close(t.inbox)
	t.mu.Unlock()
	return err
}

// deliver puts a message in Inbox without blocking.
func (t *Transport) deliver(from quorum.MemberID, payload []byte) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.inboxClosed {
		t.dropped.Add(1)
		return
	}
	select {
	case t.inbox <- transport.Message{From: from, Payload: payload}:
		t.received.Add(1)
	default:
		t.dropped.Add(1)
	}
}

// receive checks an envelope from the network and delivers it.
func (t *Transport) receive(b []byte, want kind) {
	e, err := decodeEnvelope(b)
	switch {
	case err != nil:
		t.dropped.Add(1)
		t.warnOnce("malformed", "dropped a malformed gossip message", "err", err)
	case e.kind != want:
		t.dropped.Add(1)
		t.warnOnce("kind", "dropped a gossip message of the wrong kind", "sentinel", e.from, "kind", e.kind)
	case !t.voters.Has(e.from):
		t.dropped.Add(1)
		t.warnOnce("from:"+string(e.from), "dropped a message from a sentinel that is not in fleet.members",
			"sentinel", e.from)
	case e.from == t.self:
		// Our own state, when the joiner pushes to our configured address
		// and it is us; or another process using our id.
		t.dropped.Add(1)
	case e.kind == kindMessage && e.to != t.self:
		t.dropped.Add(1)
		t.warnOnce("to:"+string(e.to), "dropped a message meant for another sentinel: its address now reaches this one",
			"sentinel", e.from, "to", e.to)
	default:
		t.deliver(e.from, e.payload)
	}
}

// warnOnce logs at Warn the first time key is seen, at Debug after.
func (t *Transport) warnOnce(key, msg string, args ...any) {
	t.conflictsMu.Lock()
	first := !t.warned[key]
	if first && len(t.warned) < 1024 {
		t.warned[key] = true
	}
	t.conflictsMu.Unlock()
	if first {
		t.log.Warn(msg, args...)
	} else {
		t.log.Debug(msg, args...)
	}
}

// poke wakes the joiner without blocking.
func (t *Transport) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// noteConflict records that id is claimed at two addresses.
func (t *Transport) noteConflict(id quorum.MemberID, existing, other string) {
	a, b := existing, other
	if b < a {
		a, b = b, a
	}
	key := string(id) + "\x00" + a + "\x00" + b
	self := id == t.self
	t.conflictsMu.Lock()
	_, seen := t.conflicts[key]
	if !seen {
		t.conflicts[key] = fmt.Sprintf("%s: claimed by %s and %s", id, a, b)
	}
	if self {
		t.selfConflict = true
	}
	t.conflictsMu.Unlock()
	if seen {
		t.log.Debug("sentinel id collision seen again", "sentinel", id, "known_at", existing, "claimed_at", other)
		return
	}
	msg := "sentinel id collision: two processes use one sentinel.id; check sentinel.id on every host"
	if self {
		msg = "sentinel id collision: another process uses this sentinel's id; this sentinel must not vote or act until sentinel.id is fixed"
	}
	t.log.Error(msg, "sentinel", id, "known_at", existing, "claimed_at", other)
}
