package redisnode_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// classifyRole runs ROLE and classifies the outcome.
func classifyRole(t *testing.T, n *redisnode.Node) (redisnode.Reachability, error, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := n.Role(callCtx(t))
	return redisnode.Classify(err), err, time.Since(start)
}

// TestClassifyRefusedWhenStopped (DESIGN.md §6.3: "refuses connections"):
// after the server stopped, calls are Refused, never Answered, and fail
// fast; after a restart they are answered again at once (no cached dial
// error).
func TestClassifyRefusedWhenStopped(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	n := open(t, r, "s1")
	if got, err, _ := classifyRole(t, n); got != redisnode.Answered {
		t.Fatalf("before the stop: %v (%v), want answered", got, err)
	}

	r.Stop(t)
	first, err, took := classifyRole(t, n)
	t.Logf("first call after the stop: %v in %v (%v)", first, took, err)
	if first == redisnode.Answered || first == redisnode.Failed {
		t.Fatalf("first call after the stop: %v (%v), want refused or unreachable", first, err)
	}
	harness.Eventually(t, waitTimeout, "calls to a stopped server are refused", func() error {
		got, err, took := classifyRole(t, n)
		if got != redisnode.Refused {
			return fmt.Errorf("%v after %v: %v", got, took, err)
		}
		if took > nodeTimeout {
			return fmt.Errorf("refused only after %v (timeout %v)", took, nodeTimeout)
		}
		return nil
	})

	r.Restart(t)
	if got, err, took := classifyRole(t, n); got != redisnode.Answered {
		t.Errorf("first call after the restart: %v in %v (%v), want answered", got, took, err)
	}
}

// TestClassifyRefusedWhenKilled: the same after SIGKILL, for a node that
// never connected before.
func TestClassifyRefusedWhenKilled(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	r.Kill(t)
	n := open(t, r, "s1")
	if got, err, took := classifyRole(t, n); got != redisnode.Refused {
		t.Errorf("first call to a killed server: %v in %v (%v), want refused", got, took, err)
	}
}

// TestClassifyUnreachableWhenPaused: a hung process (SIGSTOP) still
// accepts TCP connections in the kernel but never answers: Unreachable,
// after about the node's timeout, both on an open connection and on a new
// one. After SIGCONT it answers.
func TestClassifyUnreachableWhenPaused(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	const short = 300 * time.Millisecond
	connected := redisnode.Open(redisnode.Options{Address: r.Addr, Fleet: fleet, Sentinel: "s1", Timeout: short})
	defer connected.Close()
	if got, err, _ := classifyRole(t, connected); got != redisnode.Answered {
		t.Fatalf("before the pause: %v (%v), want answered", got, err)
	}

	r.Pause(t)
	fresh := redisnode.Open(redisnode.Options{Address: r.Addr, Fleet: fleet, Sentinel: "s2", Timeout: short})
	defer fresh.Close()
	for name, n := range map[string]*redisnode.Node{"open connection": connected, "new connection": fresh} {
		got, err, took := classifyRole(t, n)
		t.Logf("%s to a paused server: %v in %v (%v)", name, got, took, err)
		if got != redisnode.Unreachable {
			t.Errorf("%s to a paused server: %v (%v), want unreachable", name, got, err)
		}
		if took < short || took > callTimeout {
			t.Errorf("%s to a paused server failed after %v, want about the %v timeout", name, took, short)
		}
	}

	r.Resume(t)
	harness.Eventually(t, waitTimeout, "a resumed server answers", func() error {
		if got, err, _ := classifyRole(t, connected); got != redisnode.Answered {
			return fmt.Errorf("%v: %v", got, err)
		}
		return nil
	})
}

// TestClassifyFailedOnWrongPassword: an error reply (here to AUTH or to
// the CLIENT SETNAME before it) is Failed: the server is there and said no.
func TestClassifyFailedOnWrongPassword(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{Password: "secret"})
	for pw, want := range map[string]redisnode.Reachability{"secret": redisnode.Answered, "wrong": redisnode.Failed, "": redisnode.Failed} {
		n := redisnode.Open(redisnode.Options{Address: r.Addr, Password: pw, Fleet: fleet, Sentinel: "s1", Timeout: nodeTimeout})
		got, err, _ := classifyRole(t, n)
		if got != want {
			t.Errorf("password %q: %v (%v), want %v", pw, got, err, want)
		}
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// TestNodeLeavesNoGoroutines: after Close, nothing the node started is
// left running, also after failed dials (go-redis redials in the
// background after one; the node closes that client).
func TestNodeLeavesNoGoroutines(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	dead := harness.StartRedis(t, harness.RedisOptions{})
	dead.Kill(t)
	before := runtime.NumGoroutine()

	for _, addr := range []string{r.Addr, dead.Addr} {
		n := redisnode.Open(redisnode.Options{Address: addr, Fleet: fleet, Sentinel: "s1", Timeout: nodeTimeout})
		for range 3 {
			_, _ = n.Role(callCtx(t))
		}
		_, _ = n.WaitReplicas(callCtx(t), 0, time.Second, 0)
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
