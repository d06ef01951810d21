//go:build faults

package sentinel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Crash injection for end-to-end tests (issue 4 (e): the leader killed
// right after promotion). In a faults build, IMSENTINEL_CRASH_AFTER_STEP
// names an executor step and IMSENTINEL_CRASH_MARKER a file: the first
// process of the fleet to finish that step creates the marker (O_EXCL, so
// only one wins) and kills itself with SIGKILL, as kill -9 would, before
// anything else of its task runs. With IMSENTINEL_CRASH_SIGNAL=STOP it
// sends itself SIGSTOP instead, as a host freeze would, and carries on
// where it was once a SIGCONT resumes it. The marker holds the pid. A
// production build has none of this (crash_off.go).
const (
	envCrashAfterStep = "IMSENTINEL_CRASH_AFTER_STEP"
	envCrashMarker    = "IMSENTINEL_CRASH_MARKER"
	envCrashSignal    = "IMSENTINEL_CRASH_SIGNAL"
)

// faultCrashAfter kills this process if the test asked for a crash after
// step and no other process has crashed for it yet.
func faultCrashAfter(step string) {
	want, marker := os.Getenv(envCrashAfterStep), os.Getenv(envCrashMarker)
	if want == "" || want != step || marker == "" {
		return
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) || err != nil {
		return // another process crashed for it already (or the marker cannot be made)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	f.Sync()
	f.Close()
	if os.Getenv(envCrashSignal) == "STOP" {
		syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		return
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught: nothing runs after it
}
