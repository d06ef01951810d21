package memberlist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// deadline bounds every wait: generous for a loaded 2-core box under
// -race; tests poll and return as soon as the condition holds.
const deadline = 60 * time.Second

// waitFor polls cond until it holds or deadline passes, then fails with
// what describe says about the state seen last.
func waitFor(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v; last seen: %s", what, deadline, describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddrs returns n loopback addresses whose port is free for both TCP
// and UDP now. Another process may take one before it is bound: callers
// retry (startFleet).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		out = append(out, "127.0.0.1:"+strconv.Itoa(port))
	}
	return out
}

// logRecorder is a slog.Handler keeping records at Info and above, for
// assertions on what an operator would read.
type logRecorder struct {
	mu   *sync.Mutex
	recs *[]string
}

func newLogRecorder() logRecorder { return logRecorder{mu: &sync.Mutex{}, recs: new([]string)} }

func (logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, b.String())
	r.mu.Unlock()
	return nil
}
func (r logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r logRecorder) WithGroup(string) slog.Handler      { return r }

func (r logRecorder) find(substr string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range *r.recs {
		if strings.Contains(s, substr) {
			return s, true
		}
	}
	return "", false
}

// fleet is a set of running transports of one voter set.
type fleet struct {
	voters quorum.Voters
	addrs  map[quorum.MemberID]string
	tr     map[quorum.MemberID]*Transport
	logs   map[quorum.MemberID]logRecorder
}

// startFleet starts one transport per id on free loopback ports, with the
// local profile, the test's name as fleet name, and tweak applied to each
// member's options. Closed at cleanup.
func startFleet(t *testing.T, ids []quorum.MemberID, tweak func(id quorum.MemberID, o *Options)) *fleet {
	t.Helper()
	var lastErr error
	for range 5 {
		f, err := tryFleet(t, ids, tweak)
		if err == nil {
			return f
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start fleet %v: %v", ids, lastErr)
	return nil
}

func tryFleet(t *testing.T, ids []quorum.MemberID, tweak func(id quorum.MemberID, o *Options)) (*fleet, error) {
	addrs := freeAddrs(t, len(ids))
	f := &fleet{
		addrs: map[quorum.MemberID]string{},
		tr:    map[quorum.MemberID]*Transport{},
		logs:  map[quorum.MemberID]logRecorder{},
	}
	var members []quorum.Member
	for i, id := range ids {
		f.addrs[id] = addrs[i]
		members = append(members, quorum.Member{ID: id, Address: addrs[i]})
	}
	v, err := quorum.NewVoters(t.Name(), members)
	if err != nil {
		t.Fatalf("voters: %v", err)
	}
	f.voters = v
	for _, id := range ids {
		rec := newLogRecorder()
		o := Options{Self: id, Voters: v, Bind: f.addrs[id], Profile: ProfileLocal, Logger: slog.New(rec)}
		if tweak != nil {
			tweak(id, &o)
		}
		tr, err := New(o)
		if err != nil {
			for _, tr := range f.tr {
				tr.Close()
			}
			return nil, err
		}
		f.tr[id], f.logs[id] = tr, rec
		t.Cleanup(func() { tr.Close() })
	}
	return f, nil
}

// waitAlive waits until each of who sees exactly want alive.
func waitAlive(t *testing.T, f *fleet, who, want []quorum.MemberID) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	waitFor(t, fmt.Sprintf("%v all see %v alive", who, want), func() bool {
		for _, id := range who {
			if !slices.Equal(f.tr[id].Alive(), want) {
				return false
			}
		}
		return true
	}, func() string { return aliveViews(f, who) })
}

func aliveViews(f *fleet, who []quorum.MemberID) string {
	var b strings.Builder
	for _, id := range who {
		fmt.Fprintf(&b, "%s sees %v; ", id, f.tr[id].Alive())
	}
	return b.String()
}

// receive waits for a message on tr's Inbox satisfying match, skipping
// others.
func receive(t *testing.T, tr *Transport, what string, match func(transport.Message) bool) transport.Message {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-tr.Inbox():
			if !ok {
				t.Fatalf("%s: inbox of %s closed", what, tr.self)
			}
			if match(m) {
				return m
			}
		case <-timer.C:
			t.Fatalf("%s: nothing within %v; stats of %s: %+v", what, deadline, tr.self, tr.Stats())
		}
	}
}

// sendOK sends with a deadline and fails the test on error.
func sendOK(t *testing.T, from *Transport, to quorum.MemberID, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := from.Send(ctx, to, []byte(payload)); err != nil {
		t.Fatalf("send %s → %s: %v", from.self, to, err)
	}
}

// sendErr sends with a deadline and returns the error.
func sendErr(from *Transport, to quorum.MemberID, payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return from.Send(ctx, to, []byte(payload))
}

func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func abc() []quorum.MemberID { return []quorum.MemberID{"a", "b", "c"} }
