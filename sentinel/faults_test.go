//go:build faults

package sentinel

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
	"github.com/imsentinel/imsentinel/quorum/transport/memnet"
)

// manualClock is the fault layer's clock for deciding when to look at the
// control file again.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// writeFaults replaces the control file atomically, as the harness does.
func writeFaults(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: `{}`, want: "none"},
		{in: `{"drop_to":["s2","s1"],"drop_from":["s3"]}`, want: "drop_to=s1,s2 drop_from=s3"},
		{in: `{"isolate":true,"wall_offset":"-90s"}`, want: "isolate wall_offset=-1m30s"},
		{in: `{"wall_offset":"0s"}`, want: "none"},
		{in: `{"drop_too":["s2"]}`, err: `unknown field "drop_too"`},
		{in: `{"wall_offset":"ten"}`, err: "wall_offset"},
		{in: `{"isolate":`, err: "decode"},
	} {
		s, err := parseFaults([]byte(tc.in))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseFaults(%s) = %v, %v; want an error containing %q", tc.in, s, err, tc.err)
			}
		case err != nil || s.String() != tc.want:
			t.Errorf("parseFaults(%s) = %v, %v; want %s", tc.in, s, err, tc.want)
		}
	}
}

func TestFaultSetDecisions(t *testing.T) {
	for _, tc := range []struct {
		in                       string
		to, from, withholdsState bool
	}{
		{in: `{}`},
		{in: `{"drop_to":["s2"]}`, to: true, withholdsState: true},
		{in: `{"drop_to":["s3"]}`, withholdsState: true},
		{in: `{"drop_from":["s2"]}`, from: true},
		{in: `{"isolate":true}`, to: true, from: true, withholdsState: true},
	} {
		s, err := parseFaults([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := [3]bool{s.dropsTo("s2"), s.dropsFrom("s2"), s.withholdsState()}; got != [3]bool{tc.to, tc.from, tc.withholdsState} {
			t.Errorf("%s: (drops to s2, drops from s2, withholds state) = %v, want %v", tc.in, got,
				[3]bool{tc.to, tc.from, tc.withholdsState})
		}
	}
}

// The control file is looked at no more than every faultsReread, read
// again when replaced, a bad version keeps the faults in force, and a
// removed file clears them.
func TestFaultLayerFollowsControlFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.json")
	clock := &manualClock{now: time.Unix(1000, 0)}
	var logs syncBuffer
	l := newFaultLayer(path, clock.Now)
	l.log.Store(slog.New(slog.NewTextHandler(&logs, nil)))
	step := func(d time.Duration, want string) {
		t.Helper()
		clock.Advance(d)
		if got := l.current().String(); got != want {
			t.Fatalf("after %v: faults %s, want %s\nlog:\n%s", d, got, want, logs.String())
		}
	}
	step(0, "none") // no file
	writeFaults(t, path, `{"drop_to":["s2"]}`)
	step(faultsReread/2, "none") // not looked at yet
	step(faultsReread/2, "drop_to=s2")
	writeFaults(t, path, `{"isolate":true}`)
	step(faultsReread, "isolate")
	writeFaults(t, path, `{"isolate":tru`)
	step(faultsReread, "isolate")
	if !strings.Contains(logs.String(), "bad control file") {
		t.Errorf("a bad control file was not logged:\n%s", logs.String())
	}
	writeFaults(t, path, `{"drop_from":["s3"],"wall_offset":"1h"}`)
	step(faultsReread, "drop_from=s3 wall_offset=1h0m0s")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	step(faultsReread, "none")
	if n := strings.Count(logs.String(), "fault injection: faults changed"); n != 4 {
		t.Errorf("%d changes logged, want 4:\n%s", n, logs.String())
	}
}

// Without a control file nothing is injected and the file system is never
// looked at.
func TestFaultLayerWithoutFile(t *testing.T) {
	l := newFaultLayer("", func() time.Time { t.Fatal("the clock was read without a control file"); return time.Time{} })
	if s := l.current(); s.dropsTo("s2") || s.dropsFrom("s2") || s.withholdsState() || s.wallOffset != 0 {
		t.Errorf("faults without a control file: %s", s)
	}
	now := time.Now()
	if got := l.wallNow(now); got != now {
		t.Errorf("wallNow(%v) = %v without a control file", now, got)
	}
}

// shiftWall moves the wall clock reading only: the monotonic clock, which
// measures intervals, is untouched (DESIGN.md §5.11: TILT compares them).
func TestShiftWall(t *testing.T) {
	now := time.Now()
	for _, d := range []time.Duration{time.Hour, -90 * time.Second, time.Nanosecond, 999_999_999} {
		got, ok := shiftWall(now, d)
		if !ok {
			t.Fatalf("shiftWall(now, %v): not possible on %s", d, strings.TrimSpace(got.String()))
		}
		if mono := got.Sub(now); mono != 0 {
			t.Errorf("shiftWall(now, %v): monotonic moved by %v, want 0", d, mono)
		}
		if wall := got.Round(0).Sub(now.Round(0)); wall != d {
			t.Errorf("shiftWall(now, %v): wall moved by %v", d, wall)
		}
	}
	if _, ok := shiftWall(now.Round(0), time.Hour); ok {
		t.Errorf("shiftWall of a time without a monotonic reading succeeded")
	}
}

// A wall_offset change is a clock step to TILT; the monotonic clock keeps
// it from looking like a stall.
func TestWallOffsetTilts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.json")
	clock := &manualClock{now: time.Unix(1000, 0)}
	l := newFaultLayer(path, clock.Now)
	tilt := quorum.Tilt{Interval: time.Minute, Threshold: 2 * time.Second, Hold: time.Hour}
	if tilted, why := tilt.Observe(l.wallNow(time.Now())); tilted {
		t.Fatalf("TILT before any offset: %s", why)
	}
	if tilted, why := tilt.Observe(l.wallNow(time.Now())); tilted {
		t.Fatalf("TILT without an offset: %s", why)
	}
	writeFaults(t, path, `{"wall_offset":"30s"}`)
	clock.Advance(faultsReread)
	tilted, why := tilt.Observe(l.wallNow(time.Now()))
	if !tilted || !strings.Contains(why, "wall clock jumped") {
		t.Fatalf("after a 30s wall offset: tilted=%v (%s), want a wall clock jump", tilted, why)
	}
}

