package memberlist

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// Runs first and alone (not parallel): it counts the process's goroutines.
func TestCloseStopsEveryGoroutineAndClosesInbox(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		f := startFleet(t, abc(), nil)
		waitAlive(t, f, abc(), abc())
		sendOK(t, f.tr["a"], "b", "hello")
		receive(t, f.tr["b"], "b hears a", func(m transport.Message) bool { return m.From == "a" })
		f.tr["c"].SetState(func() []byte { return []byte("c's state") })

		for _, id := range abc() {
			tr := f.tr[id]
			if err := tr.Close(); err != nil {
				t.Fatalf("close %s: %v", id, err)
			}
			if err := tr.Close(); err != nil {
				t.Fatalf("second close of %s: got %v, want nil", id, err)
			}
			for range tr.Inbox() { // drains what is left; ends only if closed
			}
			wantErrIs(t, "send after close", sendErr(tr, "b", "late"), transport.ErrClosed)
		}
	}()
	waitFor(t, fmt.Sprintf("goroutines back to %d", before),
		func() bool { return runtime.NumGoroutine() <= before },
		func() string {
			buf := make([]byte, 1<<20)
			return fmt.Sprintf("%d goroutines:\n%s", runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		})
}

func TestFleetJoinsAndEveryoneHearsEveryone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     []byte
		profile string
	}{
		{"clear", nil, ProfileLocal},
		{"encrypted", []byte("0123456789abcdef0123456789abcdef"), ProfileLocal},
		{"lan profile", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			f := startFleet(t, abc(), func(_ quorum.MemberID, o *Options) {
				o.SecretKey, o.Profile = tc.key, tc.profile
			})
			waitAlive(t, f, abc(), abc())
			t.Logf("measure: 3 members joined in %v (%s, from the first New)", time.Since(start), tc.name)

			for _, from := range abc() {
				for _, to := range abc() {
					if from != to {
						sendOK(t, f.tr[from], to, fmt.Sprintf("%s→%s", from, to))
					}
				}
			}
			for _, to := range abc() {
				got := map[quorum.MemberID]string{}
				for len(got) < 2 {
					m := receive(t, f.tr[to], fmt.Sprintf("%s hears the others", to),
						func(transport.Message) bool { return true })
					got[m.From] = string(m.Payload)
				}
				for from, p := range got {
					if want := fmt.Sprintf("%s→%s", from, to); p != want {
						t.Errorf("%s got %q from %s, want %q", to, p, from, want)
					}
				}
			}
			for _, id := range abc() {
				if s := f.tr[id].Stats(); s.Sent != 2 || s.Received != 2 || s.Dropped != 0 {
					t.Errorf("stats of %s: got %+v, want 2 sent, 2 received, 0 dropped", id, s)
				}
			}

			wantErrIs(t, "send to self", sendErr(f.tr["a"], "a", "x"), transport.ErrUnknownMember)
			wantErrIs(t, "send to a non-voter", sendErr(f.tr["a"], "zz", "x"), transport.ErrUnknownMember)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			wantErrIs(t, "send with an ended ctx", f.tr["a"].Send(ctx, "b", []byte("x")), context.Canceled)

			measureLatency(t, f.tr["a"], f.tr["b"], 200)
		})
	}
}

// measureLatency logs the time from Send to the payload in the peer's
// Inbox, sequentially, n times. Reported, not asserted.
func measureLatency(t *testing.T, from, to *Transport, n int) {
	t.Helper()
	lat := make([]time.Duration, 0, n)
	for i := range n {
		want := fmt.Sprintf("probe %d", i)
		start := time.Now()
		sendOK(t, from, to.self, want)
		receive(t, to, "latency probe", func(m transport.Message) bool { return string(m.Payload) == want })
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("measure: Send→Inbox on loopback over %d sequential sends: p50 %v, p90 %v, p99 %v, max %v",
		n, lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1])
}

