package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/wire"
)

// Defaults of a Conn.
const (
	// DefaultHandlerTimeout bounds one request's handling, waiting for a
	// free handler included: 2 s. Vote grants fsync before they answer.
	DefaultHandlerTimeout = 2 * time.Second
	// DefaultMaxHandlers is how many requests are handled at once: 8.
	DefaultMaxHandlers = 8
	// DefaultMaxQueued is how many requests may be handled or waiting for a
	// handler at once: 256. Beyond it a request is refused as busy at once.
	DefaultMaxQueued = 256
	// replyTimeout bounds sending one reply.
	replyTimeout = time.Second
	// maxReason is the longest refusal reason sent, in bytes.
	maxReason = 1024
	// maxWarned bounds the (sender, fingerprint) pairs remembered for
	// warn-once logging; beyond it refusals are logged at Debug.
	maxWarned = 1024
)

// Errors of Conn.
var (
	// ErrRefused: the member answered a request with a refusal; the error
	// carries its reason.
	ErrRefused = errors.New("request refused")
)

// Handler answers one request. It returns the reply's kind (empty means
// the request's kind) and JSON body, or an error, which is sent back as the
// reply's Err (a refusal). ctx carries the per-request deadline. It may
// block (e.g. fsync a vote) but must honour ctx.
type Handler func(ctx context.Context, req wire.Envelope) (kind string, body []byte, err error)

// Result is one member's answer to RequestAll.
type Result struct {
	Reply wire.Envelope
	Err   error
}

// Conn is request/response with deadlines over a Transport: one per
// sentinel. It stamps every outgoing message with the voter set
// (DESIGN.md §5.1), and accepts only messages from compatible voter sets.
//
// Run reads the transport's Inbox and must be running for replies, requests
// and requests to self to be handled. Request, Broadcast and RequestAll are
// safe for concurrent use and block at most until their ctx ends. The
// exported fields may be set only before Run.
type Conn struct {
	// HandlerTimeout bounds handling one request, from its arrival to the
	// handler's return (DefaultHandlerTimeout).
	HandlerTimeout time.Duration
	// MaxHandlers is how many handlers run at once (DefaultMaxHandlers).
	MaxHandlers int
	// MaxQueued is how many requests may be handled or wait for a handler
	// at once (DefaultMaxQueued); more are refused as busy.
	MaxQueued int

	t      Transport
	self   quorum.MemberID
	voters quorum.Voters
	ids    []quorum.MemberID
	log    *slog.Logger

	nextID  atomic.Uint64
	started atomic.Bool
	stopped chan struct{} // closed when Run has returned
	local   chan Message  // requests to self, handled by Run
	queued  atomic.Int64  // requests handled or waiting for a handler

	mu      sync.Mutex
	pending map[uint64]pending
	warned  map[warnKey]bool
	peers   map[quorum.MemberID]Peer // what each sender's latest message said of its voter set
}

// Peer is what this sentinel last heard of another's voter set.
type Peer struct {
	Fingerprint quorum.Fingerprint `json:"fingerprint"`
	// Compatible: its voter set is ours or one change away (DESIGN.md
	// §5.1); Why says what differs otherwise.
	Compatible bool      `json:"compatible"`
	Why        string    `json:"why,omitempty"`
	At         time.Time `json:"at"`
}

// Peers returns what each member's latest message said of its voter set:
// the fleet's fingerprint agreement, for GET /v1/fleet.
func (c *Conn) Peers() map[quorum.MemberID]Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[quorum.MemberID]Peer, len(c.peers))
	for id, p := range c.peers {
		out[id] = p
	}
	return out
}

type pending struct {
	to quorum.MemberID
	ch chan reply // buffered 1: delivering never blocks
}

type reply struct {
	env    wire.Envelope
	reason error // non-nil: the reply came from an incompatible voter set
}

type warnKey struct {
	from quorum.MemberID
	what string // a fingerprint or a kind of problem
}

