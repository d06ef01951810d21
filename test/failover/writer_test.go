package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/test/harness"
)

// writer writes SET w:<seq> <seq> to the primary the route names, one at a
// time, and judges each write by its own outcome: acknowledged (SET OK and
// WAIT saw a replica take it: what an IM backend calls committed), failed
// (refused before it ran: READONLY, NOREPLICAS, connection refused), or
// unknown (anything else: a timeout may have applied it).
type writer struct {
	routing, key string

	mu      sync.Mutex
	acked   []int64
	byAddr  map[string][]int64 // acknowledged writes per primary address
	failed  int
	unknown int
	seq     int64

	stop chan struct{}
	done chan struct{}
}

func startWriter(t *testing.T, routing, cluster string) *writer {
	w := &writer{routing: routing, key: "imsentinel:route:" + cluster, byAddr: map[string][]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.halt)
	return w
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	rc := redis.NewClient(&redis.Options{Addr: w.routing, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond})
	defer rc.Close()
	var c *redis.Client
	addr := ""
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		p, err := rc.HGet(context.Background(), w.key, "primary").Result()
		if err != nil {
			continue // no route yet, or the routing Redis is down
		}
		if p != addr {
			if c != nil {
				c.Close()
			}
			addr = p
			c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
				ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 1})
		}
		w.mu.Lock()
		w.seq++
		seq := w.seq
		w.mu.Unlock()
		outcome := w.write(c, seq)
		w.mu.Lock()
		switch outcome {
		case "acked":
			w.acked = append(w.acked, seq)
			w.byAddr[addr] = append(w.byAddr[addr], seq)
		case "failed":
			w.failed++
		default:
			w.unknown++
		}
		w.mu.Unlock()
	}
}

func (w *writer) write(c *redis.Client, seq int64) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.Set(ctx, "w:"+strconv.FormatInt(seq, 10), seq, 0).Err()
	switch {
	case err == nil:
	case refused(err):
		return "failed"
	default:
		return "unknown"
	}
	n, err := c.Do(ctx, "WAIT", 1, 1000).Int64()
	if err != nil || n < 1 {
		return "unknown" // applied on the primary, but no replica is known to have it
	}
	return "acked"
}

// refused says whether a write certainly did not run.
func refused(err error) bool {
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "READONLY") || strings.HasPrefix(msg, "NOREPLICAS") || strings.HasPrefix(msg, "LOADING")
	}
	return strings.Contains(err.Error(), "connection refused")
}

// ackedCount is the number of acknowledged writes so far.
func (w *writer) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// ackedOn is how many writes were acknowledged by the node at addr.
func (w *writer) ackedOn(addr string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byAddr[addr])
}

// lost returns the acknowledged writes the node at addr does not have.
func (w *writer) lost(t *testing.T, addr string) []int64 {
	t.Helper()
	w.mu.Lock()
	acked := append([]int64(nil), w.acked...)
	w.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	var lost []int64
	for i := 0; i < len(acked); i += 500 {
		keys := make([]string, 0, 500)
		for _, s := range acked[i:min(i+500, len(acked))] {
			keys = append(keys, "w:"+strconv.FormatInt(s, 10))
		}
		vals, err := c.MGet(context.Background(), keys...).Result()
		if err != nil {
			t.Fatalf("read back the acknowledged writes from %s: %v", addr, err)
		}
		for j, v := range vals {
			if v == nil {
				lost = append(lost, acked[i+j])
			}
		}
	}
	return lost
}

func (w *writer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d writes: %d acknowledged, %d failed, %d unknown", w.seq, len(w.acked), w.failed, w.unknown)
}

// staleWriter is a client that never reads the route: it keeps writing to
// one address, as a gateway that missed the change would. It counts the
// writes that node acknowledged (SET OK and WAIT saw a replica), in order.
type staleWriter struct {
	addr string

	mu     sync.Mutex
	seq    int64
	acked  []int64
	setOK  int // SET answered OK (whatever WAIT said)
	errors int

	stop chan struct{}
	done chan struct{}
}

func startStaleWriter(t *testing.T, addr string) *staleWriter {
	s := &staleWriter{addr: addr, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	t.Cleanup(s.halt)
	return s
}

func (s *staleWriter) run() {
	defer close(s.done)
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 1})
	defer c.Close()
	for {
		select {
		case <-s.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		s.mu.Lock()
		s.seq++
		seq := s.seq
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Set(ctx, "stale:"+strconv.FormatInt(seq, 10), seq, 0).Err()
		n := int64(0)
		if err == nil {
			n, err = c.Do(ctx, "WAIT", 1, 500).Int64()
		}
		cancel()
		s.mu.Lock()
		switch {
		case err != nil:
			s.errors++
		case n >= 1:
			s.setOK++
			s.acked = append(s.acked, seq)
		default:
			s.setOK++
		}
		s.mu.Unlock()
	}
}

// mark returns the next sequence number: writes from it on are judged.
func (s *staleWriter) mark() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq + 1
}

// ackedSince counts acknowledged writes numbered from seq on.
func (s *staleWriter) ackedSince(seq int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.acked {
		if a >= seq {
			n++
		}
	}
	return n
}

func (s *staleWriter) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *staleWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d writes to %s: %d acknowledged, %d SET OK, %d errors", s.seq, s.addr, len(s.acked), s.setOK, s.errors)
}

// waitAcked waits until at least n writes were acknowledged by addr.
func (w *writer) waitAcked(t *testing.T, what, addr string, n int) {
	t.Helper()
	harness.Eventually(t, deadline, what, func() error {
		if got := w.ackedOn(addr); got < n {
			return fmt.Errorf("%d acknowledged on %s (%s)", got, addr, w)
		}
		return nil
	})
}