func TestStateReachesTheOthers(t *testing.T) {
	t.Parallel()
	f := startFleet(t, abc(), nil)
	waitAlive(t, f, abc(), abc())
	for _, id := range abc() {
		f.tr[id].SetState(func() []byte { return []byte("state of " + id) })
	}
	for _, to := range abc() {
		got := map[quorum.MemberID]bool{}
		for len(got) < 2 {
			m := receive(t, f.tr[to], fmt.Sprintf("%s hears the others' states", to),
				func(m transport.Message) bool { return strings.HasPrefix(string(m.Payload), "state of ") })
			if want := "state of " + string(m.From); string(m.Payload) != want {
				t.Fatalf("%s got %q from %s, want %q", to, m.Payload, m.From, want)
			}
			got[m.From] = true
		}
		if got[to] {
			t.Errorf("%s received its own state", to)
		}
	}
}

func TestClosedMemberIsSeenGone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		crash   bool // Close without announcing the leave, as after kill -9
		profile string
	}{
		{"leave", false, ProfileLocal},
		{"crash", true, ProfileLocal},
		{"crash lan profile", true, ProfileLAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, abc(), func(_ quorum.MemberID, o *Options) { o.Profile = tc.profile })
			waitAlive(t, f, abc(), abc())
			c := f.tr["c"]
			c.crash = tc.crash
			start := time.Now()
			if err := c.Close(); err != nil {
				t.Fatalf("close c: %v", err)
			}
			if tc.crash {
				// Not yet seen dead, but its port is closed: the dial is refused.
				wantErrIs(t, "send to a crashed member", sendErr(f.tr["a"], "c", "x"), transport.ErrUnreachable)
			}
			ab := []quorum.MemberID{"a", "b"}
			waitAlive(t, f, ab, ab)
			t.Logf("measure: a and b saw c gone (%s) after %v", tc.name, time.Since(start))
			wantErrIs(t, "send to a member seen gone", sendErr(f.tr["a"], "c", "x"), transport.ErrUnreachable)
			sendOK(t, f.tr["a"], "b", "still here")
		})
	}
}

// A member the others must not hear: another fleet's label, or another
// key, or no key at all.
func TestStrangersAreNotHeard(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name  string
		tweak func(id quorum.MemberID, o *Options)
	}{
		{"other label", func(id quorum.MemberID, o *Options) {
			if id == "c" {
				o.Label = "another fleet"
			}
		}},
		{"other key", func(id quorum.MemberID, o *Options) {
			o.SecretKey = key
			if id == "c" {
				o.SecretKey = []byte("fedcba9876543210")
			}
		}},
		{"no key", func(id quorum.MemberID, o *Options) {
			if id != "c" {
				o.SecretKey = key
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, abc(), tc.tweak)
			ab := []quorum.MemberID{"a", "b"}
			waitAlive(t, f, ab, ab)
			// Give every joiner several rounds against the stranger.
			waitFor(t, "5 join rounds each", func() bool {
				for _, tr := range f.tr {
					if tr.joinRounds.Load() < 5 {
						return false
					}
				}
				return true
			}, func() string { return fmt.Sprint(f.tr["a"].joinRounds.Load(), f.tr["c"].joinRounds.Load()) })
			waitAlive(t, f, ab, ab)
			waitAlive(t, f, []quorum.MemberID{"c"}, []quorum.MemberID{"c"})

			wantErrIs(t, "send from the stranger", sendErr(f.tr["c"], "a", "x"), transport.ErrUnreachable)
			wantErrIs(t, "send to the stranger", sendErr(f.tr["a"], "c", "x"), transport.ErrUnreachable)

			// Even written straight to a's socket, the stranger's message is
			// not delivered: b's marker, sent after, arrives alone.
			a := f.tr["a"]
			node := a.ml.LocalNode()
			raw := envelope{kind: kindMessage, from: "c", to: "a", payload: []byte("from the stranger")}.encode()
			_ = f.tr["c"].ml.SendReliable(node, raw) // written, then refused by a
			sendOK(t, f.tr["b"], "a", "marker")
			m := receive(t, a, "a hears b", func(transport.Message) bool { return true })
			if m.From != "b" || string(m.Payload) != "marker" {
				t.Fatalf("a received %q from %s, want only b's marker", m.Payload, m.From)
			}
		})
	}
}

