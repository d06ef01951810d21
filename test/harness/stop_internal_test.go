package harness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A child that ignores SIGTERM is SIGKILLed after the timeout and reported.
func TestStopTimeoutKills(t *testing.T) {
	bin := BuildBinary(t, "./test/harness/testdata/fakesentinel")
	dir := t.TempDir()
	p := &proc{name: "fake", bin: bin, dir: dir, outPath: filepath.Join(dir, "out.log"),
		env: append(os.Environ(), "FAKE_IGNORE_TERM=1")}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.kill() })
	// Let it install its signal handling before SIGTERM.
	Eventually(t, 30*time.Second, "fake started", func() error {
		b, _ := os.ReadFile(p.outPath)
		if !strings.Contains(string(b), "fakesentinel started") {
			return errors.New("not started yet")
		}
		return nil
	})
	start := time.Now()
	err := p.stop(500 * time.Millisecond)
	if !errors.Is(err, errStopTimeout) {
		t.Fatalf("stop of a SIGTERM-ignoring child: err = %v, want errStopTimeout", err)
	}
	if !p.exited() {
		t.Fatalf("child still running after stop returned")
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("stop returned after %v, before its timeout", d)
	}
	if len(p.unexpectedExits()) != 0 {
		t.Fatalf("a harness-caused exit was recorded as unexpected: %v", p.unexpectedExits())
	}
}

// An exit the harness did not cause is recorded.
func TestUnexpectedExitNoticed(t *testing.T) {
	bin := BuildBinary(t, "./test/harness/testdata/fakesentinel")
	dir := t.TempDir()
	p := &proc{name: "fake", bin: bin, dir: dir, outPath: filepath.Join(dir, "out.log"),
		env: append(os.Environ(), "FAKE_EXIT=2")}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.doneCh():
	case <-time.After(30 * time.Second):
		t.Fatal("fake did not exit")
	}
	if p.exitCode() != 2 || len(p.unexpectedExits()) != 1 {
		t.Fatalf("exitCode=%d unexpected=%v; want 2 and one entry", p.exitCode(), p.unexpectedExits())
	}
}
