package redisnode_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/test/harness"
)

// TestSetSelfFenceAndHeartbeat: the settings show in CONFIG GET, rounded up
// to whole seconds, and the self-fence takes effect (DESIGN.md §6.2: a
// primary without enough replicas refuses writes).
func TestSetSelfFenceAndHeartbeat(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	n := open(t, r, "s1")

	if err := n.SetSelfFence(callCtx(t), 1, 1500*time.Millisecond); err != nil {
		t.Fatalf("%v", err)
	}
	if got, lag := configGet(t, r, "min-replicas-to-write"), configGet(t, r, "min-replicas-max-lag"); got != "1" || lag != "2" {
		t.Errorf("after SetSelfFence(1, 1.5s): min-replicas-to-write=%s min-replicas-max-lag=%s, want 1 and 2", got, lag)
	}
	err := r.Client(t).Set(callCtx(t), "k", "v", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOREPLICAS") {
		t.Errorf("SET on a self-fenced primary without replicas = %v, want NOREPLICAS", err)
	}
	if err := n.SetSelfFence(callCtx(t), 0, 0); err != nil {
		t.Fatalf("%v", err)
	}
	if got := configGet(t, r, "min-replicas-to-write"); got != "0" {
		t.Errorf("after SetSelfFence(0, 0): min-replicas-to-write=%s, want 0", got)
	}
	do(t, r, "set", "k", "v")

	for _, tt := range []struct {
		period time.Duration
		want   string
	}{{2500 * time.Millisecond, "3"}, {time.Second, "1"}, {time.Millisecond, "1"}, {0, "1"}, {10 * time.Second, "10"}} {
		if err := n.SetHeartbeat(callCtx(t), tt.period); err != nil {
			t.Fatalf("%v", err)
		}
		if got := configGet(t, r, "repl-ping-replica-period"); got != tt.want {
			t.Errorf("after SetHeartbeat(%v): repl-ping-replica-period=%s, want %s", tt.period, got, tt.want)
		}
	}
}

// TestWaitReplicas counts replicas online within the lag: both of a
// healthy topology, one while the other hangs (SIGSTOP: its lag grows),
// both again after it resumes.
//
// The max lag is 2 s, not 1 s: Redis computes lag as the difference of
// whole-second clocks, so a replica acknowledging every second shows lag 2
// now and then (seen under load with 1 s).
func TestWaitReplicas(t *testing.T) {
	tp := harness.StartRedisTopology(t, 2, harness.RedisOptions{})
	n := open(t, tp.Primary, "s1")
	const maxLag, every = 2 * time.Second, 10 * time.Millisecond

	if got, err := n.WaitReplicas(callCtx(t), 2, maxLag, every); err != nil || got != 2 {
		t.Fatalf("WaitReplicas(2) = %d, %v; want 2", got, err)
	}
	short, cancel := contextWithTimeout(t, 3*time.Second)
	defer cancel()
	if got, err := n.WaitReplicas(short, 3, maxLag, every); !errors.Is(err, context.DeadlineExceeded) || got > 2 {
		t.Errorf("WaitReplicas(3) with 2 replicas = %d, %v; want at most 2 and the ctx's error", got, err)
	}

	tp.Replicas[1].Pause(t)
	harness.Eventually(t, waitTimeout, "the hung replica no longer counts", func() error {
		ctx, cancel := contextWithTimeout(t, time.Second)
		defer cancel()
		if got, _ := n.WaitReplicas(ctx, 2, maxLag, every); got != 1 {
			return fmt.Errorf("%d replicas online within %v of lag, want 1", got, maxLag)
		}
		return nil
	})
	tp.Replicas[1].Resume(t)
	if got, err := n.WaitReplicas(callCtx(t), 2, maxLag, every); err != nil || got != 2 {
		t.Errorf("WaitReplicas(2) after resume = %d, %v; want 2", got, err)
	}
}
