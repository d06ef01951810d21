package harness

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyDialTimeout bounds the proxy's dial of its target for one new
// connection.
const proxyDialTimeout = 5 * time.Second

// Proxy is an in-process TCP proxy in front of one server, so a test can
// cut one sentinel's link to that server and no one else's (DESIGN.md §8:
// toxiproxy in-process for TCP to stores). Give each sentinel its own
// proxy through the cluster's address_map ("what a server reports → how to
// reach it"): sentinel i maps the server's real address to proxy i.
//
// A proxy forwards, is cut, or refuses:
//
//   - Cut: a black hole. Existing connections stay open but nothing more
//     is forwarded either way; new connections are accepted and black-holed
//     too. The client sees timeouts, never a reset, as behind a dead
//     network link.
//   - Refuse: every connection is reset, and each new one is accepted and
//     reset at once, as by a host whose server is down.
//   - Restore: new connections are forwarded again. Connections
//     black-holed by Cut are closed, not resumed: bytes were lost in them.
//
// Only bytes a client sent before Cut returned may still reach the
// server. A forwarded connection whose other side closes is closed.
// Methods are safe for concurrent use; Close (also run at test cleanup)
// returns once every goroutine of the proxy has ended.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup // the accept loop and every link's goroutines

	mu     sync.Mutex
	mode   proxyMode
	links  map[*proxyLink]struct{}
	closed bool
}

// proxyMode is what a proxy does with connections.
type proxyMode int

const (
	proxyForward proxyMode = iota + 1
	proxyCut
	proxyRefuse
)

func (m proxyMode) String() string {
	switch m {
	case proxyForward:
		return "forwarding"
	case proxyCut:
		return "cut"
	case proxyRefuse:
		return "refusing"
	}
	return fmt.Sprintf("proxyMode(%d)", int(m))
}

// proxyLink is one client connection and, when forwarded, its connection
// to the target.
type proxyLink struct {
	client net.Conn
	dead   atomic.Bool // black-holed: bytes are read and discarded
	server net.Conn    // nil until dialled, or never (black-holed at accept); under Proxy.mu
	closed bool        // under Proxy.mu
}

// StartProxy listens on a free loopback port and forwards every connection
// to target (host:port). It is closed when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start proxy to %s: listen: %v", target, err)
	}
	p := &Proxy{target: target, ln: ln, mode: proxyForward, links: map[*proxyLink]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// String names the proxy and its mode, for failure messages.
func (p *Proxy) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("proxy %s → %s (%s, %d connections)", p.Addr(), p.target, p.mode, len(p.links))
}

// Cut black-holes every connection, open and new, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyCut
	for l := range p.links {
		l.dead.Store(true)
	}
}

// Refuse resets every open connection, and every new one at once, until
// Restore.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyRefuse
	for l := range p.links {
		p.closeLocked(l, true)
	}
}

// Restore forwards new connections again and closes the black-holed ones.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = proxyForward
	for l := range p.links {
		if l.dead.Load() {
			p.closeLocked(l, false)
		}
	}
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines. Calls after the first do nothing more.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		_ = p.ln.Close()
		for l := range p.links {
			p.closeLocked(l, false)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// serve accepts until Close.
func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors or the like: try again
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.accept(c)
	}
}

func (p *Proxy) accept(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == proxyRefuse {
		reset(c)
		return
	}
	l := &proxyLink{client: c}
	l.dead.Store(p.mode == proxyCut)
	p.links[l] = struct{}{}
	p.wg.Add(1)
	go p.run(l)
}

// run serves one link: dial the target unless black-holed, then copy
// both ways until the link is closed.
func (p *Proxy) run(l *proxyLink) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		p.closeLocked(l, false)
		delete(p.links, l)
		p.mu.Unlock()
	}()
	if l.dead.Load() {
		p.pipe(l, l.client, nil, true)
		return
	}
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		p.mu.Lock()
		if !l.dead.Load() { // the target is down: so is the connection
			p.closeLocked(l, true)
		}
		p.mu.Unlock()
		p.pipe(l, l.client, nil, true) // black-holed meanwhile: hold it; else it returns at once
		return
	}
	p.mu.Lock()
	if l.closed {
		p.mu.Unlock()
		_ = server.Close()
		return
	}
	l.server = server
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.pipe(l, server, l.client, false)
	}()
	p.pipe(l, l.client, server, true)
}

// pipe copies src to dst while the link is not black-holed, and reads and
// discards while it is (dst nil: always discards). An error on the client
// side, or any error while forwarding, closes the link; a black-holed
// link's server side ending is not shown to the client.
func (p *Proxy) pipe(l *proxyLink, src, dst net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && !l.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			if fromClient || !l.dead.Load() {
				p.mu.Lock()
				p.closeLocked(l, false)
				p.mu.Unlock()
			}
			return
		}
	}
}

// closeLocked closes both sides of a link once; rst resets the client's
// connection instead of closing it in order. Under p.mu.
func (p *Proxy) closeLocked(l *proxyLink, rst bool) {
	if l.closed {
		return
	}
	l.closed = true
	if rst {
		reset(l.client)
	} else {
		_ = l.client.Close()
	}
	if l.server != nil {
		_ = l.server.Close()
	}
}

// reset closes c with a TCP RST.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