// NewConn returns the Conn of sentinel self over t. voters is this
// sentinel's voter set; log may be nil.
func NewConn(t Transport, self quorum.MemberID, voters quorum.Voters, log *slog.Logger) *Conn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		HandlerTimeout: DefaultHandlerTimeout,
		MaxHandlers:    DefaultMaxHandlers,
		MaxQueued:      DefaultMaxQueued,
		t:              t,
		self:           self,
		voters:         voters,
		ids:            voters.IDs(),
		log:            log,
		stopped:        make(chan struct{}),
		local:          make(chan Message),
		pending:        map[uint64]pending{},
		warned:         map[warnKey]bool{},
	}
	// Request ids start at a random point so that a late reply to a
	// previous process's request cannot pass for a reply to this one's.
	c.nextID.Store(rand.Uint64() >> 2)
	if !voters.Has(self) {
		log.Error("this sentinel is not in fleet.members: other sentinels will refuse its messages",
			"sentinel", self, "members", voters.IDs())
	}
	return c
}

// Run reads the Inbox until ctx ends or the Inbox is closed, and dispatches
// what arrives: replies to the waiting Request, requests to h (each in its
// own goroutine, MaxHandlers at a time, with HandlerTimeout), one-way
// messages to oneWay (synchronously; nil drops them). Messages from an
// incompatible voter set are refused: a request gets a reply with Err set
// and never reaches h. Run returns only after every goroutine it started has
// ended: nil when ctx ended, an error wrapping ErrClosed when the Inbox was
// closed. A Conn runs once. oneWay runs on Run's goroutine: it must not
// block, nor wait for a reply through this Conn (hand the message to the
// state machine's goroutine instead).
func (c *Conn) Run(ctx context.Context, h Handler, oneWay func(wire.Envelope)) error {
	if !c.started.CompareAndSwap(false, true) {
		return fmt.Errorf("run conn of %s: already started", c.self)
	}
	var wg sync.WaitGroup
	defer close(c.stopped)
	defer wg.Wait()
	d := &dispatcher{c: c, ctx: ctx, wg: &wg, h: h, oneWay: oneWay,
		sem: make(chan struct{}, max(c.MaxHandlers, 1))}
	inbox := c.t.Inbox()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-inbox:
			if !ok {
				return fmt.Errorf("run conn of %s: inbox: %w", c.self, ErrClosed)
			}
			d.dispatch(m, false)
		case m := <-c.local:
			d.dispatch(m, true)
		}
	}
}

// dispatcher is Run's state.
type dispatcher struct {
	c      *Conn
	ctx    context.Context
	wg     *sync.WaitGroup
	h      Handler
	oneWay func(wire.Envelope)
	sem    chan struct{}
}

func (d *dispatcher) dispatch(m Message, local bool) {
	c := d.c
	env, err := wire.Decode(m.Payload)
	if err != nil {
		c.warnOnce(m.From, "decode:"+decodeProblem(err), "dropped a message that is not a valid envelope",
			"sentinel", m.From, "err", err)
		return
	}
	if m.From != "" && m.From != env.From {
		c.warnOnce(m.From, "from:"+string(env.From), "dropped a message whose sender differs from the transport's",
			"sentinel", m.From, "claims", env.From, "kind", env.Kind)
		return
	}
	if !local && env.From == c.self {
		c.warnOnce(env.From, "self", "dropped a message from another sentinel using this sentinel's id: "+
			"two sentinels share an id, check sentinel.id on every host", "sentinel", env.From, "kind", env.Kind)
		return
	}
	reason := c.compatible(env)
	if !local {
		p := Peer{Fingerprint: env.Fingerprint, Compatible: reason == nil, At: time.Now()}
		if reason != nil {
			p.Why = reason.Error()
		}
		c.mu.Lock()
		if c.peers == nil {
			c.peers = map[quorum.MemberID]Peer{}
		}
		c.peers[env.From] = p
		c.mu.Unlock()
	}
	if reason != nil {
		c.warnOnce(env.From, string(env.Fingerprint), "refused a message from an incompatible voter set",
			"sentinel", env.From, "kind", env.Kind, "fingerprint", env.Fingerprint, "err", reason)
	}
	switch {
	case env.IsReply():
		c.deliverReply(env, reason)
	case env.IsRequest():
		if reason != nil {
			c.reply(d.ctx, env, "", nil, reason)
			return
		}
		d.handle(env)
	default:
		if reason == nil && d.oneWay != nil {
			d.oneWay(env)
		}
	}
}

