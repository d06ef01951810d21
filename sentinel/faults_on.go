//go:build faults

package sentinel

// Fault injection for end-to-end tests (DESIGN.md §8). memberlist carries
// the fleet over UDP and TCP, which a TCP proxy cannot cut, so a test build
// of the daemon (go build -tags faults; make build-faults) reads a control
// file and drops the fleet's messages by member, and shifts the wall clock
// TILT reads. A production build has none of this (faults_off.go).
//
// The control file is named by the environment variable IMSENTINEL_FAULTS
// and holds one JSON object; a missing file means no faults:
//
//	{"drop_to": ["s2"], "drop_from": ["s3"], "isolate": false, "wall_offset": "0s"}
//
//   - drop_to: messages to these members are lost: direct agreement
//     messages and Conn requests and replies. The push/pull state is then
//     offered to nobody, since memberlist does not say whom it is for.
//   - drop_from: messages and push/pull states from these members are lost.
//   - isolate: everything in and out is lost, states included: the sentinel
//     is cut off from the fleet's agreement.
//   - wall_offset: a Go duration added to the wall clock wallNow returns
//     (TILT's reading); the monotonic clock is untouched, so a change of
//     the offset looks like a step of the host's clock.
//
// memberlist's own probes and gossip are not cut: the sentinels still see
// each other alive (fleet.alive), as with a broken agreement path rather
// than a dead host. Writers should replace the file atomically (temp file
// and rename, as harness.Sentinel.SetFaults does); it is looked at no more
// than every 100 ms, by a stat, and read again when it changed.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// envFaults names the control file of a fault-injection build.
const envFaults = "IMSENTINEL_FAULTS"

// faultsReread is how often, at most, the control file is looked at.
const faultsReread = 100 * time.Millisecond

// processFaults is this process's fault layer: one control file per
// process, as the environment is. A package-level value only in this test
// build: wallNow, called where the daemon reads the clock for TILT, has no
// receiver to carry it.
var processFaults = sync.OnceValue(func() *faultLayer { return newFaultLayer(os.Getenv(envFaults), time.Now) })

// faultTransport wraps the transport the fleet's Conn uses (newFleet), and
// says once, at start, that this is not a production build.
func faultTransport(t transport.Transport, log *slog.Logger) transport.Transport {
	return processFaults().wrap(t, log)
}

// faultDropTo says whether a direct message to member to is lost.
func faultDropTo(to quorum.MemberID) bool { return processFaults().current().dropsTo(to) }

// faultWithholdState says whether the push/pull state is offered to nobody.
func faultWithholdState() bool { return processFaults().current().withholdsState() }

// wallNow is time.Now() with the wall clock shifted by wall_offset.
func wallNow() time.Time { return processFaults().wallNow(time.Now()) }

// faultSet is one version of the control file, immutable.
type faultSet struct {
	dropTo, dropFrom map[quorum.MemberID]bool
	isolate          bool
	wallOffset       time.Duration
}

func (s *faultSet) dropsTo(id quorum.MemberID) bool   { return s.isolate || s.dropTo[id] }
func (s *faultSet) dropsFrom(id quorum.MemberID) bool { return s.isolate || s.dropFrom[id] }
func (s *faultSet) withholdsState() bool              { return s.isolate || len(s.dropTo) > 0 }

