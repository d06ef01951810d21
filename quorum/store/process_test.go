package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Child processes re-exec the test binary into TestHelperProcess with these
// variables set.
const (
	envHelper = "IMSENTINEL_STORE_HELPER" // write | hold
	envDir    = "IMSENTINEL_STORE_DIR"
	envSeed   = "IMSENTINEL_STORE_CRASH_SEED" // replay a TestCrashLoop run
)

// crashRetain is the journal retention the writer child uses, small so that
// trimming happens in most transactions and is interrupted by kills too.
const crashRetain = 40

// helperDeadline bounds a child's life in case its parent vanished without
// closing the pipes.
const helperDeadline = 20 * time.Second

// TestHelperProcess is not a test: it is the child of TestCrashLoop and
// TestLockedByOtherProcess. It reports progress as lines on stdout:
// "open", "committed N", "error: ...".
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		return // run as a test: nothing to do; it works only as a child
	}
	say := func(format string, args ...any) {
		// Unbuffered: once the write returns, the line is in the pipe and
		// survives this process being killed.
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	fail := func(err error) {
		say("error: %v", err)
		os.Exit(3)
	}
	time.AfterFunc(helperDeadline, func() { say("error: helper deadline"); os.Exit(4) })

	opts := testOptions()
	opts.JournalRetain = crashRetain
	s, err := Open(os.Getenv(envDir), opts)
	if err != nil {
		fail(err)
	}
	say("open")
	switch mode {
	case "hold":
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		if err := s.Close(); err != nil {
			fail(err)
		}
		os.Exit(0)
	case "write":
		writeLoop(s, say, fail)
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
}

// writeLoop commits transaction after transaction until killed. Transaction
// n sets the vote, intent, config and highest epoch of cluster "c" to n and
// appends journal entry n, all at once, so that after any crash every bucket
// must agree on the same n.
func writeLoop(s *Store, say func(string, ...any), fail func(error)) {
	var n uint64
	if v, ok, err := s.Vote("c"); err != nil {
		fail(err)
	} else if ok {
		n = v.Epoch
	}
	// Padding makes each transaction dirty several pages, so kills land in
	// the middle of multi-page writes, splits and frees.
	pad := strings.Repeat("x", 3000)
	for {
		n++
		err := s.update(fmt.Sprintf("crash-loop transaction %d", n), func(tx *bolt.Tx) error {
			at := t0.Add(time.Duration(n) * time.Millisecond)
			if err := putVote(tx, Vote{Cluster: "c", Epoch: n, Candidate: "s2", Reason: "failover", GrantedAt: at}); err != nil {
				return err
			}
			if err := putIntent(tx, Intent{Cluster: "c", Epoch: n, Step: "promote", Target: "t", Holder: "s2", At: at}); err != nil {
				return err
			}
			cfg := ClusterConfig{Cluster: "c", Epoch: n, Primary: fmt.Sprintf("p%d:6379", n), CommittedAt: at,
				Settings: map[string]string{"n": strconv.FormatUint(n, 10), "pad": pad}}
			if err := putConfig(tx, cfg); err != nil {
				return err
			}
			seq, err := appendEntry(tx, Entry{At: at, Cluster: "c", Epoch: n, Type: "tick", Detail: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, n, pad))}, s.retain)
			if err != nil {
				return err
			}
			if seq != n {
				return fmt.Errorf("journal seq %d, want %d", seq, n)
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
		say("committed %d", n)
	}
}

// child is a running helper process.
type child struct {
	cmd    *exec.Cmd
	lines  chan string // closed at EOF on the child's stdout
	stdin  io.WriteCloser
	stderr bytes.Buffer
	waited bool
}

// startChild re-execs the test binary as a helper. The test's cleanup kills
// it by pid and reaps it if the test did not.
func startChild(t *testing.T, mode, dir string) *child {
	t.Helper()
	c := &child{lines: make(chan string, 1024)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), envHelper+"="+mode, envDir+"="+dir)
	c.cmd.Stderr = &c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() {
		if !c.waited {
			_ = c.cmd.Process.Kill()
			c.drainAndWait()
		}
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// next returns the child's next line, or fails the test at EOF or after a
// generous deadline (startup on a loaded CI machine).
func (c *child) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			c.drainAndWait()
			t.Fatalf("helper pid %d exited early: %v; stderr:\n%s", c.cmd.Process.Pid, c.cmd.ProcessState, c.stderr.String())
		}
		if strings.HasPrefix(line, "error:") {
			t.Fatalf("helper pid %d: %s", c.cmd.Process.Pid, line)
		}
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("helper pid %d said nothing for 30 s; stderr:\n%s", c.cmd.Process.Pid, c.stderr.String())
	}
	return ""
}

// drainAndWait reads stdout to EOF, then reaps the child. Returns the lines
// read.
func (c *child) drainAndWait() []string {
	var rest []string
	for line := range c.lines {
		rest = append(rest, line)
	}
	if !c.waited {
		c.waited = true
		_ = c.cmd.Wait()
	}
	return rest
}

func TestLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, "hold", dir)
	if line := c.next(t); line != "open" {
		t.Fatalf("helper said %q, want open", line)
	}

	s, err := Open(dir, testOptions())
	if err == nil {
		_ = s.Close()
		t.Fatal("Open while another process holds the data_dir succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open: err = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("data_dir %s is in use by another imsentinel process (pid %d)", dir, c.cmd.Process.Pid)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}

	_ = c.stdin.Close() // the helper closes its store and exits
	if rest := c.drainAndWait(); len(rest) != 0 {
		t.Fatalf("helper said %q on close", rest)
	}
	if !c.cmd.ProcessState.Success() {
		t.Fatalf("helper exited with %v; stderr:\n%s", c.cmd.ProcessState, c.stderr.String())
	}
	s = openT(t, dir, testOptions())
	if s.Fresh() {
		t.Errorf("Fresh() after the helper created the state = true, want false")
	}
}

// TestCrashLoop SIGKILLs a writer at random moments and checks after every
// crash that the state opens, that the buckets agree with each other (every
// transaction wrote them all), that the journal is contiguous and trimmed,
// and that no acknowledged commit was lost. Replay a run with
// IMSENTINEL_STORE_CRASH_SEED=<seed>.
func TestCrashLoop(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSeed); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envSeed, v, err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const iterations = 30
	dir := t.TempDir()
	var acked uint64 // highest n any child reported committed
	// record notes a line from child i; it reports whether it was a commit.
	record := func(i int, c *child, line string) bool {
		t.Helper()
		if strings.HasPrefix(line, "error:") {
			t.Fatalf("iteration %d: helper pid %d: %s", i, c.cmd.Process.Pid, line)
		}
		n, ok := strings.CutPrefix(line, "committed ")
		if !ok {
			return false
		}
		v, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			t.Fatalf("iteration %d: helper line %q", i, line)
		}
		acked = max(acked, v)
		return true
	}
	start := time.Now()
	for i := range iterations {
		c := startChild(t, "write", dir)
		delay := 5*time.Millisecond + time.Duration(rng.Int64N(int64(55*time.Millisecond)))
		// Every fifth child is killed counting from its start, which may
		// land in Open (file creation, the init transaction, the pid
		// file); the others once they have committed at least once.
		fromStart := i%5 == 0
		if !fromStart {
			for !record(i, c, c.next(t)) {
			}
		}
		time.Sleep(delay)
		if err := c.cmd.Process.Kill(); err != nil { // SIGKILL by pid
			t.Fatalf("iteration %d: kill pid %d: %v", i, c.cmd.Process.Pid, err)
		}
		// Every line the child wrote before dying is in the pipe.
		for _, line := range c.drainAndWait() {
			record(i, c, line)
		}
		if ws, ok := c.cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && !ws.Signaled() {
			t.Fatalf("iteration %d: helper exited by itself: %v; stderr:\n%s", i, c.cmd.ProcessState, c.stderr.String())
		}
		n := checkCrashState(t, dir, i, acked)
		t.Logf("iteration %d: killed after %s (from %s), acked %d, found %d",
			i, delay, map[bool]string{true: "start", false: "first commit"}[fromStart], acked, n)
	}
	// Four in five children committed before the kill.
	if acked < iterations*4/5 {
		t.Errorf("after %d iterations only %d transactions were acknowledged, want >= %d", iterations, acked, iterations*4/5)
	}
	t.Logf("%d crash iterations, %d transactions, %s", iterations, acked, time.Since(start).Round(time.Millisecond))
}

// checkCrashState reopens the state left by a killed writer and checks its
// invariants. It returns the transaction number found.
func checkCrashState(t *testing.T, dir string, iter int, acked uint64) uint64 {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("iteration %d (acked %d): %s", iter, acked, fmt.Sprintf(format, args...))
	}
	opts := testOptions()
	opts.JournalRetain = crashRetain
	s, err := Open(dir, opts)
	if err != nil {
		fail("reopen after SIGKILL: %v", err)
	}
	defer s.Close()

	// bbolt's own structural check: no page lost, double-freed or shared.
	_ = s.view("check", func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			fail("bbolt check: %v", err)
		}
		return nil
	})

	var n uint64
	v, ok, err := s.Vote("c")
	if err != nil {
		fail("read vote: %v", err)
	}
	if ok {
		n = v.Epoch
	}
	// At most one commit can have landed after the child's last report:
	// the one it was killed before reporting.
	if n < acked || n > acked+1 {
		fail("vote epoch %d, want %d or %d: an acknowledged commit was lost or a commit came from nowhere", n, acked, acked+1)
	}
	if n == 0 {
		return 0
	}
	in, ok, err := s.Intent("c")
	if err != nil || !ok || in.Epoch != n {
		fail("intent = %+v, %v, %v; want epoch %d like the vote", in, ok, err, n)
	}
	cfg, ok, err := s.Config("c")
	if err != nil || !ok || cfg.Epoch != n || cfg.Primary != fmt.Sprintf("p%d:6379", n) || cfg.Settings["n"] != strconv.FormatUint(n, 10) {
		fail("config = epoch %d primary %s settings n=%s, %v, %v; want epoch and n %d", cfg.Epoch, cfg.Primary, cfg.Settings["n"], ok, err, n)
	}
	if h, err := s.HighestEpoch("c"); err != nil || h != n {
		fail("highest epoch = %d, %v; want %d", h, err, n)
	}
	entries, err := s.Journal(Query{})
	if err != nil {
		fail("read journal: %v", err)
	}
	first := uint64(1)
	if n > crashRetain {
		first = n - crashRetain + 1
	}
	checkContiguous(t, entries, first, n)
	last := entries[len(entries)-1]
	var detail struct{ N uint64 }
	if err := json.Unmarshal(last.Detail, &detail); err != nil || detail.N != n || last.Epoch != n {
		fail("last journal entry = seq %d epoch %d detail n %d (%v); want %d", last.Seq, last.Epoch, detail.N, err, n)
	}
	return n
}
