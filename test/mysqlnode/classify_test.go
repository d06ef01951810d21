package mysqlnode_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// classifyPosition reads the position and classifies the outcome.
func classifyPosition(t *testing.T, n *mysqlnode.Node) (mysqlnode.Reachability, error, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := n.Position(callCtx(t))
	return mysqlnode.Classify(err), err, time.Since(start)
}

// TestClassifyRefusedWhenStopped (DESIGN.md §6.3: "refuses connections"):
// after the server stopped, calls are Refused, never Answered, and fail
// fast; after a restart they are answered again.
func TestClassifyRefusedWhenStopped(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	n := open(t, m)
	if got, err, _ := classifyPosition(t, n); got != mysqlnode.Answered {
		t.Fatalf("before the stop: %v (%v), want answered", got, err)
	}

	m.Stop(t)
	first, err, took := classifyPosition(t, n)
	t.Logf("first call after the stop: %v in %v (%v)", first, took, err)
	if first == mysqlnode.Answered || first == mysqlnode.Failed {
		t.Fatalf("first call after the stop: %v (%v), want refused or unreachable", first, err)
	}
	harness.Eventually(t, waitTimeout, "calls to a stopped server are refused", func() error {
		got, err, took := classifyPosition(t, n)
		if got != mysqlnode.Refused {
			return fmt.Errorf("%v after %v: %v", got, took, err)
		}
		if took > nodeTimeout {
			return fmt.Errorf("refused only after %v (timeout %v)", took, nodeTimeout)
		}
		return nil
	})

	m.Restart(t)
	if got, err, took := classifyPosition(t, n); got != mysqlnode.Answered {
		t.Errorf("first call after the restart: %v in %v (%v), want answered", got, took, err)
	}
}

// TestClassifyRefusedWhenKilled: the same after SIGKILL, for a node that
// never connected before.
func TestClassifyRefusedWhenKilled(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	m.Kill(t)
	if got, err, took := classifyPosition(t, open(t, m)); got != mysqlnode.Refused {
		t.Errorf("first call to a killed server: %v in %v (%v), want refused", got, took, err)
	}
}

// TestClassifyUnreachableWhenPaused: a hung server (SIGSTOP) still accepts
// TCP connections in the kernel but never answers: Unreachable after about
// the node's timeout, on an open session and on a new one (whose handshake
// never comes). After SIGCONT it answers.
func TestClassifyUnreachableWhenPaused(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	const short = 300 * time.Millisecond
	opts := mysqlnode.Options{Address: m.Addr, Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword, Timeout: short}
	connected := mysqlnode.Open(opts)
	defer connected.Close()
	if got, err, _ := classifyPosition(t, connected); got != mysqlnode.Answered {
		t.Fatalf("before the pause: %v (%v), want answered", got, err)
	}

	m.Pause(t)
	fresh := mysqlnode.Open(opts)
	defer fresh.Close()
	for _, c := range []struct {
		name string
		n    *mysqlnode.Node
	}{{"open session", connected}, {"new session", fresh}} {
		got, err, took := classifyPosition(t, c.n)
		t.Logf("%s to a paused server: %v in %v (%v)", c.name, got, took, err)
		if got != mysqlnode.Unreachable {
			t.Errorf("%s to a paused server: %v (%v), want unreachable", c.name, got, err)
		}
		if took < short || took > callTimeout {
			t.Errorf("%s to a paused server failed after %v, want about the %v timeout", c.name, took, short)
		}
	}

	m.Resume(t)
	harness.Eventually(t, waitTimeout, "a resumed server answers", func() error {
		if got, err, _ := classifyPosition(t, connected); got != mysqlnode.Answered {
			return fmt.Errorf("%v: %v", got, err)
		}
		return nil
	})
}

// TestClassifyFailedOnWrongPassword: a denied login is the server's answer
// (error 1045): Failed, the server is there and said no.
func TestClassifyFailedOnWrongPassword(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	for pw, want := range map[string]mysqlnode.Reachability{harness.MariaDBAdminPassword: mysqlnode.Answered, "wrong": mysqlnode.Failed, "": mysqlnode.Failed} {
		n := mysqlnode.Open(mysqlnode.Options{Address: m.Addr, Username: harness.MariaDBAdminUser, Password: pw, Timeout: nodeTimeout})
		if got, err, _ := classifyPosition(t, n); got != want {
			t.Errorf("password %q: %v (%v), want %v", pw, got, err, want)
		}
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// TestStopIOThreadWithHungPrimary (DESIGN.md §6.1, §6.3): the first step
// of a failover away from a hung (SIGSTOPped) primary succeeds with the
// default timeout (1 s). An asynchronous replica stops at once; a MariaDB
// semi-sync replica first connects to the primary to kill its binlog dump
// thread and gives up after its rpl_semi_sync_slave_kill_conn_timeout
// (2 s measured with the default 5), which StopIOThread allows for.
func TestStopIOThreadWithHungPrimary(t *testing.T) {
	for _, c := range []struct {
		name string
		o    harness.MariaDBOptions
	}{{"async", harness.MariaDBOptions{Async: true}}, {"semi-sync", harness.MariaDBOptions{}}} {
		t.Run(c.name, func(t *testing.T) {
			tp := harness.StartMariaDBTopology(t, 1, c.o)
			r := tp.Replicas[0]
			n := mysqlnode.Open(mysqlnode.Options{Address: r.Addr, Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword})
			defer n.Close()
			connect(t, n)
			tp.Primary.Pause(t)
			defer tp.Primary.Resume(t)

			var err error
			took := timed(func() { err = n.StopIOThread(callCtx(t)) })
			t.Logf("STOP SLAVE IO_THREAD on a %s replica with the primary SIGSTOPped: %v (rpl_semi_sync_slave_kill_conn_timeout %s)",
				c.name, took, r.Variable(t, "rpl_semi_sync_slave_kill_conn_timeout"))
			if err != nil {
				t.Fatalf("%v", err)
			}
			p, err := n.Position(callCtx(t))
			if err != nil {
				t.Fatalf("%v", err)
			}
			if c, _ := p.Channel(); c.IO != probe.IOStopped || !c.SQLRunning {
				t.Errorf("channel after StopIOThread: IO %v, SQL running %v; want stopped, running", c.IO, c.SQLRunning)
			}
		})
	}
}

// TestNodeLeavesNoGoroutines: after Close, nothing a node started is left
// running, also after failed dials.
func TestNodeLeavesNoGoroutines(t *testing.T) {
	m := harness.StartMariaDB(t, 1, harness.MariaDBOptions{Async: true})
	dead := harness.StartMariaDB(t, 2, harness.MariaDBOptions{Async: true})
	dead.Kill(t)
	before := runtime.NumGoroutine()

	for _, addr := range []string{m.Addr, dead.Addr} {
		n := mysqlnode.Open(mysqlnode.Options{Address: addr, Username: harness.MariaDBAdminUser, Password: harness.MariaDBAdminPassword, Timeout: nodeTimeout})
		for range 3 {
			_, _ = n.Position(callCtx(t))
		}
		_, _ = n.KillOtherAdminSessions(callCtx(t))
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	harness.Eventually(t, waitTimeout, "goroutines back to the count before the nodes", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}
