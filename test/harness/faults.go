package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FaultsFile is the control file of a fault-injection build of imsentinel,
// in each sentinel's Dir. StartSentinel names it in IMSENTINEL_FAULTS for
// every sentinel; a production build never reads it.
const FaultsFile = "faults.json"

// faultsBanner is what a fault-injection build logs at start.
const faultsBanner = "fault injection build: not for production"

// Faults cut a sentinel's fleet links (sentinel/faults_on.go). memberlist's
// own probes are not cut: the sentinels still see each other alive.
type Faults struct {
	// DropTo loses this sentinel's messages to these members.
	DropTo []string
	// DropFrom loses the messages of these members to this sentinel.
	DropFrom []string
	// Isolate loses everything to and from the fleet, push/pull state
	// exchanges included.
	Isolate bool
	// WallOffset shifts the wall clock the sentinel's TILT check reads; the
	// monotonic clock is untouched, so changing it is a clock step.
	WallOffset time.Duration
}

// faultsJSON is the control file's format.
type faultsJSON struct {
	DropTo     []string `json:"drop_to"`
	DropFrom   []string `json:"drop_from"`
	Isolate    bool     `json:"isolate"`
	WallOffset string   `json:"wall_offset"`
}

// FaultsBinary returns $IMSENTINEL_FAULTS_BIN if set (make build-faults:
// bin/imsentinel-faults), else builds ./cmd/imsentinel with -tags faults
// once per test process. Start sentinels with it (SentinelOptions.Binary)
// to use SetFaults.
func FaultsBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMSENTINEL_FAULTS_BIN"); p != "" {
		return p
	}
	return BuildBinary(t, "./cmd/imsentinel", "faults")
}

// FaultsPath is the sentinel's fault control file.
func (s *Sentinel) FaultsPath() string { return filepath.Join(s.Dir, FaultsFile) }

// SetFaults replaces the sentinel's faults (the zero Faults lifts them all)
// by writing its control file atomically; the sentinel takes them up
// within about 100 ms. It first waits for the sentinel to have logged that
// it is a fault-injection build, and fails the test when the sentinel
// started without (use FaultsBinary).
func (s *Sentinel) SetFaults(t testing.TB, f Faults) {
	t.Helper()
	Eventually(t, StartTimeout, "sentinel "+s.Dir+" is a fault-injection build", func() error {
		logs := s.Logs()
		switch {
		case strings.Contains(logs, faultsBanner):
			return nil
		case strings.Contains(logs, "imsentinel started") || s.Exited():
			return stopPolling{fmt.Errorf("it did not log %q: start it with SentinelOptions.Binary = harness.FaultsBinary(t)", faultsBanner)}
		}
		return fmt.Errorf("it has not started yet")
	})
	b, err := json.Marshal(faultsJSON{DropTo: f.DropTo, DropFrom: f.DropFrom, Isolate: f.Isolate,
		WallOffset: f.WallOffset.String()})
	if err != nil {
		t.Fatalf("set faults: %v", err)
	}
	tmp, err := os.CreateTemp(s.Dir, FaultsFile+".*")
	if err != nil {
		t.Fatalf("set faults: %v", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.FaultsPath())
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		t.Fatalf("set faults of %s: %v", s.Dir, err)
	}
}