func TestNonVoterIsRefused(t *testing.T) {
	t.Parallel()
	f := startFleet(t, []quorum.MemberID{"a", "b"}, nil)
	ab := []quorum.MemberID{"a", "b"}
	waitAlive(t, f, ab, ab)

	// x lists itself in its own voter set; a and b do not list it.
	addr := freeAddrs(t, 1)[0]
	vx, err := quorum.NewVoters(f.voters.Name(), append(f.voters.Members(), quorum.Member{ID: "x", Address: addr}))
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(Options{Self: "x", Voters: vx, Bind: addr, Profile: ProfileLocal})
	if err != nil {
		t.Fatalf("start x: %v", err)
	}
	t.Cleanup(func() { x.Close() })

	waitFor(t, "x sees a", func() bool { return slices.Contains(x.Alive(), "a") },
		func() string { return fmt.Sprint(x.Alive()) })
	if err := sendErr(x, "a", "from x"); err != nil {
		t.Fatalf("send x → a: %v (written, expected to be dropped by a)", err)
	}
	waitFor(t, "a drops x's message", func() bool { return f.tr["a"].Stats().Dropped >= 1 },
		func() string { return fmt.Sprintf("%+v", f.tr["a"].Stats()) })
	if got := f.tr["a"].Alive(); !slices.Equal(got, ab) {
		t.Errorf("a sees %v alive, want %v (x refused)", got, ab)
	}
	if rec, ok := f.logs["a"].find("not in fleet.members"); !ok {
		t.Errorf("a logged nothing about x; want a warning")
	} else {
		t.Logf("a logged: %s", rec)
	}
	sendOK(t, f.tr["b"], "a", "marker")
	if m := receive(t, f.tr["a"], "a hears b", func(transport.Message) bool { return true }); m.From != "b" {
		t.Fatalf("a received %q from %s, want only b's marker", m.Payload, m.From)
	}
}

// DESIGN.md §5.1: a sentinel whose id collides with another's says so
// loudly.
func TestIDCollisionIsDetectedAtBothEnds(t *testing.T) {
	t.Parallel()
	f := startFleet(t, abc(), nil)
	waitAlive(t, f, abc(), abc())

	// A second process with a's id and the same fleet.members (a copied
	// config), bound elsewhere.
	rec := newLogRecorder()
	var intruder *Transport
	for range 5 {
		var err error
		intruder, err = New(Options{Self: "a", Voters: f.voters, Bind: freeAddrs(t, 1)[0],
			Profile: ProfileLocal, Logger: slog.New(rec)})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("start the intruder: %v", err)
		}
	}
	if intruder == nil {
		t.Fatal("start the intruder: no free port")
	}
	t.Cleanup(func() { intruder.Close() })

	waitFor(t, "both ends see the collision", func() bool {
		return f.tr["a"].SelfConflict() && intruder.SelfConflict() && len(f.tr["b"].Conflicts()) > 0
	}, func() string {
		return fmt.Sprintf("a %v, intruder %v, b %v", f.tr["a"].Conflicts(), intruder.Conflicts(), f.tr["b"].Conflicts())
	})
	if f.tr["b"].SelfConflict() {
		t.Errorf("b reports a collision with its own id; it is a's")
	}
	for _, c := range f.tr["b"].Conflicts() {
		if !strings.HasPrefix(c, "a: ") || !strings.Contains(c, f.addrs["a"]) || !strings.Contains(c, intruder.LocalAddr()) {
			t.Errorf("b's conflict %q: want it to name a, %s and %s", c, f.addrs["a"], intruder.LocalAddr())
		}
	}
	for who, r := range map[string]logRecorder{"a": f.logs["a"], "intruder": rec} {
		line, ok := r.find("ERROR sentinel id collision: another process uses this sentinel's id")
		if !ok {
			t.Errorf("%s did not log the collision at Error", who)
		} else {
			t.Logf("%s logged: %s", who, line)
		}
	}
}

