package harness_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/test/harness"
)

// readWait is how long a read through a cut proxy is given before its
// timeout is taken as the black hole it should be. Any value shows it: a
// forwarded echo answers at once, a reset or a close fails at once.
const readWait = 300 * time.Millisecond

// echoServer echoes every connection and counts the bytes it received.
type echoServer struct {
	ln       net.Listener
	received atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) close() {
	e.ln.Close()
	e.mu.Lock()
	for _, c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads as many bytes back within readWait.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(readWait)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if string(buf) != msg {
		return fmt.Errorf("read %q, want %q", buf, msg)
	}
	return nil
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// Forwarding, then Cut: open and new connections are black holes (the
// client times out, the server gets nothing); Restore: the black-holed
// connection is closed, never resumed, and new ones forward again.
func TestProxyCutAndRestore(t *testing.T) {
	e := startEcho(t)
	p := harness.StartProxy(t, e.ln.Addr().String())
	if p.Target() != e.ln.Addr().String() {
		t.Errorf("Target() = %s, want %s", p.Target(), e.ln.Addr())
	}
	old := dial(t, p.Addr())
	if err := roundTrip(old, "hello"); err != nil {
		t.Fatalf("through %s: %v", p, err)
	}

	p.Cut()
	before := e.received.Load()
	if err := roundTrip(old, "lost"); !isTimeout(err) {
		t.Fatalf("open connection after Cut: %v, want a timeout", err)
	}
	cutNew := dial(t, p.Addr()) // accepted, not refused
	if err := roundTrip(cutNew, "lost too"); !isTimeout(err) {
		t.Fatalf("new connection after Cut: %v, want a timeout", err)
	}
	if got := e.received.Load(); got != before {
		t.Errorf("the server received %d bytes through the cut proxy", got-before)
	}

	p.Restore()
	for _, c := range []net.Conn{old, cutNew} {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
			t.Errorf("black-holed connection after Restore: read %d bytes, %v; want it closed", n, err)
		}
	}
	if err := roundTrip(dial(t, p.Addr()), "again"); err != nil {
		t.Fatalf("new connection after Restore: %v", err)
	}
}

// Refuse resets open connections and every new one (the reset may come
// before the dial returns); Restore forwards new ones again.
func TestProxyRefuseAndRestore(t *testing.T) {
	e := startEcho(t)
	p := harness.StartProxy(t, e.ln.Addr().String())
	old := dial(t, p.Addr())
	if err := roundTrip(old, "hello"); err != nil {
		t.Fatal(err)
	}
	p.Refuse()
	old.SetDeadline(time.Now().Add(30 * time.Second))
	if n, err := old.Read(make([]byte, 16)); err == nil || isTimeout(err) {
		t.Errorf("open connection after Refuse: read %d bytes, %v; want it reset", n, err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if n, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
			t.Errorf("new connection after Refuse: read %d bytes, %v; want it reset", n, err)
		}
		c.Close()
	}
	p.Restore()
	if err := roundTrip(dial(t, p.Addr()), "again"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}

// A proxy whose target is gone closes the client's connection rather than
// holding it.
func TestProxyTargetDown(t *testing.T) {
	e := startEcho(t)
	p := harness.StartProxy(t, e.ln.Addr().String())
	e.close()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		return // reset before the dial returned
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
		t.Errorf("read through a proxy to a closed port: %d bytes, %v; want the connection closed", n, err)
	}
}

// Close ends every goroutine the proxy started, whatever its connections
// were doing.
func TestProxyCloseLeavesNoGoroutines(t *testing.T) {
	e := startEcho(t)
	before := runtime.NumGoroutine()
	p := harness.StartProxy(t, e.ln.Addr().String())
	var conns []net.Conn
	for _, step := range []func(){p.Restore, p.Cut, p.Restore, p.Cut} {
		step()
		c := dial(t, p.Addr())
		_ = roundTrip(c, "x")
		conns = append(conns, c)
	}
	p.Close()
	p.Close() // idempotent
	for _, c := range conns {
		c.Close()
	}
	e.close()
	harness.Eventually(t, 30*time.Second, "goroutines back to the count before the proxy", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

// Against a real redis-server: PING through the proxy answers, times out
// while the proxy is cut, and answers again after Restore.
func TestProxyCutsRedis(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	p := harness.StartProxy(t, r.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: readWait, WriteTimeout: readWait, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING through %s: %v", p, err)
	}
	p.Cut()
	for range 2 { // the pooled connection, then a new one
		err := c.Ping(ctx).Err()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("PING through the cut proxy: %v, want a timeout", err)
		}
	}
	p.Restore()
	harness.Eventually(t, 30*time.Second, "PING through the restored proxy", func() error {
		return c.Ping(ctx).Err()
	})
}
