package redisnode_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Deadlines, generous for a loaded 2-core CI machine (DESIGN.md §8). Polls
// end as soon as their condition holds; nothing sleeps for these.
const (
	// nodeTimeout is the nodes' per-read/write timeout.
	nodeTimeout = 2 * time.Second
	// callTimeout bounds one call of a test (ctx of a Node method).
	callTimeout = 10 * time.Second
	// waitTimeout bounds waiting for a server state to show.
	waitTimeout = 60 * time.Second
	// fleet is the fleet name of the test's sentinels.
	fleet = "test"
)

// callCtx is a context bounded by callTimeout, cancelled when the test ends.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// open returns sentinel's admin node on r, closed when the test ends.
func open(t *testing.T, r *harness.Redis, sentinel string) *redisnode.Node {
	t.Helper()
	n := redisnode.Open(redisnode.Options{Address: r.Addr, Password: r.Password,
		Fleet: fleet, Sentinel: sentinel, Timeout: nodeTimeout})
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close node: %v", err)
		}
	})
	return n
}

// do runs one command through the harness's client and returns its reply.
func do(t *testing.T, r *harness.Redis, args ...any) any {
	t.Helper()
	v, err := r.Client(t).Do(callCtx(t), args...).Result()
	if err != nil {
		t.Fatalf("%v on %s: %v", args, r.Addr, err)
	}
	return v
}

// configGet returns one CONFIG GET value.
func configGet(t *testing.T, r *harness.Redis, key string) string {
	t.Helper()
	m, err := r.Client(t).ConfigGet(callCtx(t), key).Result()
	if err != nil {
		t.Fatalf("config get %s on %s: %v", key, r.Addr, err)
	}
	return m[key]
}

// clientIDs returns the ids of the connections named name on r, sorted
// (CLIENT LIST's order is not the ids').
func clientIDs(t *testing.T, r *harness.Redis, name string) []string {
	t.Helper()
	var ids []string
	for _, c := range clientList(t, r) {
		if c["name"] == name {
			ids = append(ids, c["id"])
		}
	}
	slices.Sort(ids)
	return ids
}

// clientList returns CLIENT LIST [args…], one map of fields per client.
func clientList(t *testing.T, r *harness.Redis, args ...any) []map[string]string {
	t.Helper()
	list, err := r.Client(t).Do(callCtx(t), append([]any{"client", "list"}, args...)...).Text()
	if err != nil {
		t.Fatalf("client list %v on %s: %v", args, r.Addr, err)
	}
	var out []map[string]string
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if len(fields) > 0 {
			out = append(out, fields)
		}
	}
	return out
}

// raw is one plain TCP connection speaking RESP, so a test sees exactly when
// the server closes it (go-redis would reconnect behind the test's back).
type raw struct {
	t    *testing.T
	addr string
	c    net.Conn
	r    *bufio.Reader
}

// dialRaw connects to r and, when name is not empty, sets the client name.
func dialRaw(t *testing.T, r *harness.Redis, name string) *raw {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.Addr, callTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", r.Addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rc := &raw{t: t, addr: r.Addr, c: c, r: bufio.NewReader(c)}
	if name != "" {
		if got := rc.call("client", "setname", name); got != "OK" {
			t.Fatalf("client setname %s on %s: %q", name, r.Addr, got)
		}
	}
	return rc
}

// send writes one command.
func (rc *raw) send(args ...string) {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(callTimeout))
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		rc.t.Fatalf("send %v to %s: %v", args, rc.addr, err)
	}
}

// call sends one command and reads its reply, flattened to a string.
func (rc *raw) call(args ...string) string {
	rc.t.Helper()
	rc.send(args...)
	s, err := rc.read(callTimeout)
	if err != nil {
		rc.t.Fatalf("%v on %s: %v", args, rc.addr, err)
	}
	return s
}

// read reads one reply within d: a status or bulk string as is, an error as
// "-…", an integer as its digits, an array as its elements joined by spaces.
func (rc *raw) read(d time.Duration) (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err // nil bulk: ""
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := rc.read(d)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " "), nil
	default:
		return "", fmt.Errorf("unexpected reply line %q", line)
	}
}

// alive checks that the connection still answers PING.
func (rc *raw) alive() error {
	rc.send("ping")
	s, err := rc.read(callTimeout)
	if err != nil {
		return err
	}
	if s != "PONG" {
		return fmt.Errorf("ping: %q", s)
	}
	return nil
}

// closedByServer waits until the server closes the connection: a read ends
// with EOF or a reset, not with the deadline.
func (rc *raw) closedByServer() error {
	s, err := rc.read(waitTimeout)
	switch {
	case err == nil:
		return fmt.Errorf("connection to %s still open: got %q", rc.addr, s)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("connection to %s still open after %v", rc.addr, waitTimeout)
	}
	return nil
}

// contextWithTimeout is context.WithTimeout from the background, also
// cancelled when the test ends.
func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx, cancel
}
