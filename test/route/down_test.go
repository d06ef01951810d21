package route

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

const (
	password     = "routing-s3cret"
	shortTimeout = 300 * time.Millisecond
	// hangBound is far above what a bounded Write takes (about three
	// shortTimeouts at most) and far below a hang; it catches hangs, it does
	// not measure latency (DESIGN.md §8).
	hangBound = 10 * time.Second
)

// writeFails checks that Write fails, well before hangBound, with an error
// naming what it did and the routing address and never the password.
func writeFails(t *testing.T, w *route.Writer, r *harness.Redis, e route.Entry, what string) {
	t.Helper()
	start := time.Now()
	res, err := w.Write(t.Context(), e, what)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("%s: Write = %s, want an error", what, describe(res))
	}
	if took > hangBound {
		t.Errorf("%s: Write took %v (timeout %v): it must not hang", what, took, shortTimeout)
	}
	msg := err.Error()
	if !strings.Contains(msg, "write route msg-shard-01 epoch") || !strings.Contains(msg, "routing redis "+r.Addr) {
		t.Errorf("%s: error %q does not say what was done and where", what, msg)
	}
	if strings.Contains(msg, password) {
		t.Errorf("%s: error %q shows the password", what, msg)
	}
	t.Logf("%s: failed after %v: %v", what, took.Round(time.Millisecond), err)
}

// writeSucceedsEventually polls Write until e is stored: the routing Redis
// is back. Unchanged counts: a Write that timed out against a paused server
// had already sent its script, which the server runs once it resumes (the
// unknown outcome Write's doc warns about), so the retry finds it done.
func writeSucceedsEventually(t *testing.T, w *route.Writer, e route.Entry, what string) {
	t.Helper()
	start := time.Now()
	harness.Eventually(t, pollDeadline, what, func() error {
		res, err := w.Write(t.Context(), e, what)
		if err != nil {
			return err
		}
		if !(res.Written || res.Unchanged) || res.Stored.Epoch != e.Epoch || res.Stored.Primary != e.Primary {
			return errors.New(describe(res))
		}
		return nil
	})
	t.Logf("%s: stored %v after the server was back", what, time.Since(start).Round(time.Millisecond))
}

// DESIGN.md §6.9 and STYLE.md: every store call has a deadline; a hung or
// dead routing Redis makes Write fail in bounded time, and the next Write
// after it returns succeeds.
func TestRoutingRedisDown(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{Password: password})
	w := newWriter(t, r, route.Options{Timeout: shortTimeout})
	if res, err := w.Write(t.Context(), entry(1, a), "first"); err != nil || !res.Written {
		t.Fatalf("first Write = %s, %v", describe(res), err)
	}

	r.Pause(t) // SIGSTOP: connections open, nothing answers
	writeFails(t, w, r, entry(2, b), "paused")
	if _, _, err := w.Read(t.Context(), "msg-shard-01"); err == nil || !strings.Contains(err.Error(), "read route msg-shard-01 from routing redis "+r.Addr) {
		t.Errorf("Read while paused: %v, want an error naming the address", err)
	}
	r.Resume(t)
	writeSucceedsEventually(t, w, entry(2, b), "resumed")

	r.Kill(t) // refused connections
	writeFails(t, w, r, entry(3, c), "killed")
	r.Restart(t) // comes back empty: no persistence
	writeSucceedsEventually(t, w, entry(3, c), "restarted")
	if got, found, err := w.Read(t.Context(), "msg-shard-01"); err != nil || !found || got.Epoch != 3 {
		t.Errorf("Read after restart = %v, %v, %v; want epoch 3", got, found, err)
	}
}

func TestWrongPasswordNotShown(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{Password: password})
	w := newWriter(t, r, route.Options{Password: password + "-wrong", Timeout: shortTimeout})
	_, err := w.Write(t.Context(), entry(1, a), "test")
	if err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("Write with a wrong password: %v; want an error without the password", err)
	}
}

// Close leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	before := runtime.NumGoroutine()
	w, err := route.New(route.Options{Addr: r.Addr, Fleet: "im-prod", Sentinel: "s1", Timeout: callTimeout})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := w.Write(t.Context(), entry(uint64(i+1), a), "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, pollDeadline, "goroutines back to the count before New", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			return errors.New(string(buf[:runtime.Stack(buf, true)]))
		}
		return nil
	})
}
