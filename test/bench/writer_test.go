package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The clients of a failover trial, the same for both systems but for how
// they find the primary (a resolver):
//
//   - a writer that follows the primary: SET <prefix><seq> <seq>, then
//     WAIT 1 (one replica has it), one write at a time, each judged by its
//     own outcome as in test/failover/writer_test.go: acknowledged (SET OK
//     and WAIT ≥ 1), failed (certainly not run: READONLY, NOREPLICAS,
//     LOADING, connection refused, a closed client) or unknown;
//   - for SIGSTOP, a stale writer pinned to the old primary (a client that
//     missed the change): what it gets acknowledged there after the fault
//     is split brain.
//
// The following writer asks its resolver every resolvePause. When an
// answer names an address it has not left before, it moves there and
// closes its client to the old address, which breaks a write stuck on a
// stopped server at once, as go-redis does on +switch-master (and a
// gateway on imsentinel:routes). It never goes back to an address it left.
const (
	writePause   = 2 * time.Millisecond
	resolvePause = 5 * time.Millisecond
	writeTimeout = 2 * time.Second // one write: SET and WAIT
	waitTimeout  = time.Second     // WAIT 1 <ms>
	askTimeout   = 200 * time.Millisecond
)

// resolver asks the system under test where the primary is, as its
// clients do.
type resolver interface {
	// ask returns the primary address each place asked names now ("" for
	// a place that did not answer).
	ask(ctx context.Context) []string
	close()
}

// routeResolver reads imsentinel's routing entry: HGET
// imsentinel:route:<cluster> primary on the routing Redis.
type routeResolver struct {
	c   *redis.Client
	key string
}

func newRouteResolver(routing, cluster string) *routeResolver {
	return &routeResolver{c: benchClient(routing, askTimeout), key: "imsentinel:route:" + cluster}
}

func (r *routeResolver) ask(ctx context.Context) []string {
	p, err := r.c.HGet(ctx, r.key, "primary").Result()
	if err != nil {
		return []string{""}
	}
	return []string{p}
}

func (r *routeResolver) close() { _ = r.c.Close() }

// sentinelResolver asks every Redis Sentinel SENTINEL
// GET-MASTER-ADDR-BY-NAME in parallel, as go-redis's failover client does
// when its cached sentinel fails. Taking any sentinel's new answer at once
// is Redis Sentinel's best case: the leader answers with the promoted
// replica from +promoted-slave on, the others only once they switch.
type sentinelResolver struct {
	cs     []*redis.Client
	master string
}

func newSentinelResolver(addrs []string, master string) *sentinelResolver {
	r := &sentinelResolver{master: master}
	for _, a := range addrs {
		r.cs = append(r.cs, benchClient(a, askTimeout))
	}
	return r
}

func (r *sentinelResolver) ask(ctx context.Context) []string {
	out := make([]string, len(r.cs))
	var wg sync.WaitGroup
	for i, c := range r.cs {
		wg.Go(func() {
			v, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", r.master).StringSlice()
			if err == nil && len(v) == 2 {
				out[i] = v[0] + ":" + v[1]
			}
		})
	}
	wg.Wait()
	return out
}

func (r *sentinelResolver) close() {
	for _, c := range r.cs {
		_ = c.Close()
	}
}

// benchClient is a client for the bench's own questions: RESP2, no retries,
// every call bounded by timeout.
func benchClient(addr string, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: 4, ContextTimeoutEnabled: true})
}

// write is one write a node took: its sequence number, the node, when
// the client got SET OK and, when it was acknowledged, when WAIT 1 said a
// replica has it.
type write struct {
	Seq   int64     `json:"seq"`
	Addr  string    `json:"addr"`
	SetOK time.Time `json:"set_ok"`
	Acked time.Time `json:"acked,omitzero"`
}

// move is a writer moving to another primary.
type move struct {
	From string    `json:"from"`
	To   string    `json:"to"`
	At   time.Time `json:"at"`
}

// writer is a sequence-numbered client (see the top of this file).
type writer struct {
	prefix string
	res    resolver // nil: pinned to addr

	record  // its mu guards the fields below too
	clients map[string]*redis.Client
	seq     int64
	setOK   []write // SET answered OK, whatever WAIT said
	failed  int
	unknown int

	wg     sync.WaitGroup
	halted sync.Once
}

// startWriter starts a writer that follows res.
func startWriter(prefix string, res resolver) *writer {
	w := newWriter(prefix, res, "")
	w.wg.Go(w.follow)
	w.wg.Go(w.run)
	return w
}

// startStaleWriter starts a writer pinned to addr.
func startStaleWriter(prefix, addr string) *writer {
	w := newWriter(prefix, nil, addr)
	w.wg.Go(w.run)
	return w
}

