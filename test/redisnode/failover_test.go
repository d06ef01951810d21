package redisnode_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// offset reads an INFO replication offset field as a number.
func offset(t *testing.T, r *harness.Redis, field string) int64 {
	t.Helper()
	v := r.Info(t, "replication")[field]
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("INFO replication %s on %s = %q: %v", field, r.Addr, v, err)
	}
	return n
}

// caughtUp waits until replica has processed at least what primary had
// written when the poll began, and returns that offset.
func caughtUp(t *testing.T, primary, replica *harness.Redis) int64 {
	t.Helper()
	var want int64
	harness.Eventually(t, waitTimeout, "replica "+replica.Addr+" caught up", func() error {
		want = offset(t, primary, "master_repl_offset")
		if got := offset(t, replica, "slave_repl_offset"); got < want {
			return fmt.Errorf("slave_repl_offset %d < primary's %d", got, want)
		}
		return nil
	})
	return want
}

// replicaofLines are the replicaof lines of a redis.conf.
func replicaofLines(t *testing.T, r *harness.Redis) []string {
	t.Helper()
	b, err := os.ReadFile(r.ConfigPath)
	if err != nil {
		t.Fatalf("read %s: %v", r.ConfigPath, err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "replicaof ") || strings.HasPrefix(line, "slaveof ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// TestPromoteReplica promotes a caught-up replica of a 1-primary-2-replica
// topology: REPLICAOF NO ONE answers with the node already a primary, its
// history continues from the old primary's offset, it takes writes, the
// change is in its redis.conf, and a second Promote is a no-op.
func TestPromoteReplica(t *testing.T) {
	tp := harness.StartRedisTopology(t, 2, harness.RedisOptions{})
	r0 := tp.Replicas[0]
	for i := range 100 {
		do(t, tp.Primary, "set", fmt.Sprintf("k%d", i), i)
	}
	at := caughtUp(t, tp.Primary, r0)

	n := open(t, r0, "s1")
	if _, err := n.Role(callCtx(t)); err != nil { // connect first: time the promotion only
		t.Fatalf("%v", err)
	}
	start := time.Now()
	role, err := n.Promote(callCtx(t), 5*time.Millisecond)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("promote: %v", err)
	}
	t.Logf("promote → role master: %v (REPLICAOF NO ONE, ROLE, CONFIG REWRITE)", took)
	if role.Role != "master" || role.Offset < at || len(role.Replicas) != 0 {
		t.Errorf("promote returned %+v, want role master at offset ≥ %d (the caught-up offset) with no replicas", role, at)
	}
	if got := r0.Info(t, "replication")["role"]; got != "master" {
		t.Errorf("INFO replication role = %q after promote, want master", got)
	}
	if got := replicaofLines(t, r0); len(got) != 0 {
		t.Errorf("redis.conf of the promoted node still has %q: CONFIG REWRITE did not run", got)
	}
	do(t, r0, "set", "after", "promote")
	if got := do(t, r0, "get", "k99"); got != "99" {
		t.Errorf("k99 on the promoted node = %v, want 99 (written before the promotion)", got)
	}

	again, err := n.Promote(callCtx(t), 0)
	if err != nil || again.Role != "master" || again.Offset < role.Offset {
		t.Errorf("second promote = %+v, %v; want master at offset ≥ %d", again, err, role.Offset)
	}
}

// TestReplicaOfRepoints repoints the other replica to the promoted one: it
// reports the new primary with its link connected, receives its writes, and
// has the new replicaof line in redis.conf.
func TestReplicaOfRepoints(t *testing.T) {
	tp := harness.StartRedisTopology(t, 2, harness.RedisOptions{})
	r0, r1 := tp.Replicas[0], tp.Replicas[1]
	do(t, tp.Primary, "set", "before", "1")
	caughtUp(t, tp.Primary, r1)
	caughtUp(t, tp.Primary, r0)

	if _, err := open(t, r0, "s1").Promote(callCtx(t), 5*time.Millisecond); err != nil {
		t.Fatalf("promote: %v", err)
	}
	n1 := open(t, r1, "s1")
	start := time.Now()
	if err := n1.ReplicaOf(callCtx(t), r0.Addr); err != nil {
		t.Fatalf("replicaof: %v", err)
	}
	var role redisnode.Role
	harness.Eventually(t, waitTimeout, "repointed replica connected to the new primary", func() error {
		var err error
		if role, err = n1.Role(callCtx(t)); err != nil {
			return err
		}
		if role.Role != "slave" || role.Primary != r0.Addr || role.LinkState != "connected" {
			return fmt.Errorf("role %+v, want slave of %s, connected", role, r0.Addr)
		}
		return nil
	})
	t.Logf("replicaof → link connected: %v", time.Since(start))
	stats := r0.Info(t, "stats")
	t.Logf("new primary: sync_full=%s sync_partial_ok=%s sync_partial_err=%s",
		stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"])

	do(t, r0, "set", "after", "repoint")
	harness.Eventually(t, waitTimeout, "write on the new primary reaches the repointed replica", func() error {
		v, err := r1.Client(t).Get(callCtx(t), "after").Result()
		if err != nil || v != "repoint" {
			return fmt.Errorf("get after = %q, %v", v, err)
		}
		return nil
	})
	if got := do(t, r1, "get", "before"); got != "1" {
		t.Errorf("key written before the failover on the repointed replica = %v, want 1", got)
	}
	want := fmt.Sprintf("replicaof 127.0.0.1 %d", r0.Port)
	if got := replicaofLines(t, r1); len(got) != 1 || got[0] != want {
		t.Errorf("redis.conf of the repointed replica has %q, want [%q]", got, want)
	}

	// Repointing to where it already replicates from is accepted again.
	if err := n1.ReplicaOf(callCtx(t), r0.Addr); err != nil {
		t.Errorf("repeated replicaof: %v", err)
	}
	// A bad address fails before any I/O, and says what was asked.
	err := n1.ReplicaOf(callCtx(t), "127.0.0.1")
	if err == nil || !strings.Contains(err.Error(), "repoint "+r1.Addr) || errors.Is(err, redisnode.ErrRewrite) {
		t.Errorf("replicaof to an address without a port = %v, want an error naming the node", err)
	}
}
