package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// Deadlines. Generous on purpose: the e2e suite runs on a loaded 2-core CI box
// (DESIGN.md §8). They bound waits that poll; nothing sleeps for them.
const (
	// StartTimeout bounds waiting for a server to answer after it was started.
	StartTimeout = 60 * time.Second
	// ReplicationTimeout bounds waiting for replication links and catch-up.
	ReplicationTimeout = 60 * time.Second
	// serverStopTimeout bounds a server's graceful SIGTERM stop before SIGKILL.
	serverStopTimeout = 30 * time.Second
	// SentinelStopTimeout bounds an imsentinel's SIGTERM stop; longer is a bug.
	SentinelStopTimeout = 10 * time.Second
	// pollInterval is the pause between two polls of a condition.
	pollInterval = 20 * time.Millisecond
	// logTailLines is how many log lines a failed test prints per sentinel.
	logTailLines = 40
	// serverLogTailLines is the same per server.
	serverLogTailLines = 25
)

// InstallHint is the command that installs every server the harness runs.
const InstallHint = "sudo scripts/install-deps.sh"

// process is the state one test process shares between its tests: a temp dir
// (MariaDB template datadir, built binaries), the children still running,
// and the ports already handed out. Main releases it.
var process = struct {
	tempOnce sync.Once
	temp     string
	tempErr  error

	mu       sync.Mutex
	children map[*proc]struct{}
	ports    map[int]bool

	template onceValue // MariaDB template datadir
	builds   sync.Map  // build key -> *onceValue (binary path)
	buildSeq atomic.Int64
}{
	children: map[*proc]struct{}{},
	ports:    map[int]bool{},
}

// onceValue computes a string once per process; an error is kept and returned
// to every later caller.
type onceValue struct {
	once sync.Once
	v    string
	err  error
}

func (o *onceValue) get(f func() (string, error)) (string, error) {
	o.once.Do(func() { o.v, o.err = f() })
	return o.v, o.err
}

// Main runs the package's tests, then kills any child still registered and
// removes the process temp dir (MariaDB template, built binaries), and exits
// with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	// go-sql-driver prints every reset connection to stderr (notes/mariadb.md
	// gotcha 15); tests kill servers on purpose. Process-global, so set here.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	// go-redis logs every failed dial the same way.
	redis.SetLogger(discardLogger{})
	removeStaleTemps()
	code := m.Run()
	killAll()
	if process.temp != "" {
		if err := os.RemoveAll(process.temp); err != nil {
			fmt.Fprintf(os.Stderr, "harness: remove %s: %v\n", process.temp, err)
		}
	}
	os.Exit(code)
}

// discardLogger drops go-redis's internal log lines.
type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// killAll SIGKILLs and reaps every child still registered.
func killAll() {
	process.mu.Lock()
	ps := make([]*proc, 0, len(process.children))
	for p := range process.children {
		ps = append(ps, p)
	}
	process.mu.Unlock()
	for _, p := range ps {
		fmt.Fprintf(os.Stderr, "harness: %s still running after the tests, killing it\n", p.name)
		if err := p.kill(); err != nil {
			fmt.Fprintf(os.Stderr, "harness: %v\n", err)
		}
	}
}

const tempPrefix = "imsentinel-harness-"

// processTemp returns this process's temp dir, creating it on first use.
func processTemp() (string, error) {
	process.tempOnce.Do(func() {
		process.temp, process.tempErr = os.MkdirTemp("", fmt.Sprintf("%s%d-", tempPrefix, os.Getpid()))
	})
	return process.temp, process.tempErr
}

// removeStaleTemps removes process temp dirs left by test processes that died
// without reaching Main's cleanup (a panic in a test ends the process before
// m.Run returns). Only dirs whose owning PID no longer exists are touched.
func removeStaleTemps() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), tempPrefix)
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(d)
		}
	}
}

// lookBin finds an executable in PATH, then in the sbin directories:
// mariadbd lives in /usr/sbin, which a non-root PATH may lack.
func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	extraBinDirs := []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}
	for _, d := range extraBinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(extraBinDirs, ", "))
}

// debianPackage names the Debian package that provides a binary (as
// scripts/install-deps.sh does).
func debianPackage(bin string) string {
	switch bin {
	case "redis-cli":
		return "redis-tools"
	case "mariadbd", "mariadb-install-db":
		return "mariadb-server"
	case "mariadb":
		return "mariadb-client"
	default: // redis-server, redis-sentinel
		return bin
	}
}

// Require skips the test when one of bins is missing, naming the command that
// installs it; with CI=true in the environment it fails the test instead
// (DESIGN.md §8: under CI a missing server is a failure, never a skip).
func Require(t testing.TB, bins ...string) {
	t.Helper()
	fail, msg := requireDecision(os.Getenv("CI"), lookBin, bins)
	switch {
	case msg == "":
	case fail:
		t.Fatalf("%s", msg)
	default:
		t.Skipf("%s", msg)
	}
}

// requireDecision says what Require does: msg is empty when every binary is
// found; otherwise msg names the missing binaries and the install command,
// and fail is true when ci (the CI environment variable) is true.
func requireDecision(ci string, look func(string) (string, error), bins []string) (fail bool, msg string) {
	var missing, pkgs []string
	seen := map[string]bool{}
	for _, b := range bins {
		if _, err := look(b); err == nil {
			continue
		}
		missing = append(missing, b)
		p := debianPackage(b)
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	if len(missing) == 0 {
		return false, ""
	}
	inCI, _ := strconv.ParseBool(ci)
	msg = fmt.Sprintf("missing %s; install with: %s (or: sudo apt-get install -y %s)",
		strings.Join(missing, ", "), InstallHint, strings.Join(pkgs, " "))
	if inCI {
		msg += " [CI=true: a missing server fails the test]"
	}
	return inCI, msg
}

// FreePort returns a loopback port that is free for both TCP and UDP
// (memberlist needs both) and that this process has not handed out before.
// Ports come from below the kernel's ephemeral range, so outgoing
// connections do not take them between this call and the server's bind.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	lo, hi := 15000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	useKernel := hi-lo < 1000
	for range 1000 {
		port := 0
		if !useKernel {
			port = lo + rand.IntN(hi-lo)
		}
		got, err := tryPort(port)
		if err != nil {
			continue
		}
		process.mu.Lock()
		used := process.ports[got]
		process.ports[got] = true
		process.mu.Unlock()
		if !used {
			return got, nil
		}
	}
	return 0, errors.New("no free port after 1000 tries")
}

// tryPort binds port (0 = kernel's choice) on 127.0.0.1 for TCP and UDP and
// releases both.
func tryPort(port int) (int, error) {
	l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	port = l.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return 0, err
	}
	u.Close()
	return port, nil
}

// Eventually polls cond until it returns nil, failing the test with what and
// cond's last error when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// poll calls cond every pollInterval until it returns nil or timeout passes;
// it returns cond's last error then.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop stopPolling
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// stopPolling wraps an error that makes poll give up at once (the process
// being waited for has exited).
type stopPolling struct{ err error }

func (s stopPolling) Error() string { return s.err.Error() }

// tailFile returns the last n lines of a file, or a note saying why not.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return tailLines(b, n)
}

func tailLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return "(empty)"
	}
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