func newWriter(prefix string, res resolver, addr string) *writer {
	w := &writer{prefix: prefix, res: res, record: newRecord(), clients: map[string]*redis.Client{}}
	w.addr = addr
	return w
}

// halt stops the writer and waits for its goroutines; it closes its
// clients and its resolver. Idempotent.
func (w *writer) halt() {
	w.halted.Do(func() {
		close(w.stop)
		w.wg.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		for a, c := range w.clients {
			_ = c.Close()
			delete(w.clients, a)
		}
		if w.res != nil {
			w.res.close()
		}
	})
}

// follow asks the resolver every resolvePause and moves on a new answer,
// closing the client of the node it leaves (which breaks a write stuck
// there).
func (w *writer) follow() {
	w.record.follow(w.res, func(old string) {
		if c, ok := w.clients[old]; ok {
			_ = c.Close()
			delete(w.clients, old)
		}
	})
}

// target is where the next write goes and its client (nil: no primary
// known yet).
func (w *writer) target() (string, *redis.Client) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.addr == "" {
		return "", nil
	}
	c, ok := w.clients[w.addr]
	if !ok {
		c = redis.NewClient(&redis.Options{Addr: w.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
			PoolSize: 1, ContextTimeoutEnabled: true})
		w.clients[w.addr] = c
	}
	return w.addr, c
}

func (w *writer) run() {
	for !w.stopped(writePause) {
		addr, c := w.target()
		if c == nil {
			continue
		}
		w.mu.Lock()
		w.seq++
		seq := w.seq
		w.mu.Unlock()
		setOK, acked, failed := w.write(c, seq)
		w.mu.Lock()
		switch {
		case failed:
			w.failed++
		case !acked:
			w.unknown++
		}
		if !setOK.IsZero() {
			x := write{Seq: seq, Addr: addr, SetOK: setOK}
			if acked {
				x.Acked = time.Now()
				w.acked = append(w.acked, x)
			}
			w.setOK = append(w.setOK, x)
		}
		w.mu.Unlock()
	}
}

// write is one SET and WAIT 1: when SET answered OK (zero if it did not),
// whether WAIT saw a replica take it, and whether the write certainly did
// not run.
func (w *writer) write(c *redis.Client, seq int64) (setOK time.Time, acked, failed bool) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := c.Set(ctx, w.prefix+strconv.FormatInt(seq, 10), seq, 0).Err()
	switch {
	case err == nil:
	case refused(err):
		return time.Time{}, false, true
	default:
		return time.Time{}, false, false
	}
	setOK = time.Now()
	n, err := c.Wait(ctx, 1, waitTimeout).Result()
	return setOK, err == nil && n >= 1, false
}

// refused says whether a write certainly did not run.
func refused(err error) bool {
	if errors.Is(err, redis.ErrClosed) {
		return true // the client was closed before it sent anything
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "READONLY") || strings.HasPrefix(msg, "NOREPLICAS") || strings.HasPrefix(msg, "LOADING")
	}
	return strings.Contains(err.Error(), "connection refused")
}

// record is what a writer (Redis or SQL) follows and learned: the node it
// writes to, those it left, where it moved and the writes acknowledged.
// mu guards them and the writer's own fields; stop ends the writer.
type record struct {
	mu    sync.Mutex
	addr  string // "" while no primary is known
	left  map[string]bool
	moves []move
	acked []write
	stop  chan struct{}
}

func newRecord() record { return record{left: map[string]bool{}, stop: make(chan struct{})} }

// stopped waits pause, or less if the writer halts: true once it halted.
func (r *record) stopped(pause time.Duration) bool {
	select {
	case <-r.stop:
		return true
	case <-time.After(pause):
		return false
	}
}

// follow asks res every resolvePause and moves to a new answer (never
// back to a node it left); leave is called, under mu, with the node it
// leaves.
func (r *record) follow(res resolver, leave func(old string)) {
	for !r.stopped(resolvePause) {
		ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
		answers := res.ask(ctx)
		cancel()
		now := time.Now()
		r.mu.Lock()
		for _, a := range answers {
			if a == "" || a == r.addr || r.left[a] {
				continue
			}
			if r.addr != "" {
				r.left[r.addr] = true
				r.moves = append(r.moves, move{From: r.addr, To: a, At: now})
				leave(r.addr)
			}
			r.addr = a
			break
		}
		r.mu.Unlock()
	}
}

// ackedOn counts the writes addr acknowledged.
func (r *record) ackedOn(addr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.acked {
		if a.Addr == addr {
			n++
		}
	}
	return n
}

// firstAckOn is when addr first acknowledged a write (zero: not yet).
func (r *record) firstAckOn(addr string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.acked {
		if a.Addr == addr {
			return a.Acked
		}
	}
	return time.Time{}
}

// movedAt is when the writer first left addr, and where it went (zero:
// it did not).
func (r *record) movedAt(from string) (time.Time, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.moves {
		if m.From == from {
			return m.At, m.To
		}
	}
	return time.Time{}, ""
}

