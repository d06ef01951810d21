package redisnode_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// result is a command's reply and when it arrived.
type result struct {
	reply string
	err   error
	at    time.Time
}

// sendAsync sends a command on rc and delivers its reply on the channel.
func sendAsync(t *testing.T, rc *raw, args ...string) <-chan result {
	t.Helper()
	rc.send(args...)
	ch := make(chan result, 1)
	go func() {
		s, err := rc.read(waitTimeout)
		ch <- result{s, err, time.Now()}
	}()
	return ch
}

// TestPauseWritesBlocksWritesUntilUnpause: under CLIENT PAUSE WRITE a SET
// waits while a GET answers; Unpause releases the SET long before the pause
// would have ended (DESIGN.md §6.1, switchover).
func TestPauseWritesBlocksWritesUntilUnpause(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	n := open(t, r, "s1")
	do(t, r, "set", "k", "before")

	const pause = 60 * time.Second
	if err := n.PauseWrites(callCtx(t), pause); err != nil {
		t.Fatalf("%v", err)
	}
	writer := dialRaw(t, r, "")
	set := sendAsync(t, writer, "set", "k", "during")

	reader := dialRaw(t, r, "")
	if got := reader.call("get", "k"); got != "before" {
		t.Errorf("GET during the pause = %q, want %q", got, "before")
	}
	select {
	case res := <-set:
		t.Fatalf("SET answered %q, %v during a %v write pause, after a GET was served", res.reply, res.err, pause)
	default:
	}
	// The SET is held by the server, not lost in transit.
	harness.Eventually(t, waitTimeout, "the SET shows as a blocked client", func() error {
		if got := r.Info(t, "clients")["blocked_clients"]; got != "1" {
			return fmt.Errorf("blocked_clients = %s, want 1", got)
		}
		return nil
	})

	unpaused := time.Now()
	if err := n.Unpause(callCtx(t)); err != nil {
		t.Fatalf("%v", err)
	}
	select {
	case res := <-set:
		if res.err != nil || res.reply != "OK" {
			t.Fatalf("SET after unpause = %q, %v; want OK", res.reply, res.err)
		}
		t.Logf("SET answered %v after Unpause returned", res.at.Sub(unpaused))
	case <-time.After(pause / 2):
		t.Fatalf("SET still blocked %v after Unpause", pause/2)
	}
	if got := reader.call("get", "k"); got != "during" {
		t.Errorf("GET after unpause = %q, want %q", got, "during")
	}
	// Unpause without a pause is a no-op.
	if err := n.Unpause(callCtx(t)); err != nil {
		t.Errorf("second unpause: %v", err)
	}
}

// TestPauseWritesEndsByItself: a pause nobody lifts ends after its time, so
// a holder that dies does not leave the node paused; a SET sent during it
// is answered no sooner than the pause's end.
func TestPauseWritesEndsByItself(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	n := open(t, r, "s1")
	writer := dialRaw(t, r, "")

	const pause = 1500 * time.Millisecond
	start := time.Now() // before the server received the pause, so start+pause ≤ its end
	if err := n.PauseWrites(callCtx(t), pause); err != nil {
		t.Fatalf("%v", err)
	}
	set := sendAsync(t, writer, "set", "k", "v")
	select {
	case res := <-set:
		if res.err != nil || res.reply != "OK" {
			t.Fatalf("SET = %q, %v; want OK", res.reply, res.err)
		}
		if got := res.at.Sub(start); got < pause {
			t.Errorf("SET answered %v after the pause began, before its %v ended", got, pause)
		}
		t.Logf("SET answered %v after PauseWrites(%v) was sent", res.at.Sub(start), pause)
	case <-time.After(waitTimeout):
		t.Fatalf("SET still blocked %v after a %v pause", waitTimeout, pause)
	}
}
