package failover

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// imctl runs the real imctl against the fleet (every sentinel listed, the
// first that answers is used) and returns its stdout, stderr and exit code.
func (e *env) imctl(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	var addrs []string
	for _, m := range e.members {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", m.admin))
	}
	cmd := exec.Command(harness.ImctlBinary(e.t), args...)
	cmd.Env = append(cmd.Environ(), "IMCTL_SENTINEL="+strings.Join(addrs, ","), "IMCTL_ROUTING="+e.routing.Addr,
		"IMCTL_TOKEN="+e.o.token)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run imctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// imctl against a real fleet: status, cluster show, sentinels, route get,
// a failover dry run with the ranking, a failover refused at the
// confirmation question, then confirmed, and events.
func TestImctlAgainstARealFleet(t *testing.T) {
	e := start(t, opts{token: testToken})
	defer e.dumpLogs()
	seedEpoch := e.waitRoute("the steward routes the seed primary", e.top.Primary.Addr, 0)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"status"}, []string{"sessions", "redis", e.top.Primary.Addr, e.top.Replicas[0].Addr}},
		{[]string{"cluster", "show", "sessions"}, []string{e.top.Primary.Addr, e.top.Replicas[1].Addr}},
		{[]string{"sentinels"}, []string{"s1", "s2", "s3"}},
		{[]string{"route", "get", "sessions"}, []string{e.top.Primary.Addr, "e2e"}},
		{[]string{"status", "-o", "json"}, []string{`"clusters"`, `"primary"`}},
	} {
		out, errOut, code := e.imctl("", tc.args...)
		if code != 0 {
			t.Errorf("imctl %v: exit %d: %s", tc.args, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("imctl %v does not show %q:\n%s", tc.args, w, out)
			}
		}
	}
	if _, errOut, code := e.imctl("", "cluster", "show", "nosuch"); code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Errorf("unknown cluster: exit %d, %s", code, errOut)
	}

	to := e.top.Replicas[0]
	out, errOut, code := e.imctl("", "failover", "sessions", "--to", to.Addr, "--dry-run")
	if code != 0 || !strings.Contains(out, to.Addr) || !strings.Contains(out+errOut, "WARNING") {
		t.Errorf("failover --dry-run: exit %d, want the plan, the ranking and warnings:\n%s\n%s", code, out, errOut)
	}
	if _, errOut, code := e.imctl("no\n", "failover", "sessions", "--to", to.Addr); code == 0 {
		t.Errorf("failover answered no: exit 0, want a failure:\n%s", errOut)
	}
	if r, _ := role(to); r != "slave" {
		t.Fatalf("an unconfirmed failover promoted %s", to.Addr)
	}
	out, errOut, code = e.imctl("yes\n", "failover", "sessions", "--to", to.Addr)
	if code != 0 || !strings.Contains(out, "promote") {
		t.Errorf("confirmed failover: exit %d:\n%s\n%s", code, out, errOut)
	}
	e.waitRouteOf(e.o.cluster, "the route names the chosen replica", to.Addr, seedEpoch)
	if out, errOut, code := e.imctl("", "events", "--cluster", "sessions", "--limit", "1000"); code != 0 || !strings.Contains(out, "failover-done") {
		t.Errorf("events: exit %d, no failover-done:\n%s\n%s", code, out, errOut)
	}

	// events --follow streams what happens next: a replica's SDOWN.
	follow := exec.Command(harness.ImctlBinary(t), "events", "--follow", "--cluster", "sessions")
	follow.Env = append(follow.Environ(), fmt.Sprintf("IMCTL_SENTINEL=127.0.0.1:%d", e.members[0].admin))
	stream, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { follow.Process.Kill(); follow.Wait() }()
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stream)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "sdown") && strings.Contains(sc.Text(), e.top.Replicas[1].Addr) {
				close(seen)
				break
			}
		}
		io.Copy(io.Discard, stream)
	}()
	e.top.Replicas[1].Kill(t)
	select {
	case <-seen:
	case <-time.After(deadline):
		t.Errorf("imctl events --follow showed no sdown of %s", e.top.Replicas[1].Addr)
	}
}