// The Conn's transport under the fault layer, over an in-memory network:
// drop_to loses what a sends to s2, drop_from what s2 sends to a, isolate
// both and push/pull states too; clearing the file restores everything.
// Order on a link is kept, so a marker sent after a lost message shows
// that it was lost: nothing waits for an absence.
func TestFaultyTransport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "faults.json")
	clock := &manualClock{now: time.Unix(1000, 0)}
	l := newFaultLayer(path, clock.Now)
	var logs syncBuffer
	net := memnet.New(rand.New(rand.NewPCG(1, 2)), time.Unix(0, 0))
	a := l.wrap(net.Endpoint("s1"), slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "fault injection build: not for production") {
		t.Errorf("wrap did not warn that this is a fault-injection build:\n%s", logs.String())
	}
	s2, s3 := net.Endpoint("s2"), net.Endpoint("s3")
	ctx := context.Background()
	tick := time.Unix(0, 0)
	deliver := func() {
		tick = tick.Add(time.Second)
		net.Advance(tick)
	}
	set := func(body string) {
		t.Helper()
		writeFaults(t, path, body)
		clock.Advance(faultsReread)
		l.current()
	}
	send := func(from transport.Transport, to quorum.MemberID, what string) {
		t.Helper()
		if err := from.Send(ctx, to, []byte(what)); err != nil {
			t.Fatalf("send %s to %s: %v", what, to, err)
		}
	}
	next := func(in <-chan transport.Message, want string) {
		t.Helper()
		select {
		case m, ok := <-in:
			if !ok || string(m.Payload) != want {
				t.Fatalf("received %q from %s (open %v), want %q", m.Payload, m.From, ok, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("nothing received, want %q", want)
		}
	}

	set(`{"drop_to":["s2"]}`)
	send(a, "s2", "lost")
	send(a, "s3", "to s3")
	set(`{}`)
	send(a, "s2", "marker")
	deliver()
	next(s2.Inbox(), "marker")
	next(s3.Inbox(), "to s3")

	set(`{"drop_from":["s2"]}`)
	send(s2, "s1", "lost")
	send(s3, "s1", "from s3")
	deliver()
	next(a.Inbox(), "from s3")
	set(`{}`)
	send(s2, "s1", "marker")
	deliver()
	next(a.Inbox(), "marker")

	// Isolated, nothing goes out or comes in. The filter reads the Inbox
	// on its own goroutine: wait until it has dropped what s3 sent before
	// lifting the fault. (Push/pull states arrive in the Inbox like any
	// message, from their sender.)
	dropped := a.Stats().Dropped
	set(`{"isolate":true}`)
	send(a, "s3", "lost")
	send(s3, "s1", "lost")
	deliver()
	deadline := time.Now().Add(30 * time.Second)
	for a.Stats().Dropped < dropped+2 {
		if time.Now().After(deadline) {
			t.Fatalf("isolated: %d messages dropped, want %d", a.Stats().Dropped-dropped, 2)
		}
		time.Sleep(time.Millisecond)
	}
	set(`{}`)
	send(s3, "s1", "marker")
	send(a, "s3", "marker")
	deliver()
	next(a.Inbox(), "marker")
	next(s3.Inbox(), "marker")

	// Close ends the filter goroutine: the Inbox is closed.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for range a.Inbox() {
	}
}

// The hooks the daemon calls read IMSENTINEL_FAULTS: unset, they inject
// nothing.
func TestProcessFaultsWithoutEnv(t *testing.T) {
	if os.Getenv(envFaults) != "" {
		t.Fatalf("%s is set in the environment: unset it to run the tests (they set their own control files)", envFaults)
	}
	if faultDropTo("s2") || faultWithholdState() {
		t.Errorf("faults injected without %s", envFaults)
	}
	now := wallNow()
	if d := time.Now().Round(0).Sub(now.Round(0)); d < 0 || d > time.Minute {
		t.Errorf("wallNow() = %v, %v before time.Now()", now, d)
	}
}