func TestLocalAddrIsTheBoundPort(t *testing.T) {
	t.Parallel()
	v, err := quorum.NewVoters("solo", []quorum.Member{{ID: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(Options{Self: "a", Voters: v, Bind: "127.0.0.1:0", Profile: ProfileLocal})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	defer tr.Close()
	if a := tr.LocalAddr(); !strings.HasPrefix(a, "127.0.0.1:") || strings.HasSuffix(a, ":0") {
		t.Fatalf("LocalAddr: got %q, want 127.0.0.1 with a real port", a)
	}
	if got := tr.Alive(); !slices.Equal(got, []quorum.MemberID{"a"}) {
		t.Fatalf("alone: Alive got %v, want [a]", got)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	v, err := quorum.NewVoters("fleet", []quorum.Member{{ID: "a", Address: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	good := Options{Self: "a", Voters: v, Bind: "127.0.0.1:0", Profile: ProfileLocal}
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   []string
	}{
		{"no voters", func(o *Options) { o.Voters = quorum.Voters{} }, []string{"voters: empty"}},
		{"self not a voter", func(o *Options) { o.Self = "z" }, []string{`self: "z" is not among the voters [a]`}},
		{"bind without port", func(o *Options) { o.Bind = "127.0.0.1" }, []string{`bind: "127.0.0.1"`}},
		{"bind to a name", func(o *Options) { o.Bind = "localhost:7946" }, []string{`bind: "localhost:7946": host "localhost" is not an IP`}},
		{"advertise port", func(o *Options) { o.Advertise = "10.0.0.1:99999" }, []string{`advertise: "10.0.0.1:99999"`}},
		{"key size", func(o *Options) { o.SecretKey = []byte("short") }, []string{"secret key: 5 bytes"}},
		{"profile", func(o *Options) { o.Profile = "wan" }, []string{`profile: "wan"`}},
		{"inbox", func(o *Options) { o.InboxSize = -1 }, []string{"inbox size: -1"}},
		{"label", func(o *Options) { o.Label = strings.Repeat("x", 300) }, []string{"label:", "300 bytes"}},
		{"all at once", func(o *Options) { o.Self = ""; o.Bind = "x"; o.Profile = "wan" },
			[]string{"self: empty", `bind: "x"`, `profile: "wan"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			_, err := New(o)
			if err == nil {
				t.Fatalf("New(%+v): got no error, want %q", o, tc.want)
			}
			wantErrIs(t, "New", err, ErrOptions)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEnvelope(t *testing.T) {
	e := envelope{kind: kindMessage, from: "sentinel-a", to: "sentinel-b", payload: []byte("vote please")}
	b := e.encode()
	got, err := decodeEnvelope(b)
	if err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	if got.kind != e.kind || got.from != e.from || got.to != e.to || !bytes.Equal(got.payload, e.payload) {
		t.Fatalf("round trip: got %+v, want %+v", got, e)
	}
	b[len(b)-1] = 'X' // the decoded payload is a copy
	if string(got.payload) != "vote please" {
		t.Fatalf("decoded payload shares the input buffer: %q", got.payload)
	}
	for _, bad := range [][]byte{
		nil,
		{1},
		{2, 1, 0, 0},          // version
		{1, 9, 0, 0},          // kind
		{1, 1, 5, 'a'},        // sender longer than the rest
		{1, 1, 1, 'a', 3},     // destination longer than the rest
		{1, 1, 0xff, 0xff, 3}, // absurd length
	} {
		if _, err := decodeEnvelope(bad); err == nil {
			t.Errorf("decode %x: got no error, want one", bad)
		}
	}
}

// Send waits for a free connection slot no longer than its ctx allows.
func TestSendHonoursCtxWhenEverySlotIsTaken(t *testing.T) {
	t.Parallel()
	ab := []quorum.MemberID{"a", "b"}
	f := startFleet(t, ab, nil)
	waitAlive(t, f, ab, ab)
	a := f.tr["a"]
	for range maxInflight {
		a.inflight["b"] <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	wantErrIs(t, "send with every slot taken", a.Send(ctx, "b", []byte("x")), context.DeadlineExceeded)
	for range maxInflight {
		<-a.inflight["b"]
	}
	sendOK(t, a, "b", "after")
}
