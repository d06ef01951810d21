package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// SentinelOptions says how to start one imsentinel.
type SentinelOptions struct {
	// Config is the YAML text written to Dir/imsentinel.yaml.
	Config string
	// Args follow "--config <path>" on the command line.
	Args []string
	// Env entries ("K=V") are added to the test process's environment.
	Env []string
	// Dir is the sentinel's directory and working directory, so relative
	// paths in Config land there. "" = a new t.TempDir(); set it (from your
	// own t.TempDir()) to name paths in Config or to start a second sentinel
	// on an existing data dir.
	Dir string
	// Binary is the executable; "" = ImsentinelBinary(t).
	Binary string
}

// Sentinel is a running (or ended) imsentinel child.
type Sentinel struct {
	Dir        string
	ConfigPath string // Dir/imsentinel.yaml; Restart reads it again
	LogPath    string // stdout and stderr, appended across restarts

	lifecycle
}

// StartSentinel writes o.Config and runs `imsentinel --config <path>
// <Args...>` with stdout and stderr going to LogPath. It does not wait for
// readiness: poll the admin API. At cleanup a still-running sentinel gets
// SIGTERM, and the test fails if it has not exited within
// SentinelStopTimeout; when the test failed, the log's last lines are logged.
func StartSentinel(t testing.TB, o SentinelOptions) *Sentinel {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = ImsentinelBinary(t)
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Sentinel{Dir: dir, ConfigPath: filepath.Join(dir, "imsentinel.yaml"), LogPath: filepath.Join(dir, "imsentinel.log")}
	if err := os.WriteFile(s.ConfigPath, []byte(o.Config), 0o644); err != nil {
		t.Fatalf("start sentinel: write config: %v", err)
	}
	s.p = &proc{
		name:    "imsentinel " + dir,
		bin:     bin,
		args:    append([]string{"--config", s.ConfigPath}, o.Args...),
		env:     append(append(os.Environ(), "IMSENTINEL_FAULTS="+filepath.Join(dir, FaultsFile)), o.Env...),
		dir:     dir,
		outPath: s.LogPath,
		quiet:   true,
	}
	t.Cleanup(func() { s.cleanup(t) })
	if err := s.p.start(); err != nil {
		t.Fatalf("%v", err)
	}
	return s
}

func (s *Sentinel) cleanup(t testing.TB) {
	if err := s.p.stop(SentinelStopTimeout); err != nil {
		t.Errorf("cleanup: %v (a daemon that does not stop on SIGTERM is a bug)", err)
	}
	for _, e := range s.p.unexpectedExits() {
		t.Logf("harness: %s", e)
	}
	if t.Failed() {
		t.Logf("harness: %s log tail:\n%s", s.p.name, tailFile(s.LogPath, logTailLines))
	}
}

// ExitCode is the current run's exit code; -1 while it runs or when a signal
// ended it.
func (s *Sentinel) ExitCode() int { return s.p.exitCode() }

// WaitExit waits up to timeout for the current run to end on its own and
// returns its exit code; it fails the test on timeout.
func (s *Sentinel) WaitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.p.doneCh():
		return s.p.exitCode()
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) still running after %v", s.p.name, s.p.pid(), timeout)
		return -1
	}
}

// Logs returns everything the sentinel wrote to stdout and stderr so far.
func (s *Sentinel) Logs() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// Stop sends SIGTERM and waits up to SentinelStopTimeout; then it SIGKILLs
// and fails the test: a daemon that does not stop on SIGTERM is a bug.
func (s *Sentinel) Stop(t testing.TB) {
	t.Helper()
	if err := s.p.stop(SentinelStopTimeout); err != nil {
		t.Errorf("%v", err)
	}
}

// Restart starts the sentinel again with the same binary, arguments, Dir
// and config file (rewrite ConfigPath first to change it). A running
// sentinel is stopped first as by Stop. It does not wait for readiness.
func (s *Sentinel) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	if err := s.p.start(); err != nil {
		t.Fatalf("%v", err)
	}
}

// ImsentinelBinary returns $IMSENTINEL_BIN if set, else builds ./cmd/imsentinel
// once per test process into the process temp dir.
func ImsentinelBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMSENTINEL_BIN"); p != "" {
		return p
	}
	return BuildBinary(t, "./cmd/imsentinel")
}

// ImctlBinary returns $IMCTL_BIN if set, else builds ./cmd/imctl once per
// test process.
func ImctlBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("IMCTL_BIN"); p != "" {
		return p
	}
	return BuildBinary(t, "./cmd/imctl")
}

// BuildBinary runs `go build` on pkg (a path relative to the module root,
// e.g. "./cmd/imsentinel") with the given build tags, once per process and
// (pkg, tags), into the process temp dir, and returns the executable. It
// builds with -race when the test binary was.
func BuildBinary(t testing.TB, pkg string, tags ...string) string {
	t.Helper()
	key := pkg + "\x00" + strings.Join(tags, ",")
	v, _ := process.builds.LoadOrStore(key, &onceValue{})
	bin, err := v.(*onceValue).get(func() (string, error) { return buildBinary(pkg, tags) })
	if err != nil {
		t.Fatalf("%v", err)
	}
	return bin
}

func buildBinary(pkg string, tags []string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	tmp, err := processTemp()
	if err != nil {
		return "", err
	}
	outDir := filepath.Join(tmp, fmt.Sprintf("bin%d", process.buildSeq.Add(1)))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(pkg))
	args := []string{"build", "-o", out}
	if raceEnabled() {
		args = append(args, "-race")
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, pkg)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	cmd.SysProcAttr = pdeathsig()
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: go %s (in %s): %v\n%s", pkg, strings.Join(args, " "), root, err, b)
	}
	if d := time.Since(start); d > 10*time.Second {
		fmt.Fprintf(os.Stderr, "harness: go build %s took %v\n", pkg, d.Round(time.Millisecond))
	}
	return out, nil
}

// moduleRoot is the directory of the go.mod the test runs in.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: go env GOMOD: %w", err)
	}
	gomod := string(bytes.TrimSpace(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// goTool is the go command: from PATH, else $GOROOT/bin/go.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// AdminGet asks an imsentinel's admin API on 127.0.0.1:port for path and
// decodes the JSON answer into into; a non-200 answer is an error with its
// body. Each call is bounded (5 s), so a stopped daemon cannot hang a poll.
func AdminGet(port int, path string, into any) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, into)
}