// String describes the set for logs: "none" when it injects nothing.
func (s *faultSet) String() string {
	var parts []string
	ids := func(m map[quorum.MemberID]bool) string {
		out := make([]string, 0, len(m))
		for id := range m {
			out = append(out, string(id))
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	if s.isolate {
		parts = append(parts, "isolate")
	}
	if len(s.dropTo) > 0 {
		parts = append(parts, "drop_to="+ids(s.dropTo))
	}
	if len(s.dropFrom) > 0 {
		parts = append(parts, "drop_from="+ids(s.dropFrom))
	}
	if s.wallOffset != 0 {
		parts = append(parts, "wall_offset="+s.wallOffset.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// faultFile is the control file's JSON.
type faultFile struct {
	DropTo     []string `json:"drop_to"`
	DropFrom   []string `json:"drop_from"`
	Isolate    bool     `json:"isolate"`
	WallOffset string   `json:"wall_offset"`
}

// parseFaults decodes a control file; unknown keys are errors, so a typo
// is not a silently absent fault.
func parseFaults(b []byte) (*faultSet, error) {
	var f faultFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	s := &faultSet{isolate: f.Isolate, dropTo: map[quorum.MemberID]bool{}, dropFrom: map[quorum.MemberID]bool{}}
	for _, id := range f.DropTo {
		s.dropTo[quorum.MemberID(id)] = true
	}
	for _, id := range f.DropFrom {
		s.dropFrom[quorum.MemberID(id)] = true
	}
	if f.WallOffset != "" {
		d, err := time.ParseDuration(f.WallOffset)
		if err != nil {
			return nil, fmt.Errorf("wall_offset: %w", err)
		}
		s.wallOffset = d
	}
	return s, nil
}

// faultLayer follows one control file. Its methods are safe for
// concurrent use and never block: the caller that finds the file due for
// a look stats it; the others use the set in force.
type faultLayer struct {
	path  string           // "" = no control file: nothing is injected
	clock func() time.Time // when to look at the file again

	set     atomic.Pointer[faultSet]
	log     atomic.Pointer[slog.Logger]
	shiftOK atomic.Bool // false once shiftWall failed (warned once)

	mu      sync.Mutex  // held, with TryLock, by the caller looking at the file
	checked time.Time   // last look; under mu
	seen    os.FileInfo // the file last read, nil when none; under mu
}

func newFaultLayer(path string, clock func() time.Time) *faultLayer {
	l := &faultLayer{path: path, clock: clock}
	l.set.Store(&faultSet{})
	l.log.Store(slog.New(slog.DiscardHandler))
	l.shiftOK.Store(true)
	return l
}

// wrap logs that this is a fault-injection build and returns t with its
// Send and Inbox passing through the layer.
func (l *faultLayer) wrap(t transport.Transport, log *slog.Logger) transport.Transport {
	if log != nil {
		l.log.Store(log)
	}
	where := "control file " + l.path
	if l.path == "" {
		where = envFaults + " is not set: no faults injected"
	}
	l.log.Load().Warn("fault injection build: not for production", "faults", where)
	l.current() // read the file now, so the first faults are in force from the start
	return &faultyTransport{Transport: t, l: l}
}

// current is the fault set in force, after looking at the file if it is
// due.
func (l *faultLayer) current() *faultSet {
	if l.path != "" && l.mu.TryLock() {
		if now := l.clock(); l.checked.IsZero() || now.Sub(l.checked) >= faultsReread {
			l.checked = now
			l.refresh()
		}
		l.mu.Unlock()
	}
	return l.set.Load()
}

// refresh reads the file when it changed since last read. Under mu.
func (l *faultLayer) refresh() {
	log := l.log.Load()
	fi, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		if l.seen != nil {
			l.seen = nil
			l.install(&faultSet{})
		}
		return
	}
	if err != nil {
		log.Warn("fault injection: cannot look at the control file; the faults in force stay", "path", l.path, "err", err)
		return
	}
	if p := l.seen; p != nil && os.SameFile(p, fi) && p.ModTime().Equal(fi.ModTime()) && p.Size() == fi.Size() {
		return
	}
	l.seen = fi
	b, err := os.ReadFile(l.path)
	if err != nil {
		log.Warn("fault injection: cannot read the control file; the faults in force stay", "path", l.path, "err", err)
		return
	}
	s, err := parseFaults(b)
	if err != nil {
		log.Warn("fault injection: bad control file; the faults in force stay", "path", l.path, "err", err)
		return
	}
	l.install(s)
}

func (l *faultLayer) install(s *faultSet) {
	if old := l.set.Swap(s); old.String() != s.String() {
		l.log.Load().Info("fault injection: faults changed", "faults", s.String(), "before", old.String())
	}
}

// wallNow returns now with its wall clock reading shifted by the offset in
// force and its monotonic reading unchanged.
func (l *faultLayer) wallNow(now time.Time) time.Time {
	d := l.current().wallOffset
	if d == 0 || !l.shiftOK.Load() {
		return now
	}
	t, ok := shiftWall(now, d)
	if !ok {
		if l.shiftOK.Swap(false) {
			l.log.Load().Warn("fault injection: cannot shift the wall clock on this Go version; wall_offset is ignored")
		}
		return now
	}
	return t
}

// timeRepr mirrors time.Time's fields (stable since Go 1.9): with a
// monotonic reading, wall holds the wall clock and ext the monotonic one.
type timeRepr struct {
	wall uint64
	ext  int64
	loc  *time.Location
}

// shiftWall returns now with the wall clock d later and the same monotonic
// reading, which no exported time API can build: now.Add(d) moves both,
// then the monotonic reading is put back. It checks the result and says
// false when the layout is not the expected one or now has no monotonic
// reading.
func shiftWall(now time.Time, d time.Duration) (time.Time, bool) {
	if unsafe.Sizeof(now) != unsafe.Sizeof(timeRepr{}) || now == now.Round(0) {
		return now, false
	}
	t := now.Add(d)
	(*timeRepr)(unsafe.Pointer(&t)).ext = (*timeRepr)(unsafe.Pointer(&now)).ext
	if t.Sub(now) != 0 || t.Round(0).Sub(now.Round(0)) != d {
		return now, false
	}
	return t, true
}

// faultyTransport is the Conn's transport under the fault layer: Send
// loses what goes to a member dropped to, Inbox what comes from a member
// dropped from. Lost messages look sent, as on a lossy network.
type faultyTransport struct {
	transport.Transport
	l       *faultLayer
	once    sync.Once
	inbox   chan transport.Message
	dropped atomic.Uint64
}

func (f *faultyTransport) Send(ctx context.Context, to quorum.MemberID, payload []byte) error {
	if f.l.current().dropsTo(to) {
		f.dropped.Add(1)
		return nil
	}
	return f.Transport.Send(ctx, to, payload)
}

// Inbox starts, on first call, the goroutine that filters the wrapped
// transport's Inbox into this one. It ends, and closes this Inbox, when
// the wrapped one is closed (Close). It never blocks the wrapped Inbox: a
// full Inbox drops, as the wrapped one does.
func (f *faultyTransport) Inbox() <-chan transport.Message {
	f.once.Do(func() {
		in := f.Transport.Inbox()
		f.inbox = make(chan transport.Message, max(cap(in), 1))
		go f.filter(in)
	})
	return f.inbox
}

func (f *faultyTransport) filter(in <-chan transport.Message) {
	defer close(f.inbox)
	for m := range in {
		if f.l.current().dropsFrom(m.From) {
			f.dropped.Add(1)
			continue
		}
		select {
		case f.inbox <- m:
		default:
			f.dropped.Add(1)
		}
	}
}

// Stats adds the messages the layer lost to the wrapped transport's
// Dropped.
func (f *faultyTransport) Stats() transport.Stats {
	s := f.Transport.Stats()
	s.Dropped += f.dropped.Load()
	return s
}
