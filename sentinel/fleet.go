package sentinel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
	"github.com/imsentinel/imsentinel/quorum/transport/memberlist"
	"github.com/imsentinel/imsentinel/quorum/wire"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Wire kinds on the fleet link.
const (
	// kindAgreement: the body is one quorum.Message.
	kindAgreement = "agreement"
	// kindState: the body is a []quorum.Message, what a sentinel offers in
	// memberlist's push/pull exchange: the safety net for messages lost on
	// the direct path (notes/libs.md).
	kindState = "state"
)

// Sizes of the fleet link.
const (
	outboxSize  = 256             // messages waiting for one member before new ones are dropped
	sendTimeout = 2 * time.Second // one send to one member
)

// link is what a cluster monitor needs of the fleet: send an agreement
// message, and who is alive. Nil-safe implementations only.
type link interface {
	send(quorum.Message)
	alive() []quorum.MemberID
	// collision says, when another process joined the fleet with this
	// sentinel's id, what is known of it; "" otherwise.
	collision() string
}

// fleet is this sentinel's link to the others (DESIGN.md §5): the
// transport, the Conn that checks every sender's voter set, one outbox and
// sender goroutine per member (a slow member never blocks a cluster
// goroutine), and the dispatch of incoming agreement messages to the
// cluster monitors.
type fleet struct {
	self    quorum.MemberID
	voters  quorum.Voters
	t       *memberlist.Transport
	conn    *transport.Conn
	out     map[quorum.MemberID]chan []byte
	route   func(quorum.Message) // to the cluster monitors; never blocks
	log     *slog.Logger
	dropped atomic.Uint64
}

// votersOf builds the voter set from the config.
func votersOf(cfg config.Config) (quorum.Voters, error) {
	ms := make([]quorum.Member, 0, len(cfg.Fleet.Members))
	for _, m := range cfg.Fleet.Members {
		ms = append(ms, quorum.Member{ID: quorum.MemberID(m.ID), Address: m.Address})
	}
	return quorum.NewVoters(cfg.Fleet.Name, ms)
}

// newFleet starts the memberlist transport. Run must follow, or Close.
func newFleet(cfg config.Config, voters quorum.Voters, log *slog.Logger) (*fleet, error) {
	var key []byte
	if cfg.Gossip.EncryptionKey.IsSet() {
		var err error
		if key, err = base64.StdEncoding.DecodeString(cfg.Gossip.EncryptionKey.Reveal()); err != nil {
			return nil, fmt.Errorf("decode gossip.encryption_key: %w", err) // validated; unreachable
		}
	}
	self := quorum.MemberID(cfg.Sentinel.ID)
	t, err := memberlist.New(memberlist.Options{
		Self: self, Voters: voters, Bind: cfg.Gossip.Bind, Advertise: cfg.Gossip.Advertise,
		Label: cfg.Gossip.Label, SecretKey: key, Profile: cfg.Gossip.Profile,
		Logger: log.With("component", "memberlist"),
	})
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", cfg.Gossip.Bind, err)
	}
	f := &fleet{self: self, voters: voters, t: t, log: log, out: map[quorum.MemberID]chan []byte{},
		conn: transport.NewConn(faultTransport(t, log), self, voters, log)}
	for _, id := range voters.IDs() {
		if id != self {
			f.out[id] = make(chan []byte, outboxSize)
		}
	}
	return f, nil
}

// run serves the fleet link until ctx ends, then closes the transport and
// returns once every goroutine it started has stopped.
func (f *fleet) run(ctx context.Context) {
	var wg sync.WaitGroup
	for id, ch := range f.out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.sender(ctx, id, ch)
		}()
	}
	refuse := func(_ context.Context, req wire.Envelope) (string, []byte, error) {
		return "", nil, fmt.Errorf("this sentinel serves no %q requests", req.Kind)
	}
	if err := f.conn.Run(ctx, refuse, f.receive); err != nil && ctx.Err() == nil {
		f.log.Error("fleet link stopped", "err", err)
	}
	wg.Wait()
	if err := f.t.Close(); err != nil {
		f.log.Warn("close gossip transport", "err", err)
	}
}

// sender sends one member's outbox in order.
func (f *fleet) sender(ctx context.Context, to quorum.MemberID, ch <-chan []byte) {
	for {
		select {
		case <-ctx.Done():
			return
		case payload := <-ch:
			if faultDropTo(to) {
				continue // a test build's fault injection (faults_on.go)
			}
			sctx, cancel := context.WithTimeout(ctx, sendTimeout)
			err := f.t.Send(sctx, to, payload)
			cancel()
			if err != nil && ctx.Err() == nil {
				f.log.Debug("send to sentinel failed", "sentinel", to, "err", err)
			}
		}
	}
}

// send queues an agreement message for its destination, or for every other
// member. It never blocks: a full outbox drops (the agreement retries).
func (f *fleet) send(m quorum.Message) {
	body, err := json.Marshal(m)
	if err != nil {
		f.log.Error("encode agreement message", "kind", m.Kind, "err", err)
		return
	}
	payload, err := wire.Encode(wire.Envelope{Fleet: f.voters.Name(), Members: f.voters.IDs(), From: f.self,
		Kind: kindAgreement, Body: body})
	if err != nil {
		f.log.Error("encode envelope", "kind", m.Kind, "err", err)
		return
	}
	for id, ch := range f.out {
		if m.To != "" && m.To != id {
			continue
		}
		select {
		case ch <- payload:
		default:
			if n := f.dropped.Add(1); n&(n-1) == 0 {
				f.log.Warn("outbox full: message to sentinel dropped", "sentinel", id, "kind", m.Kind, "dropped_total", n)
			}
		}
	}
}

// receive takes one-way messages from the Conn, which has already refused
// incompatible voter sets, and routes agreement messages to their cluster.
func (f *fleet) receive(env wire.Envelope) {
	var ms []quorum.Message
	switch env.Kind {
	case kindAgreement:
		var m quorum.Message
		if err := json.Unmarshal(env.Body, &m); err != nil {
			f.log.Debug("dropped a malformed agreement message", "sentinel", env.From, "err", err)
			return
		}
		ms = []quorum.Message{m}
	case kindState:
		if len(env.Body) == 0 {
			return // nothing offered yet
		}
		if err := json.Unmarshal(env.Body, &ms); err != nil {
			f.log.Debug("dropped a malformed state exchange", "sentinel", env.From, "err", err)
			return
		}
	default:
		return
	}
	for _, m := range ms {
		if m.From != env.From || m.Check() != nil || f.route == nil {
			continue
		}
		f.route(m)
	}
}

// offerState installs what this sentinel offers in push/pull exchanges:
// share() collects every cluster's messages worth repeating. It must not
// block.
func (f *fleet) offerState(share func() []quorum.Message) {
	f.t.SetState(func() []byte {
		if faultWithholdState() {
			return nil // a test build's fault injection (faults_on.go)
		}
		body, err := json.Marshal(share())
		if err != nil {
			return nil
		}
		b, err := wire.Encode(wire.Envelope{Fleet: f.voters.Name(), Members: f.voters.IDs(), From: f.self,
			Kind: kindState, Body: body})
		if err != nil {
			f.log.Debug("encode state for push/pull", "err", err)
			return nil
		}
		return b
	})
}

func (f *fleet) alive() []quorum.MemberID { return f.t.Alive() }

func (f *fleet) collision() string {
	if !f.t.SelfConflict() {
		return ""
	}
	return strings.Join(f.t.Conflicts(), "; ")
}