// setOKSince returns the writes of ws that got SET OK at or after t.
func setOKSince(ws []write, t time.Time) []write {
	var out []write
	for _, x := range ws {
		if !x.SetOK.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// writerStats is a writer's record for the results file.
type writerStats struct {
	Writes  int64  `json:"writes"`
	Acked   int    `json:"acked"`
	SetOK   int    `json:"set_ok"`
	Failed  int    `json:"failed"`
	Unknown int    `json:"unknown"`
	Moves   []move `json:"moves,omitempty"`
}

func (w *writer) stats() writerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return writerStats{Writes: w.seq, Acked: len(w.acked), SetOK: len(w.setOK), Failed: w.failed,
		Unknown: w.unknown, Moves: append([]move(nil), w.moves...)}
}

func (w *writer) ackedWrites() []write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]write(nil), w.acked...)
}

func (w *writer) setOKWrites() []write {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]write(nil), w.setOK...)
}

// missingOn returns the writes of ws (keys prefix<seq>) that the node at
// addr does not have.
func missingOn(addr, prefix string, ws []write) ([]int64, error) {
	c := benchClient(addr, 5*time.Second)
	defer c.Close()
	var missing []int64
	for i := 0; i < len(ws); i += 500 {
		batch := ws[i:min(i+500, len(ws))]
		keys := make([]string, len(batch))
		for j, x := range batch {
			keys[j] = prefix + strconv.FormatInt(x.Seq, 10)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		vals, err := c.MGet(ctx, keys...).Result()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("read back %d writes from %s: %w", len(ws), addr, err)
		}
		for j, v := range vals {
			if v == nil {
				missing = append(missing, batch[j].Seq)
			}
		}
	}
	return missing, nil
}

// routeWatch records the first route change pushed to a subscriber: on
// imsentinel's routing Redis, a Change on imsentinel:routes naming another
// primary; on a Redis Sentinel, +switch-master. The time is when the
// bench received it.
type routeWatch struct {
	mu      sync.Mutex
	at      time.Time
	primary string
	seen    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	subs   []*redis.PubSub
	cs     []*redis.Client
	wg     sync.WaitGroup
}

// watchRoutes subscribes to channel on every address and waits until the
// subscriptions are confirmed; parse turns a payload into the new
// primary, ok false for a message that is not a change away from the
// watched primary.
func watchRoutes(addrs []string, channel string, parse func(payload string) (string, bool)) (*routeWatch, error) {
	rw := &routeWatch{seen: make(chan struct{})}
	rw.ctx, rw.cancel = context.WithCancel(context.Background())
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: time.Second})
		rw.cs = append(rw.cs, c)
		ps := c.Subscribe(rw.ctx, channel)
		rw.subs = append(rw.subs, ps)
		ctx, cancel := context.WithTimeout(rw.ctx, 5*time.Second)
		_, err := ps.Receive(ctx) // the subscription's confirmation
		cancel()
		if err != nil {
			rw.close()
			return nil, fmt.Errorf("subscribe to %s on %s: %w", channel, a, err)
		}
		rw.wg.Go(func() {
			for {
				msg, err := ps.ReceiveMessage(rw.ctx)
				if rw.ctx.Err() != nil {
					return
				}
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if p, ok := parse(msg.Payload); ok {
					rw.note(time.Now(), p)
				}
			}
		})
	}
	return rw, nil
}

func (rw *routeWatch) note(at time.Time, primary string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.at.IsZero() {
		rw.at, rw.primary = at, primary
		close(rw.seen)
	}
}

func (rw *routeWatch) first() (time.Time, string) {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.at, rw.primary
}

func (rw *routeWatch) close() {
	rw.cancel()
	for _, ps := range rw.subs {
		_ = ps.Close()
	}
	rw.wg.Wait()
	for _, c := range rw.cs {
		_ = c.Close()
	}
}

// imRouteChange parses a Change published on imsentinel:routes: a route of
// cluster that names another primary than old.
func imRouteChange(cluster, old string) func(string) (string, bool) {
	return func(payload string) (string, bool) {
		var ch struct {
			Cluster string `json:"cluster"`
			Primary string `json:"primary"`
		}
		if json.Unmarshal([]byte(payload), &ch) != nil || ch.Cluster != cluster || ch.Primary == old || ch.Primary == "" {
			return "", false
		}
		return ch.Primary, true
	}
}

// switchMaster parses Redis Sentinel's +switch-master payload,
// "<name> <old ip> <old port> <new ip> <new port>".
func switchMaster(master string) func(string) (string, bool) {
	return func(payload string) (string, bool) {
		f := strings.Fields(payload)
		if len(f) != 5 || f[0] != master {
			return "", false
		}
		return f[3] + ":" + f[4], true
	}
}
