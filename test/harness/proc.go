package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process the harness starts, possibly several times
// (Restart). A goroutine per run calls Wait(), so the exit is seen at once and
// the PID is reaped by us; signals go to the PID of the current run only.
type proc struct {
	name    string   // for messages: "redis 127.0.0.1:6379"
	bin     string   // executable path
	args    []string // arguments of every run
	env     []string // nil = inherit
	dir     string   // working directory
	outPath string   // stdout and stderr, appended across runs
	quiet   bool     // no harness banner line in outPath before each run

	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{} // closed when the current run's Wait returned
	state      *os.ProcessState
	expected   bool // the harness caused the current run's exit
	paused     bool
	unexpected []string // descriptions of exits the harness did not cause
	runArgs    []string // extra args for the current run only
}

// pdeathsig makes a child die with the test binary (SIGKILL when the parent
// goes) and puts it in its own process group, so a terminal's ^C reaches the
// harness rather than the servers.
func pdeathsig() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

var errNotRunning = errors.New("not running")

// start starts a new run with p.args followed by extra.
func (p *proc) start(extra ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("start %s: already running as pid %d", p.name, p.cmd.Process.Pid)
	}
	out, err := os.OpenFile(p.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	defer out.Close() // the child holds its own copy
	if !p.quiet {
		fmt.Fprintf(out, "=== harness %s: %s %s\n", time.Now().Format(time.RFC3339Nano), p.bin, strings.Join(append(append([]string(nil), p.args...), extra...), " "))
	}
	cmd := exec.Command(p.bin, append(append([]string(nil), p.args...), extra...)...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = pdeathsig()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.state, p.expected, p.paused, p.runArgs = cmd, done, nil, false, false, extra
	process.mu.Lock()
	process.children[p] = struct{}{}
	process.mu.Unlock()
	go p.wait(cmd, done)
	return nil
}

// wait reaps one run and records how it ended.
func (p *proc) wait(cmd *exec.Cmd, done chan struct{}) {
	_ = cmd.Wait()
	p.mu.Lock()
	p.state = cmd.ProcessState
	if !p.expected {
		p.unexpected = append(p.unexpected, fmt.Sprintf("%s (pid %d) exited on its own at %s: %v",
			p.name, cmd.Process.Pid, time.Now().Format("15:04:05.000"), cmd.ProcessState))
	}
	p.mu.Unlock()
	process.mu.Lock()
	delete(process.children, p)
	process.mu.Unlock()
	close(done)
}

// current returns the current run's command and done channel (nil if never
// started).
func (p *proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

func (p *proc) pid() int {
	cmd, _ := p.current()
	if cmd == nil {
		return 0
	}
	return cmd.Process.Pid
}

func (p *proc) exited() bool {
	_, done := p.current()
	return done == nil || isClosed(done)
}

// doneCh is closed when the current run has exited.
func (p *proc) doneCh() <-chan struct{} {
	_, done := p.current()
	if done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return done
}

// exitCode is the current run's exit code: -1 while running or when it was
// ended by a signal.
func (p *proc) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// exitState describes how the current run ended ("" while it runs).
func (p *proc) exitState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return ""
	}
	return p.state.String()
}

// signal sends sig to the current run; expect marks the exit as caused by
// the harness.
func (p *proc) signal(sig syscall.Signal, expect bool) (chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return p.done, fmt.Errorf("signal %s %v: %w", p.name, sig, errNotRunning)
	}
	if expect {
		p.expected = true
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return p.done, fmt.Errorf("signal %s (pid %d) %v: %w", p.name, p.cmd.Process.Pid, sig, err)
	}
	return p.done, nil
}

// kill sends SIGKILL and waits for the exit. Not running is not an error.
func (p *proc) kill() error {
	done, err := p.signal(syscall.SIGKILL, true)
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(serverStopTimeout):
		return fmt.Errorf("kill %s (pid %d): still not reaped after %v", p.name, p.pid(), serverStopTimeout)
	}
}

// errStopTimeout means a process ignored SIGTERM for the whole timeout and was
// SIGKILLed.
var errStopTimeout = errors.New("did not exit on SIGTERM")

// stop sends SIGTERM (and SIGCONT, in case it is paused) and waits up to
// timeout, then SIGKILLs and returns errStopTimeout. Not running is not an
// error.
func (p *proc) stop(timeout time.Duration) error {
	done, err := p.signal(syscall.SIGTERM, true)
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	_, _ = p.signal(syscall.SIGCONT, true)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
	}
	pid := p.pid()
	if err := p.kill(); err != nil {
		return err
	}
	return fmt.Errorf("stop %s (pid %d): %w within %v, SIGKILLed", p.name, pid, errStopTimeout, timeout)
}

// pause SIGSTOPs the current run and waits until the kernel shows it stopped.
func (p *proc) pause() error {
	if _, err := p.signal(syscall.SIGSTOP, false); err != nil {
		return err
	}
	pid := p.pid()
	return poll(10*time.Second, func() error {
		if st := procState(pid); st != "T" && st != "t" {
			return fmt.Errorf("pause %s (pid %d): state %q, want T", p.name, pid, st)
		}
		return nil
	})
}

// resume SIGCONTs the current run and waits until it is no longer stopped.
func (p *proc) resume() error {
	if _, err := p.signal(syscall.SIGCONT, false); err != nil {
		return err
	}
	pid := p.pid()
	return poll(10*time.Second, func() error {
		if st := procState(pid); st == "T" || st == "t" {
			return fmt.Errorf("resume %s (pid %d): still stopped", p.name, pid)
		}
		return nil
	})
}

// procState is the one-letter state from /proc/PID/stat ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// unexpectedExits lists exits the harness did not cause.
func (p *proc) unexpectedExits() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.unexpected...)
}

// errIfExited returns a stopPolling error when the current run has exited,
// so a wait for readiness gives up at once; logPath's tail is included.
func (p *proc) errIfExited(logPath string) error {
	if !p.exited() {
		return nil
	}
	return stopPolling{fmt.Errorf("%s exited while starting (%s); log tail:\n%s", p.name, p.exitState(), tailFile(logPath, logTailLines))}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lifecycle gives Redis, MariaDB and Sentinel the methods every child has.
// Restart differs by kind and stays with each; Sentinel has its own Stop.
type lifecycle struct{ p *proc }

// Stop sends SIGTERM and waits (30 s, then SIGKILL and fail).
func (l lifecycle) Stop(t testing.TB) {
	t.Helper()
	if err := l.p.stop(serverStopTimeout); err != nil {
		t.Fatalf("%v", err)
	}
}

// PID of the current run.
func (l lifecycle) PID() int { return l.p.pid() }

// Exited reports whether the current run has ended.
func (l lifecycle) Exited() bool { return l.p.exited() }

// Done is closed when the current run ends.
func (l lifecycle) Done() <-chan struct{} { return l.p.doneCh() }

// Kill sends SIGKILL and waits for the exit.
func (l lifecycle) Kill(t testing.TB) {
	t.Helper()
	if err := l.p.kill(); err != nil {
		t.Fatalf("%v", err)
	}
}

// Pause SIGSTOPs the process and waits until it is stopped.
func (l lifecycle) Pause(t testing.TB) {
	t.Helper()
	if err := l.p.pause(); err != nil {
		t.Fatalf("%v", err)
	}
}

// Resume SIGCONTs the process.
func (l lifecycle) Resume(t testing.TB) {
	t.Helper()
	if err := l.p.resume(); err != nil {
		t.Fatalf("%v", err)
	}
}
