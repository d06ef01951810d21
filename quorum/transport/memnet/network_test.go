package memnet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newNet(seed uint64, ids ...quorum.MemberID) *Network {
	n := New(rand.New(rand.NewPCG(seed, seed)), t0)
	for _, id := range ids {
		n.Endpoint(id)
	}
	return n
}

func mustSend(t *testing.T, n *Network, from, to quorum.MemberID, payload string) {
	t.Helper()
	if err := n.Endpoint(from).Send(context.Background(), to, []byte(payload)); err != nil {
		t.Fatalf("send %s→%s %q: %v", from, to, payload, err)
	}
}

// drain reads what is in id's inbox now, as "from:payload".
func drain(n *Network, id quorum.MemberID) []string {
	var out []string
	for {
		select {
		case m, ok := <-n.Endpoint(id).Inbox():
			if !ok {
				return out
			}
			out = append(out, string(m.From)+":"+string(m.Payload))
		default:
			return out
		}
	}
}

func TestDeliveryOrder(t *testing.T) {
	n := newNet(1, "a", "b", "c")
	n.SetPushPullInterval(0)
	n.SetLink("a", "b", Link{Delay: 10 * time.Millisecond})
	mustSend(t, n, "a", "b", "slow")  // due at 10 ms
	mustSend(t, n, "c", "b", "fast1") // due at 0
	mustSend(t, n, "c", "b", "fast2") // due at 0, sent later
	n.SetLink("c", "b", Link{Delay: 10 * time.Millisecond})
	mustSend(t, n, "c", "b", "tie") // due at 10 ms, sent after "slow"
	if got := n.InFlight(); got != 4 {
		t.Errorf("InFlight = %d, want 4", got)
	}
	if got := n.Advance(t0.Add(5 * time.Millisecond)); got != 2 {
		t.Errorf("Advance to 5 ms moved %d, want 2", got)
	}
	if got, want := drain(n, "b"), []string{"c:fast1", "c:fast2"}; !slices.Equal(got, want) {
		t.Errorf("at 5 ms b has %q, want %q", got, want)
	}
	if got := n.Advance(t0.Add(time.Millisecond)); got != 0 || !n.Now().Equal(t0.Add(5*time.Millisecond)) {
		t.Errorf("Advance backwards moved %d and left the clock at %s, want 0 and 5 ms", got, n.Now().Sub(t0))
	}
	n.Advance(t0.Add(10 * time.Millisecond))
	if got, want := drain(n, "b"), []string{"a:slow", "c:tie"}; !slices.Equal(got, want) {
		t.Errorf("at 10 ms b has %q, want %q (due time, then send order)", got, want)
	}
	if got := n.InFlight(); got != 0 {
		t.Errorf("InFlight = %d, want 0", got)
	}
	// Send copies the payload.
	p := []byte("original")
	n.Endpoint("a").Send(context.Background(), "c", p)
	copy(p, "mutated!")
	n.Advance(n.Now())
	if got := drain(n, "c"); !slices.Equal(got, []string{"a:original"}) {
		t.Errorf("c has %q, want the payload as it was sent", got)
	}
	if s := n.Endpoint("b").Stats(); s.Received != 4 || s.Dropped != 0 {
		t.Errorf("b's stats = %+v, want 4 received", s)
	}
	if s := n.Endpoint("c").Stats(); s.Sent != 3 {
		t.Errorf("c's stats = %+v, want 3 sent", s)
	}
}

func TestSendRefuses(t *testing.T) {
	n := newNet(1, "a", "b")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		to   quorum.MemberID
		want error
	}{
		{"unknown member", context.Background(), "z", transport.ErrUnknownMember},
		{"cancelled", ctx, "b", context.Canceled},
	} {
		if err := n.Endpoint("a").Send(c.ctx, c.to, nil); !errors.Is(err, c.want) || !strings.Contains(err.Error(), "send from a to "+string(c.to)) {
			t.Errorf("%s: Send = %v, want %v saying what was sent", c.name, err, c.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "drop probability 1.5 outside [0, 1]") {
			t.Errorf("SetLink with Drop 1.5 panicked with %v, want the bad value named", r)
		}
	}()
	n.SetLink("a", "b", Link{Drop: 1.5})
}

