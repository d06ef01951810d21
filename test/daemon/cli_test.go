package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/test/harness"
)

// runBin runs a binary to completion and returns its output and exit code.
func runBin(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("run %s %v: %v", bin, args, err)
	return "", -1
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVersion(t *testing.T) {
	for _, bin := range []string{harness.ImsentinelBinary(t), harness.ImctlBinary(t)} {
		out, code := runBin(t, bin, nil, "--version")
		name := filepath.Base(bin)
		if code != 0 || !strings.HasPrefix(out, name+" ") || !strings.Contains(out, "commit ") {
			t.Errorf("%s --version = %q (exit %d), want %q with a version and commit", bin, out, code, name+" <version> (commit …)")
		}
	}
}

// check-config and imctl config check validate offline with the same code:
// exit 0 for a valid file, 2 with every problem by key path.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", fleetConfig(t, harness.FreePort(t), t.TempDir())+`
clusters: [{name: c1, kind: redis, primary: "127.0.0.1:6390", quorum: 1}]
`)
	bad := writeFile(t, dir, "bad.yaml", `
sentinel: {id: s9, data_dir: /tmp/x}
fleet: {name: f, members: [{id: s1, address: "127.0.0.1:7001"}]}
gossip: {bind: "127.0.0.1:7001"}
detection: {probe_interval: 200ms, probe_timeout: 300ms, min_down_after: 1s}
clusters:
  - {name: c1, kind: redis, primary: "127.0.0.1:6390", quorum: 3, quorom: 1}
`)
	wantBad := []string{
		"bad.yaml: invalid config: 4 problems",
		"clusters[0].quorom: unknown key (did you mean quorum?)",
		`sentinel.id: "s9" is not in fleet.members`,
		"detection.probe_timeout: 300ms must be shorter than detection.probe_interval (200ms)",
		"clusters[0].quorum: 3 is more than the 1 fleet.members",
	}
	daemon, ctl := harness.ImsentinelBinary(t), harness.ImctlBinary(t)
	for _, c := range []struct {
		name string
		args func(file string) (string, []string)
	}{
		{"imsentinel check-config", func(f string) (string, []string) { return daemon, []string{"check-config", "--config", f} }},
		{"imctl config check", func(f string) (string, []string) { return ctl, []string{"config", "check", f} }},
	} {
		bin, args := c.args(good)
		if out, code := runBin(t, bin, nil, args...); code != 0 || !strings.Contains(out, "valid") {
			t.Errorf("%s good.yaml = exit %d %q, want 0 and valid", c.name, code, out)
		}
		bin, args = c.args(bad)
		out, code := runBin(t, bin, nil, args...)
		if code != 2 {
			t.Errorf("%s bad.yaml exit = %d, want 2\n%s", c.name, code, out)
		}
		for _, w := range wantBad {
			if !strings.Contains(out, w) {
				t.Errorf("%s bad.yaml output lacks %q:\n%s", c.name, w, out)
			}
		}
	}
	// The daemon itself refuses to start on the bad file, with the same list.
	out, code := runBin(t, daemon, nil, "--config", bad)
	if code != 2 || !strings.Contains(out, wantBad[1]) {
		t.Errorf("imsentinel --config bad.yaml = exit %d, want 2 with the problems:\n%s", code, out)
	}
}

// --print-config shows the effective config (flag > env > file) with
// secrets redacted, whether they came from the file, a *_file or env.
func TestPrintConfigRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	const token, routingPass, key = "admintoken-271828", "routingpass-314159", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	pw := writeFile(t, dir, "routing.pw", routingPass+"\n")
	cfg := writeFile(t, dir, "c.yaml", fleetConfig(t, harness.FreePort(t), t.TempDir())+fmt.Sprintf(`
routing: {password_file: %s}
clusters: [{name: c1, kind: redis, primary: "127.0.0.1:6390", quorum: 1}]
`, pw))
	out, code := runBin(t, harness.ImsentinelBinary(t),
		[]string{"IMSENTINEL_ADMIN_TOKEN=" + token, "IMSENTINEL_GOSSIP_ENCRYPTION_KEY=" + key, "IMSENTINEL_LOG_LEVEL=warn"},
		"--config", cfg, "--print-config", "--log-level", "error")
	if code != 0 {
		t.Fatalf("--print-config exit %d:\n%s", code, out)
	}
	for _, secret := range []string{token, routingPass, key} {
		if strings.Contains(out, secret) {
			t.Errorf("--print-config shows secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"token: <redacted>", "password: <redacted>", "encryption_key: <redacted>", "level: error"} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
}

// A second daemon on the same data_dir fails fast (exit 1) naming the
// holder, and the first keeps running; SIGINT stops it cleanly too.
func TestSecondDaemonOnSameDataDir(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{})
	dataDir := t.TempDir()
	cfgText := func(admin int) string {
		return fleetConfig(t, admin, dataDir) +
			fmt.Sprintf("clusters: [{name: c1, kind: redis, primary: %q, quorum: 1}]\n", r.Addr)
	}
	admin := harness.FreePort(t)
	first := daemon{harness.StartSentinel(t, harness.SentinelOptions{Config: cfgText(admin)}), admin}
	first.waitInstance(t, "c1", r.Addr, "first daemon probing", up(probe.RolePrimary))

	second := harness.StartSentinel(t, harness.SentinelOptions{Config: cfgText(harness.FreePort(t))})
	code := second.WaitExit(t, 30*time.Second)
	if code != 1 || !strings.Contains(second.Logs(), fmt.Sprintf("in use by another imsentinel process (pid %d)", first.PID())) {
		t.Errorf("second daemon: exit %d, want 1 naming pid %d:\n%s", code, first.PID(), second.Logs())
	}
	if first.Exited() {
		t.Fatalf("first daemon exited:\n%s", first.Logs())
	}
	if err := syscall.Kill(first.PID(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := first.WaitExit(t, 30*time.Second); code != 0 {
		t.Errorf("exit after SIGINT = %d, want 0:\n%s", code, first.Logs())
	}
}