// handle runs h for req in its own goroutine; the Run loop never waits.
func (d *dispatcher) handle(req wire.Envelope) {
	c := d.c
	if n := c.queued.Load(); n >= int64(max(c.MaxQueued, 1)) {
		c.log.Debug("refused a request: too many queued", "sentinel", req.From, "kind", req.Kind, "queued", n)
		c.reply(d.ctx, req, "", nil, fmt.Errorf("busy: %d requests queued", n))
		return
	}
	c.queued.Add(1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer c.queued.Add(-1)
		timeout := c.HandlerTimeout
		if timeout <= 0 {
			timeout = DefaultHandlerTimeout
		}
		hctx, cancel := context.WithTimeout(d.ctx, timeout)
		defer cancel()
		acquired := false
		select {
		case d.sem <- struct{}{}:
			acquired = true
		case <-hctx.Done():
		}
		if hctx.Err() != nil { // also when a handler came free just as time ran out
			if acquired {
				<-d.sem
			}
			c.reply(d.ctx, req, "", nil, fmt.Errorf("busy: no handler free within %s", timeout))
			return
		}
		kind, body, err := d.h(hctx, req)
		<-d.sem
		// The reply goes out even when the handler overran its deadline: a
		// persisted grant must reach a requester that still waits.
		c.reply(d.ctx, req, kind, body, err)
	}()
}

// reply answers req. herr non-nil sends a refusal with its text.
func (c *Conn) reply(ctx context.Context, req wire.Envelope, kind string, body []byte, herr error) {
	if kind == "" || herr != nil {
		kind = req.Kind
	}
	out := c.envelope(kind, 0, req.ID, body)
	if herr != nil {
		out.Body, out.Err = nil, truncate(strings.ToValidUTF8(herr.Error(), "\uFFFD"), maxReason)
	}
	b, err := wire.Encode(out)
	if err != nil {
		c.log.Error("could not encode a reply; refusing instead", "sentinel", req.From, "kind", kind, "err", err)
		out.Kind, out.Body, out.Err = req.Kind, nil, truncate("reply could not be encoded: "+err.Error(), maxReason)
		if b, err = wire.Encode(out); err != nil {
			c.log.Error("could not encode a refusal", "sentinel", req.From, "kind", req.Kind, "err", err)
			return
		}
	}
	if req.From == c.self {
		env, err := wire.Decode(b)
		if err != nil {
			c.log.Error("could not decode a reply to self", "kind", kind, "err", err)
			return
		}
		c.deliverReply(env, nil)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, replyTimeout)
	defer cancel()
	if err := c.t.Send(sctx, req.From, b); err != nil {
		c.log.Debug("could not send a reply", "sentinel", req.From, "kind", kind, "err", err)
	}
}

// deliverReply hands a reply to the Request waiting for it, if any and if
// the reply comes from the member asked. Late and duplicate replies are
// dropped.
func (c *Conn) deliverReply(env wire.Envelope, reason error) {
	c.mu.Lock()
	p, ok := c.pending[env.ReplyTo]
	c.mu.Unlock()
	if !ok || p.to != env.From {
		c.log.Debug("dropped a reply nobody waits for", "sentinel", env.From, "kind", env.Kind, "re", env.ReplyTo)
		return
	}
	select {
	case p.ch <- reply{env: env, reason: reason}:
	default:
	}
}

// compatible checks a message's voter set against ours and that its sender
// is one of its own members.
func (c *Conn) compatible(env wire.Envelope) error {
	if err := c.voters.Compatible(env.Fleet, env.Members); err != nil {
		return err
	}
	for _, id := range env.Members {
		if id == env.From {
			return nil
		}
	}
	return fmt.Errorf("%w: sender %s is not in its own fleet.members %v", quorum.ErrIncompatibleVoters, env.From, env.Members)
}