// TestDropAndDelayStatistics pins the link model for one seed: the loss
// rate and the delay distribution.
func TestDropAndDelayStatistics(t *testing.T) {
	const sent = 20000
	n := newNet(7, "a", "b")
	n.SetPushPullInterval(0)
	n.SetDefaults(Link{Drop: 0.25, Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond})
	for i := range sent {
		mustSend(t, n, "a", "b", fmt.Sprint(i))
	}
	var delays []time.Duration
	for now := t0; now.Before(t0.Add(40 * time.Millisecond)); now = now.Add(time.Millisecond) {
		n.Advance(now)
		for range drain(n, "b") {
			delays = append(delays, now.Sub(t0))
		}
	}
	lost := sent - len(delays)
	if rate := float64(lost) / sent; math.Abs(rate-0.25) > 0.01 {
		t.Errorf("lost %d of %d (%.3f), want about 0.25", lost, sent, rate)
	}
	if s := n.Stats(); s.Lost != uint64(lost) || s.Sent != sent || s.Delivered != uint64(len(delays)) {
		t.Errorf("Stats = %+v, want %d sent, %d lost, %d delivered", s, sent, lost, len(delays))
	}
	var sum time.Duration
	for _, d := range delays {
		// Due in [10ms, 30ms), seen at the next whole millisecond.
		if d < 10*time.Millisecond || d > 30*time.Millisecond {
			t.Fatalf("a message was seen after %s, want within [10ms, 30ms]", d)
		}
		sum += d
	}
	// Arrival is seen at the next whole millisecond: uniform [10, 30) → mean 20.5.
	if mean := sum / time.Duration(len(delays)); mean < 20*time.Millisecond || mean > 21*time.Millisecond {
		t.Errorf("mean delay %s, want about 20.5ms", mean)
	}
	// The exact figures for this seed: a change to how the rng is used
	// changes every simulation's replay.
	if lost != 4990 {
		t.Errorf("seed 7 lost %d messages; the rng is no longer used the same way (was 4990)", lost)
	}
}

func TestPartitionAndHeal(t *testing.T) {
	n := newNet(1, "a", "b", "c", "d")
	n.SetPushPullInterval(0)
	n.SetDefaults(Link{Delay: 5 * time.Millisecond})
	mustSend(t, n, "a", "c", "in flight")
	n.Partition([]quorum.MemberID{"a", "b"}, []quorum.MemberID{"c"}) // d in no group
	for _, c := range []struct {
		from, to quorum.MemberID
		ok       bool
	}{
		{"a", "b", true}, {"b", "a", true}, {"a", "c", false}, {"c", "b", false}, {"d", "a", false}, {"c", "d", false},
	} {
		err := n.Endpoint(c.from).Send(context.Background(), c.to, []byte("x"))
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, transport.ErrUnreachable)) {
			t.Errorf("partitioned: Send %s→%s = %v, want ok=%v or ErrUnreachable", c.from, c.to, err, c.ok)
		}
	}
	for id, want := range map[quorum.MemberID][]quorum.MemberID{"a": {"a", "b"}, "c": {"c"}, "d": {"d"}} {
		if got := n.Endpoint(id).Alive(); !slices.Equal(got, want) {
			t.Errorf("partitioned: %s.Alive() = %v, want %v", id, got, want)
		}
	}
	n.Advance(t0.Add(time.Second))
	if got := drain(n, "c"); len(got) != 0 {
		t.Errorf("c received %q across the partition, want the in-flight message lost", got)
	}
	if got := drain(n, "b"); !slices.Equal(got, []string{"a:x"}) {
		t.Errorf("b received %q, want a:x", got)
	}
	if s := n.Stats(); s.Lost != 1 {
		t.Errorf("Stats = %+v, want 1 lost (in flight when the partition came)", s)
	}
	n.Heal()
	mustSend(t, n, "d", "c", "healed")
	n.Advance(n.Now().Add(5 * time.Millisecond))
	if got := drain(n, "c"); !slices.Equal(got, []string{"d:healed"}) {
		t.Errorf("after Heal c received %q, want d:healed", got)
	}
	if got := n.Endpoint("a").Alive(); len(got) != 4 {
		t.Errorf("after Heal a.Alive() = %v, want all 4", got)
	}
	// A cut link is one direction only.
	n.SetLink("a", "b", Link{Cut: true})
	if err := n.Endpoint("a").Send(context.Background(), "b", nil); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("Send over a cut link = %v, want ErrUnreachable", err)
	}
	mustSend(t, n, "b", "a", "back")
	if got := n.Endpoint("a").Alive(); slices.Contains(got, "b") {
		t.Errorf("a.Alive() = %v, want b missing over the cut link", got)
	}
	if got := n.Endpoint("b").Alive(); !slices.Contains(got, "a") {
		t.Errorf("b.Alive() = %v, want a (only a→b is cut)", got)
	}
	n.ClearLinks()
	mustSend(t, n, "a", "b", "again")
}

