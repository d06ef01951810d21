package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
	"github.com/imsentinel/imsentinel/quorum/transport/memnet"
	"github.com/imsentinel/imsentinel/quorum/wire"
)

// loopNet is a tiny in-test network: Send puts the payload straight into
// the destination's inbox.
type loopNet struct {
	mu  sync.Mutex
	eps map[quorum.MemberID]*loopEP
}

type loopEP struct {
	net    *loopNet
	id     quorum.MemberID
	inbox  chan transport.Message
	sent   atomic.Int64
	closed bool // guarded by net.mu
}

var _ transport.Transport = (*loopEP)(nil)

func newLoopNet(ids ...quorum.MemberID) *loopNet {
	n := &loopNet{eps: map[quorum.MemberID]*loopEP{}}
	for _, id := range ids {
		n.eps[id] = &loopEP{net: n, id: id, inbox: make(chan transport.Message, 1024)}
	}
	return n
}

func (e *loopEP) Send(ctx context.Context, to quorum.MemberID, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	dst := e.net.eps[to]
	switch {
	case e.closed:
		return transport.ErrClosed
	case dst == nil:
		return transport.ErrUnknownMember
	case dst.closed:
		return transport.ErrUnreachable
	}
	e.sent.Add(1)
	select {
	case dst.inbox <- transport.Message{From: e.id, Payload: bytes.Clone(payload)}:
	default:
	}
	return nil
}

func (e *loopEP) Inbox() <-chan transport.Message { return e.inbox }
func (e *loopEP) SetState(func() []byte)          {}
func (e *loopEP) Alive() []quorum.MemberID        { return nil }
func (e *loopEP) Stats() transport.Stats {
	return transport.Stats{Sent: uint64(e.sent.Load())}
}

func (e *loopEP) Close() error {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.inbox)
	}
	return nil
}

// inject puts a raw message into id's inbox, as if from the network.
func (n *loopNet) inject(id quorum.MemberID, m transport.Message) {
	n.eps[id].inbox <- m
}

// logBuf collects a logger's output.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count is how many log lines contain every one of subs.
func (b *logBuf) count(subs ...string) int {
	n := 0
	for line := range strings.SplitSeq(b.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}

func newLog() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func mustVoters(t *testing.T, name string, ids ...quorum.MemberID) quorum.Voters {
	t.Helper()
	var ms []quorum.Member
	for _, id := range ids {
		ms = append(ms, quorum.Member{ID: id})
	}
	v, err := quorum.NewVoters(name, ms)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// echo replies "pong" with the request's body.
func echo(_ context.Context, req wire.Envelope) (string, []byte, error) {
	return "pong", req.Body, nil
}

// running is a Conn whose Run goroutine the test owns.
type running struct {
	*transport.Conn
	done chan error
}

// start runs c with h and oneWay until ctx ends; the test's cleanup never
// needs to wait: callers wait with stop.
func start(ctx context.Context, c *transport.Conn, h transport.Handler, oneWay func(wire.Envelope)) running {
	r := running{Conn: c, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, h, oneWay) }()
	return r
}

func (r running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return")
		return nil
	}
}

var s123 = []quorum.MemberID{"s1", "s2", "s3"}

func TestRequestReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		var rs []running
		for _, id := range s123 {
			rs = append(rs, start(ctx, transport.NewConn(net.eps[id], id, v, nil), echo, nil))
		}
		got, err := rs[0].Request(ctx, "s2", "ping", []byte(`{"n": 1}`))
		if err != nil {
			t.Fatalf("Request ping to s2: %v", err)
		}
		if got.Kind != "pong" || got.From != "s2" || string(got.Body) != `{"n":1}` || got.ReplyTo == 0 || got.Err != "" {
			t.Errorf("Request ping to s2 = %+v, want a pong from s2 echoing {\"n\":1}", got)
		}
		if got.Fingerprint != v.Fingerprint() || got.Fleet != "im" {
			t.Errorf("reply carries fleet %q fingerprint %q, want im %q", got.Fleet, got.Fingerprint, v.Fingerprint())
		}
		// Many requests at once get their own replies.
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				body := fmt.Appendf(nil, `{"i":%d}`, i)
				got, err := rs[i%3].Request(ctx, s123[(i+1)%3], "ping", body)
				if err != nil || string(got.Body) != string(body) {
					t.Errorf("request %d = %s, %v; want the body %s back", i, got.Body, err, body)
				}
			})
		}
		wg.Wait()
		cancel()
		for _, r := range rs {
			if err := r.wait(t); err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		}
	})
}

func TestRequestToSelfSkipsTheNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet(s123...)
		var from quorum.MemberID
		h := func(ctx context.Context, req wire.Envelope) (string, []byte, error) {
			from = req.From
			return "vote.grant", []byte(`true`), nil
		}
		r := start(ctx, transport.NewConn(net.eps["s1"], "s1", mustVoters(t, "im", s123...), nil), h, nil)
		got, err := r.Request(ctx, "s1", "vote.request", nil)
		if err != nil || got.Kind != "vote.grant" || string(got.Body) != "true" || got.From != "s1" {
			t.Fatalf("Request to self = %+v, %v; want a vote.grant from s1", got, err)
		}
		if from != "s1" {
			t.Errorf("handler saw the request from %q, want s1", from)
		}
		if n := net.eps["s1"].sent.Load(); n != 0 {
			t.Errorf("request to self sent %d messages on the network, want 0", n)
		}
		cancel()
		r.wait(t)
		// After Run, a request to self fails at once instead of waiting.
		if _, err := r.Request(t.Context(), "s1", "vote.request", nil); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Request to self after Run = %v, want ErrClosed", err)
		}
	})
}

func TestRequestRefusedByHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		refuse := func(context.Context, wire.Envelope) (string, []byte, error) {
			return "", nil, errors.New("epoch 7 is not above 9, the highest seen for msg-shard-01")
		}
		a := start(ctx, transport.NewConn(net.eps["s1"], "s1", v, nil), echo, nil)
		start(ctx, transport.NewConn(net.eps["s2"], "s2", v, nil), refuse, nil)
		got, err := a.Request(ctx, "s2", "vote.request", []byte(`{"epoch":7}`))
		if !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), "epoch 7 is not above 9") {
			t.Errorf("Request = %v, want ErrRefused with the handler's reason", err)
		}
		if got.Kind != "vote.request" || got.Err == "" || got.Body != nil {
			t.Errorf("refusing reply = %+v, want the request's kind, Err set, no body", got)
		}
		if _, err := a.Request(ctx, "s9", "ping", nil); !errors.Is(err, transport.ErrUnknownMember) {
			t.Errorf("Request to a non-member = %v, want ErrUnknownMember", err)
		}
		if _, err := a.Request(ctx, "s2", "Bad Kind", nil); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("Request with a bad kind = %v, want wire.ErrMalformed", err)
		}
	})
}

func TestLateReplyIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		log, logs := newLog()
		slow := func(context.Context, wire.Envelope) (string, []byte, error) {
			time.Sleep(1500 * time.Millisecond) // an fsync that ignores ctx
			return "", []byte(`"late"`), nil
		}
		a := start(ctx, transport.NewConn(net.eps["s1"], "s1", v, log), echo, nil)
		b := start(ctx, transport.NewConn(net.eps["s2"], "s2", v, nil), slow, nil)
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		_, err := a.Request(rctx, "s2", "vote.request", nil)
		rcancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Request with a 1 s deadline to a 1.5 s handler = %v, want DeadlineExceeded", err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := logs.count("dropped a reply nobody waits for", "sentinel=s2"); n != 1 {
			t.Errorf("late reply logged %d times as dropped, want 1; log:\n%s", n, logs)
		}
		cancel()
		a.wait(t)
		b.wait(t)
	})
}

func TestIncompatibleVotersAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet("s1", "s2", "s3", "s4", "s8", "s9")
		ours := mustVoters(t, "im", s123...)
		log, logs := newLog()
		var handled atomic.Int64
		count := func(ctx context.Context, req wire.Envelope) (string, []byte, error) {
			handled.Add(1)
			return echo(ctx, req)
		}
		var oneWays atomic.Int64
		s1 := start(ctx, transport.NewConn(net.eps["s1"], "s1", ours, log), count, func(wire.Envelope) { oneWays.Add(1) })

		// DESIGN.md §5.1: a voter set that differs by more than one member
		// may have a majority that does not overlap ours.
		far := start(ctx, transport.NewConn(net.eps["s9"], "s9", mustVoters(t, "im", "s1", "s2", "s8", "s9"), nil), echo, nil)
		for range 2 {
			_, err := far.Request(ctx, "s1", "vote.request", nil)
			if !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), "incompatible voter sets") ||
				!strings.Contains(err.Error(), "change one member at a time") {
				t.Errorf("Request from a voter set 3 members away = %v, want ErrRefused naming the incompatibility", err)
			}
		}
		far.Broadcast(ctx, "opinion", nil)
		otherFleet := start(ctx, transport.NewConn(net.eps["s8"], "s8", mustVoters(t, "im-test", "s1", "s2", "s3", "s8"), nil), echo, nil)
		if _, err := otherFleet.Request(ctx, "s1", "ping", nil); !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), `fleet "im-test", ours is "im"`) {
			t.Errorf("Request from another fleet = %v, want ErrRefused naming both fleets", err)
		}
		// One member added: compatible.
		near := start(ctx, transport.NewConn(net.eps["s4"], "s4", mustVoters(t, "im", "s1", "s2", "s3", "s4"), nil), echo, nil)
		if _, err := near.Request(ctx, "s1", "ping", nil); err != nil {
			t.Errorf("Request from a voter set with one member added = %v, want an answer", err)
		}
		synctest.Wait()
		if n := handled.Load(); n != 1 {
			t.Errorf("handler ran %d times, want once (only the compatible request)", n)
		}
		if n := oneWays.Load(); n != 0 {
			t.Errorf("%d one-way messages from an incompatible voter set were handed on, want 0", n)
		}
		if n := logs.count("level=WARN", "incompatible voter set", "sentinel=s9"); n != 1 {
			t.Errorf("refusals of s9 logged at Warn %d times, want once per (sender, fingerprint); log:\n%s", n, logs)
		}
		if n := logs.count("level=WARN", "incompatible voter set", "sentinel=s8", "im-test"); n != 1 {
			t.Errorf("refusal of s8 logged at Warn %d times with the reason, want once; log:\n%s", n, logs)
		}
		_ = s1
	})
}

// payload builds a raw envelope, for messages a Conn would never send.
func payload(t *testing.T, e wire.Envelope) []byte {
	t.Helper()
	b, err := wire.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSuspiciousMessagesAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet("s1", "s2", "s5")
		v := mustVoters(t, "im", s123...)
		log, logs := newLog()
		var handled atomic.Int64
		count := func(ctx context.Context, req wire.Envelope) (string, []byte, error) {
			handled.Add(1)
			return echo(ctx, req)
		}
		r := start(ctx, transport.NewConn(net.eps["s1"], "s1", v, log), count, nil)

		// A sender not in its own member list gets a refusal.
		net.inject("s1", transport.Message{From: "s5", Payload: payload(t, wire.Envelope{
			Fleet: "im", Members: s123, From: "s5", Kind: "vote.request", ID: 7})})
		got := <-net.eps["s5"].inbox
		reply, err := wire.Decode(got.Payload)
		if err != nil || reply.ReplyTo != 7 || !strings.Contains(reply.Err, "sender s5 is not in its own fleet.members") {
			t.Errorf("reply to a sender outside its member list = %+v, %v; want a refusal naming it", reply, err)
		}
		// Garbage, another wire version, a transport sender that differs from
		// the envelope's, and our own id from the network: dropped, warned once each.
		for range 2 {
			net.inject("s1", transport.Message{From: "s2", Payload: []byte("hello")})
			net.inject("s1", transport.Message{From: "s2", Payload: []byte("IMS\x07{}")})
			net.inject("s1", transport.Message{From: "s2", Payload: payload(t, wire.Envelope{
				Fleet: "im", Members: s123, From: "s3", Kind: "ping", ID: 8})})
			net.inject("s1", transport.Message{From: "s1", Payload: payload(t, wire.Envelope{
				Fleet: "im", Members: s123, From: "s1", Kind: "ping", ID: 9})})
		}
		synctest.Wait()
		if n := handled.Load(); n != 0 {
			t.Errorf("handler ran %d times on suspicious messages, want 0", n)
		}
		for _, want := range []string{"not an imsentinel message", "unsupported wire version 7", "claims=s3", "two sentinels share an id"} {
			if n := logs.count("level=WARN", want); n != 1 {
				t.Errorf("%q logged at Warn %d times, want 1; log:\n%s", want, n, logs)
			}
		}
		// Run still works.
		net.inject("s1", transport.Message{From: "s2", Payload: payload(t, wire.Envelope{
			Fleet: "im", Members: s123, From: "s2", Kind: "ping", ID: 10})})
		if got := <-net.eps["s2"].inbox; !bytes.Contains(got.Payload, []byte(`"re":10`)) {
			t.Errorf("after suspicious messages, a good request got %q, want a reply to 10", got.Payload)
		}
		cancel()
		r.wait(t)
	})
}

func TestBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ids := []quorum.MemberID{"s1", "s2", "s3", "s4"}
		net := newLoopNet(ids...)
		v := mustVoters(t, "im", ids...)
		var mu sync.Mutex
		got := map[quorum.MemberID][]string{}
		var rs []running
		for _, id := range ids[:3] {
			rs = append(rs, start(ctx, transport.NewConn(net.eps[id], id, v, nil), echo, func(e wire.Envelope) {
				mu.Lock()
				defer mu.Unlock()
				got[id] = append(got[id], fmt.Sprintf("%s %s %s", e.From, e.Kind, e.Body))
			}))
		}
		net.eps["s4"].Close()
		errs := rs[0].Broadcast(ctx, "opinion", []byte(`{"sdown":true}`))
		if len(errs) != 3 || errs["s2"] != nil || errs["s3"] != nil || !errors.Is(errs["s4"], transport.ErrUnreachable) {
			t.Errorf("Broadcast = %v, want s2 and s3 nil, s4 unreachable, no entry for s1", errs)
		}
		synctest.Wait()
		want := []string{`s1 opinion {"sdown":true}`}
		mu.Lock()
		for _, id := range []quorum.MemberID{"s2", "s3"} {
			if fmt.Sprint(got[id]) != fmt.Sprint(want) {
				t.Errorf("%s received %q, want %q", id, got[id], want)
			}
		}
		if len(got["s1"]) != 0 {
			t.Errorf("the sender received its own broadcast: %q", got["s1"])
		}
		mu.Unlock()
		if errs := rs[0].Broadcast(ctx, "Bad", nil); len(errs) != 3 || !errors.Is(errs["s2"], wire.ErrMalformed) {
			t.Errorf("Broadcast with a bad kind = %v, want an encode error for every member", errs)
		}
	})
}

func TestRequestAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ids := []quorum.MemberID{"s1", "s2", "s3", "s4", "s5"}
		net := newLoopNet(ids...)
		v := mustVoters(t, "im", ids...)
		a := start(ctx, transport.NewConn(net.eps["s1"], "s1", v, nil), echo, nil)
		start(ctx, transport.NewConn(net.eps["s2"], "s2", v, nil), echo, nil)
		start(ctx, transport.NewConn(net.eps["s3"], "s3", v, nil), func(context.Context, wire.Envelope) (string, []byte, error) {
			return "", nil, errors.New("no")
		}, nil)
		// s4 does not run (hung); s5 is closed (unreachable).
		net.eps["s5"].Close()
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		began := time.Now()
		res := a.RequestAll(rctx, "ping", []byte(`1`))
		if d := time.Since(began); d != 2*time.Second {
			t.Errorf("RequestAll returned after %s, want at the 2 s deadline (s4 never answers)", d)
		}
		if len(res) != 4 {
			t.Errorf("RequestAll = %v, want a result for each of the 4 others", res)
		}
		if r := res["s2"]; r.Err != nil || r.Reply.Kind != "pong" {
			t.Errorf("s2 = %+v, want a pong", r)
		}
		if r := res["s3"]; !errors.Is(r.Err, transport.ErrRefused) {
			t.Errorf("s3 = %+v, want ErrRefused", r)
		}
		if r := res["s4"]; !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("s4 = %+v, want DeadlineExceeded", r)
		}
		if r := res["s5"]; !errors.Is(r.Err, transport.ErrUnreachable) {
			t.Errorf("s5 = %+v, want ErrUnreachable", r)
		}
		// All answer: RequestAll returns at once.
		began = time.Now()
		res = transport.NewConn(nil, "s1", mustVoters(t, "im", "s1"), nil).RequestAll(ctx, "ping", nil)
		if len(res) != 0 || time.Since(began) != 0 {
			t.Errorf("RequestAll in a fleet of one = %v after %s, want nothing at once", res, time.Since(began))
		}
	})
}

func TestHandlersAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		var cur, peak atomic.Int64
		fsync := func(context.Context, wire.Envelope) (string, []byte, error) {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
			cur.Add(-1)
			return "", nil, nil
		}
		c := transport.NewConn(net.eps["s1"], "s1", v, nil)
		c.MaxHandlers = 2
		start(ctx, c, fsync, nil)
		a := start(ctx, transport.NewConn(net.eps["s2"], "s2", v, nil), echo, nil)
		var wg sync.WaitGroup
		began := time.Now()
		for i := range 6 {
			wg.Go(func() {
				if _, err := a.Request(ctx, "s1", "vote.request", nil); err != nil {
					t.Errorf("request %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if p := peak.Load(); p != 2 {
			t.Errorf("at most %d handlers ran at once, want MaxHandlers=2", p)
		}
		if d := time.Since(began); d != 300*time.Millisecond {
			t.Errorf("6 requests of 100 ms, 2 at a time, took %s, want 300ms", d)
		}
	})
}

func TestBusyRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		release := make(chan struct{})
		stuck := func(context.Context, wire.Envelope) (string, []byte, error) {
			<-release // an fsync that ignores ctx
			return "", []byte(`"granted"`), nil
		}
		c := transport.NewConn(net.eps["s1"], "s1", v, nil)
		c.MaxHandlers, c.MaxQueued, c.HandlerTimeout = 1, 2, time.Second
		start(ctx, c, stuck, nil)
		a := start(ctx, transport.NewConn(net.eps["s2"], "s2", v, nil), echo, nil)
		type result struct {
			env wire.Envelope
			err error
		}
		first, second := make(chan result, 1), make(chan result, 1)
		for _, ch := range []chan result{first, second} {
			go func() { env, err := a.Request(ctx, "s1", "vote.request", nil); ch <- result{env, err} }()
			synctest.Wait()
		}
		// The queue is full (one handled, one waiting): refused at once.
		if _, err := a.Request(ctx, "s1", "vote.request", nil); !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), "busy: 2 requests queued") {
			t.Errorf("third request = %v, want refused as busy", err)
		}
		// The waiting one gives up at HandlerTimeout.
		if r := <-second; !errors.Is(r.err, transport.ErrRefused) || !strings.Contains(r.err.Error(), "busy: no handler free within 1s") {
			t.Errorf("request waiting for a handler = %v, want refused as busy after 1s", r.err)
		}
		// The handler that overran its deadline still answers: a persisted
		// grant must reach a requester that still waits.
		time.Sleep(time.Second)
		close(release)
		if r := <-first; r.err != nil || string(r.env.Body) != `"granted"` {
			t.Errorf("request whose handler overran = %+v, %v; want its answer", r.env, r.err)
		}
	})
}

func TestRunWaitsForItsGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		var finished atomic.Bool
		started := make(chan struct{})
		stubborn := func(context.Context, wire.Envelope) (string, []byte, error) {
			close(started)
			time.Sleep(500 * time.Millisecond) // ignores ctx
			finished.Store(true)
			return "", nil, nil
		}
		r := start(ctx, transport.NewConn(net.eps["s1"], "s1", v, nil), stubborn, nil)
		b := transport.NewConn(net.eps["s2"], "s2", v, nil)
		go b.Request(ctx, "s1", "vote.request", nil)
		<-started
		cancel()
		if err := r.wait(t); err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
		if !finished.Load() {
			t.Error("Run returned before its handler goroutine ended")
		}
		if err := transport.NewConn(net.eps["s1"], "s1", v, nil).Run(ctx, echo, nil); err != nil {
			t.Errorf("Run of a fresh Conn with a cancelled ctx = %v, want nil", err)
		}
		if err := r.Run(t.Context(), echo, nil); err == nil || !strings.Contains(err.Error(), "already started") {
			t.Errorf("second Run = %v, want already started", err)
		}
	})
}

func TestRunEndsWhenTheTransportCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newLoopNet(s123...)
		v := mustVoters(t, "im", s123...)
		r := start(t.Context(), transport.NewConn(net.eps["s1"], "s1", v, nil), echo, nil)
		errs := make(chan error, 1)
		go func() { _, err := r.Request(t.Context(), "s3", "ping", nil); errs <- err }()
		synctest.Wait()
		net.eps["s1"].Close()
		if err := r.wait(t); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Run after Close = %v, want ErrClosed", err)
		}
		if err := <-errs; !errors.Is(err, transport.ErrClosed) {
			t.Errorf("a Request waiting when Run ended = %v, want ErrClosed", err)
		}
	})
}

// stateEnvelope is what a sentinel offers in push/pull: an encoded one-way
// envelope, so it arrives at the other side's oneWay like any message.
func stateEnvelope(t *testing.T, id quorum.MemberID, v quorum.Voters) []byte {
	return payload(t, wire.Envelope{Fleet: v.Name(), Members: v.IDs(), From: id, Kind: "state",
		Body: json.RawMessage(fmt.Sprintf(`{"of":%q}`, id))})
}

// TestConnOverMemnet runs Conns on the simulated network in real time,
// with a goroutine stepping its clock, and checks no goroutine is left.
func TestConnOverMemnet(t *testing.T) {
	checkNoLeak(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	net := memnet.New(rand.New(rand.NewPCG(1, 2)), time.Unix(0, 0))
	net.SetDefaults(memnet.Link{Delay: 2 * time.Millisecond, Jitter: 3 * time.Millisecond})
	net.SetPushPullInterval(50 * time.Millisecond)
	v := mustVoters(t, "im", s123...)
	var mu sync.Mutex
	states := map[quorum.MemberID]map[string]bool{}
	var rs []running
	for _, id := range s123 {
		ep := net.Endpoint(id)
		ep.SetState(func() []byte { return stateEnvelope(t, id, v) })
		states[id] = map[string]bool{}
		rs = append(rs, start(ctx, transport.NewConn(ep, id, v, nil), echo, func(e wire.Envelope) {
			mu.Lock()
			defer mu.Unlock()
			states[id][string(e.From)+" "+string(e.Body)] = true
		}))
	}
	var clock sync.WaitGroup
	clock.Go(func() {
		for ctx.Err() == nil {
			net.Advance(net.Now().Add(time.Millisecond))
			time.Sleep(100 * time.Microsecond)
		}
	})
	res := rs[0].RequestAll(ctx, "ping", []byte(`"x"`))
	for _, id := range []quorum.MemberID{"s2", "s3"} {
		if r := res[id]; r.Err != nil || string(r.Reply.Body) != `"x"` {
			t.Errorf("RequestAll over memnet: %s = %+v, want an echo", id, r)
		}
	}
	net.Partition([]quorum.MemberID{"s1", "s2"}, []quorum.MemberID{"s3"})
	res = rs[0].RequestAll(ctx, "ping", nil)
	if res["s2"].Err != nil || !errors.Is(res["s3"].Err, transport.ErrUnreachable) {
		t.Errorf("RequestAll across a partition = %v, want s2 answered and s3 unreachable", res)
	}
	net.Heal()
	if _, err := rs[2].Request(ctx, "s3", "ping", nil); err != nil {
		t.Errorf("request to self over memnet: %v", err)
	}
	// Push/pull states reach every other member's oneWay.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(states["s1"]) + len(states["s2"]) + len(states["s3"])
		mu.Unlock()
		if n == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("push/pull states seen: %v, want each member's from the 2 others", states)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	if !states["s1"][`s2 {"of":"s2"}`] || !states["s3"][`s1 {"of":"s1"}`] {
		t.Errorf("push/pull states = %v, want s1 to have s2's and s3 to have s1's", states)
	}
	mu.Unlock()
	cancel()
	clock.Wait()
	for _, r := range rs {
		r.wait(t)
	}
}

// checkNoLeak fails the test if, once it is over, goroutines of this
// package's Conn or of the test's helpers are still running.
func checkNoLeak(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var leaked []string
			for g := range strings.SplitSeq(string(buf), "\n\n") {
				if strings.Contains(g, "quorum/transport.(*Conn)") || strings.Contains(g, "transport_test.start") ||
					strings.Contains(g, "transport_test.TestConnOverMemnet.func") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines left behind:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