// Request sends a request of kind to member to and waits for its reply or
// for ctx. A request to self is handled by this Conn's Run without the
// network. A refusal is returned as an error wrapping ErrRefused, together
// with the refusing reply; a reply from an incompatible voter set as an
// error wrapping quorum.ErrIncompatibleVoters. A reply that arrives after
// ctx ended is dropped.
func (c *Conn) Request(ctx context.Context, to quorum.MemberID, kind string, body []byte) (wire.Envelope, error) {
	if !c.voters.Has(to) {
		return wire.Envelope{}, fmt.Errorf("request %s to %s: %w", kind, to, ErrUnknownMember)
	}
	id := c.newID()
	b, err := wire.Encode(c.envelope(kind, id, 0, body))
	if err != nil {
		return wire.Envelope{}, fmt.Errorf("request %s to %s: %w", kind, to, err)
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	c.pending[id] = pending{to: to, ch: ch}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if to == c.self {
		select {
		case c.local <- Message{From: c.self, Payload: b}:
		case <-ctx.Done():
			return wire.Envelope{}, fmt.Errorf("request %s to self: %w", kind, ctx.Err())
		case <-c.stopped:
			return wire.Envelope{}, fmt.Errorf("request %s to self: conn stopped: %w", kind, ErrClosed)
		}
	} else if err := c.t.Send(ctx, to, b); err != nil {
		return wire.Envelope{}, fmt.Errorf("request %s to %s: %w", kind, to, err)
	}
	select {
	case r := <-ch:
		switch {
		case r.env.Err != "":
			return r.env, fmt.Errorf("request %s to %s: %w: %s", kind, to, ErrRefused, r.env.Err)
		case r.reason != nil:
			return wire.Envelope{}, fmt.Errorf("request %s to %s: reply: %w", kind, to, r.reason)
		}
		return r.env, nil
	case <-ctx.Done():
		return wire.Envelope{}, fmt.Errorf("request %s to %s: no reply: %w", kind, to, ctx.Err())
	case <-c.stopped:
		return wire.Envelope{}, fmt.Errorf("request %s to %s: conn stopped: %w", kind, to, ErrClosed)
	}
}

// Broadcast sends a one-way message of kind directly to every other
// member. The result has every other member, with nil when the transport
// took the message (which does not mean it was delivered).
func (c *Conn) Broadcast(ctx context.Context, kind string, body []byte) map[quorum.MemberID]error {
	out := make(map[quorum.MemberID]error, len(c.ids))
	b, err := wire.Encode(c.envelope(kind, 0, 0, body))
	if err != nil {
		for _, id := range c.others() {
			out[id] = fmt.Errorf("broadcast %s: %w", kind, err)
		}
		return out
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, id := range c.others() {
		wg.Go(func() {
			err := c.t.Send(ctx, id, b)
			if err != nil {
				err = fmt.Errorf("broadcast %s to %s: %w", kind, id, err)
			}
			mu.Lock()
			out[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// RequestAll sends a request of kind to every other member in parallel and
// returns when all have answered or ctx has ended; the result has every
// other member, the unanswered ones with a context error.
func (c *Conn) RequestAll(ctx context.Context, kind string, body []byte) map[quorum.MemberID]Result {
	out := make(map[quorum.MemberID]Result, len(c.ids))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, id := range c.others() {
		wg.Go(func() {
			env, err := c.Request(ctx, id, kind, body)
			mu.Lock()
			out[id] = Result{Reply: env, Err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// others are the members but self.
func (c *Conn) others() []quorum.MemberID {
	out := make([]quorum.MemberID, 0, len(c.ids))
	for _, id := range c.ids {
		if id != c.self {
			out = append(out, id)
		}
	}
	return out
}

func (c *Conn) envelope(kind string, id, replyTo uint64, body []byte) wire.Envelope {
	return wire.Envelope{
		Fleet:       c.voters.Name(),
		Members:     c.ids,
		Fingerprint: c.voters.Fingerprint(),
		From:        c.self,
		Kind:        kind,
		ID:          id,
		ReplyTo:     replyTo,
		Body:        body,
	}
}

func (c *Conn) newID() uint64 {
	for {
		if id := c.nextID.Add(1); id != 0 {
			return id
		}
	}
}

// warnOnce logs msg at Warn the first time (from, what) is seen, and at
// Debug afterwards.
func (c *Conn) warnOnce(from quorum.MemberID, what, msg string, args ...any) {
	k := warnKey{from: from, what: what}
	c.mu.Lock()
	first := !c.warned[k] && len(c.warned) < maxWarned
	if first {
		c.warned[k] = true
	}
	c.mu.Unlock()
	level := slog.LevelDebug
	if first {
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, msg, args...)
}

// decodeProblem names the class of a decode error, for warn-once.
func decodeProblem(err error) string {
	for _, e := range []error{wire.ErrTooLarge, wire.ErrMagic, wire.ErrVersion, wire.ErrMalformed, wire.ErrFingerprint} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other"
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