func TestCrashAndRestart(t *testing.T) {
	n := newNet(1, "a", "b")
	n.SetPushPullInterval(0)
	n.SetDefaults(Link{Delay: 5 * time.Millisecond})
	mustSend(t, n, "a", "b", "read before crash")
	n.Advance(t0.Add(5 * time.Millisecond))
	mustSend(t, n, "a", "b", "in flight")
	old := n.Endpoint("b")
	n.Crash("b")
	if _, ok := <-old.Inbox(); ok {
		t.Error("a crashed endpoint's inbox still delivers, want it emptied and closed")
	}
	if err := n.Endpoint("a").Send(context.Background(), "b", nil); !errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("Send to a crashed member = %v, want ErrUnreachable", err)
	}
	if err := old.Send(context.Background(), "a", nil); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Send from a crashed member = %v, want ErrClosed", err)
	}
	if got := n.Endpoint("a").Alive(); !slices.Equal(got, []quorum.MemberID{"a"}) {
		t.Errorf("a.Alive() = %v, want [a]", got)
	}
	if n.Endpoint("b") != old || old.Alive() != nil {
		t.Error("Endpoint(b) after Crash should be the dead endpoint, seeing no one alive")
	}
	fresh := n.Restart("b")
	if fresh == old || n.Endpoint("b") != fresh {
		t.Fatal("Restart did not give b a fresh endpoint")
	}
	n.Advance(t0.Add(time.Second))
	if got := drain(n, "b"); len(got) != 0 {
		t.Errorf("restarted b received %q, want nothing sent before the restart", got)
	}
	mustSend(t, n, "a", "b", "hello again")
	mustSend(t, n, "b", "a", "back")
	n.Advance(n.Now().Add(5 * time.Millisecond))
	if got := drain(n, "b"); !slices.Equal(got, []string{"a:hello again"}) {
		t.Errorf("restarted b received %q, want a:hello again", got)
	}
	if s := fresh.Stats(); s.Received != 1 || s.Sent != 1 {
		t.Errorf("restarted b's stats = %+v, want fresh counters", s)
	}
	// Restart of a live endpoint crashes it first; Close is a crash too.
	live := n.Endpoint("a")
	n.Restart("a")
	if _, ok := <-live.Inbox(); ok {
		t.Error("Restart left the previous endpoint's inbox open")
	}
	if err := n.Endpoint("a").Close(); err != nil || n.Endpoint("a").Close() != nil {
		t.Errorf("Close twice = %v, want nil", err)
	}
}

func TestInboxOverflowNeverBlocks(t *testing.T) {
	n := newNet(1, "a", "b")
	for range InboxSize + 10 {
		mustSend(t, n, "a", "b", "x")
	}
	if got := n.Advance(t0); got != InboxSize {
		t.Errorf("Advance moved %d into a full inbox, want %d", got, InboxSize)
	}
	if s := n.Endpoint("b").Stats(); s.Dropped != 10 {
		t.Errorf("b's stats = %+v, want 10 dropped", s)
	}
	if s := n.Stats(); s.Overflow != 10 {
		t.Errorf("network stats = %+v, want 10 overflowed", s)
	}
}

func TestPushPull(t *testing.T) {
	n := newNet(1, "a", "b", "c", "d")
	calls := map[quorum.MemberID]int{}
	for _, id := range []quorum.MemberID{"a", "b", "c"} { // d offers no state, only receives
		n.Endpoint(id).SetState(func() []byte {
			calls[id]++
			return []byte("state of " + string(id))
		})
	}
	if got := n.Advance(t0.Add(999 * time.Millisecond)); got != 0 {
		t.Errorf("before the first interval Advance moved %d, want 0", got)
	}
	if got := n.Advance(t0.Add(time.Second)); got != 9 {
		t.Errorf("first exchange moved %d, want 9 (a, b, c to the 3 others each)", got)
	}
	for id, want := range map[quorum.MemberID][]string{
		"a": {"b:state of b", "c:state of c"},
		"b": {"a:state of a", "c:state of c"},
		"c": {"a:state of a", "b:state of b"},
		"d": {"a:state of a", "b:state of b", "c:state of c"},
	} {
		if got := drain(n, id); !slices.Equal(got, want) {
			t.Errorf("after one exchange %s has %q, want %q", id, got, want)
		}
	}
	if calls["a"] != 1 {
		t.Errorf("a's state was asked for %d times in one round, want once", calls["a"])
	}
	// Partitions, cuts and crashes limit the exchange; drop probabilities do not.
	n.SetDefaults(Link{Drop: 1})
	n.Partition([]quorum.MemberID{"a", "b"}, []quorum.MemberID{"c", "d"})
	n.Advance(t0.Add(2 * time.Second))
	want := map[quorum.MemberID][]string{"a": {"b:state of b"}, "b": {"a:state of a"}, "c": nil, "d": {"c:state of c"}}
	for id, want := range want {
		if got := drain(n, id); !slices.Equal(got, want) {
			t.Errorf("partitioned exchange: %s has %q, want %q", id, got, want)
		}
	}
	n.Heal()
	n.Crash("b")
	n.SetLink("c", "a", Link{Cut: true}) // TCP needs both ways: a and c do not exchange
	n.Advance(t0.Add(3 * time.Second))
	want = map[quorum.MemberID][]string{"a": nil, "c": nil, "d": {"a:state of a", "c:state of c"}}
	for id, want := range want {
		if got := drain(n, id); !slices.Equal(got, want) {
			t.Errorf("exchange with b dead and c→a cut: %s has %q, want %q", id, got, want)
		}
	}
	// Three intervals at once: three rounds. The restarted b offers no
	// state until it sets one.
	n.ClearLinks()
	n.SetDefaults(Link{})
	n.Restart("b")
	if got := n.Advance(t0.Add(6 * time.Second)); got != 3*6 {
		t.Errorf("three intervals moved %d, want 18 (a and c to 3 others, 3 times)", got)
	}
	n.SetPushPullInterval(0)
	if got := n.Advance(t0.Add(time.Minute)); got != 0 {
		t.Errorf("with push/pull off Advance moved %d, want 0", got)
	}
	n.SetPushPullInterval(10 * time.Second)
	if got := n.Advance(t0.Add(time.Minute + 10*time.Second)); got != 6 {
		t.Errorf("after a 10 s interval was set, Advance moved %d, want one round of 6", got)
	}
}

// run is a small random simulation; its trace is every delivery as
// "time from→to payload".
func run(seed uint64) []string {
	ids := []quorum.MemberID{"s1", "s2", "s3", "s4", "s5"}
	n := newNet(seed, ids...)
	n.SetDefaults(Link{Drop: 0.1, Delay: 3 * time.Millisecond, Jitter: 10 * time.Millisecond})
	n.SetPushPullInterval(100 * time.Millisecond)
	for _, id := range ids {
		n.Endpoint(id).SetState(func() []byte { return []byte("st-" + string(id)) })
	}
	script := rand.New(rand.NewPCG(seed, 99)) // the test's own choices
	var trace []string
	for step := range 300 {
		now := t0.Add(time.Duration(step) * time.Millisecond)
		switch step {
		case 100:
			n.Partition(ids[:3], ids[3:])
		case 150:
			n.Crash("s2")
		case 200:
			n.Heal()
			n.Restart("s2")
		}
		for range 3 {
			from, to := ids[script.IntN(len(ids))], ids[script.IntN(len(ids))]
			err := n.Endpoint(from).Send(context.Background(), to, fmt.Appendf(nil, "m%d", step))
			if err != nil {
				trace = append(trace, fmt.Sprintf("%d %s→%s refused: %v", step, from, to, err))
			}
		}
		n.Advance(now)
		for _, id := range ids {
			for _, m := range drain(n, id) {
				trace = append(trace, fmt.Sprintf("%s →%s %s", now.Sub(t0), id, m))
			}
		}
	}
	return trace
}

func TestDeterminism(t *testing.T) {
	a, b := run(42), run(42)
	if !slices.Equal(a, b) {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("two runs of seed 42 differ at event %d: %q vs %q", i, a[i], b[i])
			}
		}
		t.Fatalf("two runs of seed 42 differ in length: %d vs %d events", len(a), len(b))
	}
	if len(a) < 500 {
		t.Errorf("the run traced only %d events; the simulation is too small to prove anything", len(a))
	}
	if slices.Equal(a, run(43)) {
		t.Error("seeds 42 and 43 gave the same trace; the rng is not used")
	}
}

func TestPushPullInterleavesWithMessages(t *testing.T) {
	n := newNet(1, "a", "b")
	n.Endpoint("a").SetState(func() []byte { return []byte("state") })
	n.SetLink("a", "b", Link{Delay: 1500 * time.Millisecond})
	mustSend(t, n, "a", "b", "at 1.5s")
	n.SetLink("a", "b", Link{Delay: 2 * time.Second})
	mustSend(t, n, "a", "b", "at 2s")
	if got := n.Advance(t0.Add(2 * time.Second)); got != 4 {
		t.Errorf("Advance moved %d, want 4", got)
	}
	want := []string{"a:state", "a:at 1.5s", "a:at 2s", "a:state"} // a message due at a round goes first
	if got := drain(n, "b"); !slices.Equal(got, want) {
		t.Errorf("b has %q, want %q (virtual time order)", got, want)
	}
}
