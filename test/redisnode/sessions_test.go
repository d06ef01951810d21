package redisnode_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestKillOtherSessions (DESIGN.md §5.6): the new holder kills the admin
// connection of another sentinel of its fleet, and nothing else: not its
// own, not a second connection under its own name, not an unnamed client,
// not another fleet's sentinel.
func TestKillOtherSessions(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	ours := open(t, r, "s1")
	if _, err := ours.Role(callCtx(t)); err != nil { // connect
		t.Fatalf("%v", err)
	}
	ownName := redisnode.AdminName(fleet, "s1")
	other := dialRaw(t, r, redisnode.AdminName(fleet, "s2"))
	otherFleet := dialRaw(t, r, redisnode.AdminName(fleet+"-eu", "s2"))
	unnamed := dialRaw(t, r, "")
	sameName := dialRaw(t, r, ownName)
	ownIDs := clientIDs(t, r, ownName)
	if len(ownIDs) != 2 {
		t.Fatalf("connections named %s before the kill: ids %v, want 2 (the node's and a raw one)", ownName, ownIDs)
	}

	killed, err := ours.KillOtherSessions(callCtx(t))
	if err != nil || killed != 1 {
		t.Fatalf("KillOtherSessions = %d, %v; want 1 (only sentinel s2 of fleet %s)", killed, err, fleet)
	}
	if err := other.closedByServer(); err != nil {
		t.Errorf("other sentinel's admin connection: %v", err)
	}
	for name, rc := range map[string]*raw{"other fleet's sentinel": otherFleet, "unnamed client": unnamed, "second connection under our name": sameName} {
		if err := rc.alive(); err != nil {
			t.Errorf("%s was disconnected: %v", name, err)
		}
	}
	if _, err := ours.Role(callCtx(t)); err != nil {
		t.Errorf("our node after the kill: %v", err)
	}
	if got := clientIDs(t, r, ownName); !slices.Equal(got, ownIDs) {
		t.Errorf("connections named %s after the kill: ids %v, want the same %v (never reconnected)", ownName, got, ownIDs)
	}

	if killed, err := ours.KillOtherSessions(callCtx(t)); err != nil || killed != 0 {
		t.Errorf("second KillOtherSessions = %d, %v; want 0", killed, err)
	}
}

// TestKillOtherSessionsDropsPendingCommand (DESIGN.md §5.6): a command of an
// old holder that has not run yet (here held by a write pause) never runs
// once the new holder killed its session.
func TestKillOtherSessionsDropsPendingCommand(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	ours := open(t, r, "s1")
	old := dialRaw(t, r, redisnode.AdminName(fleet, "s2"))

	if err := ours.PauseWrites(callCtx(t), time.Minute); err != nil {
		t.Fatalf("%v", err)
	}
	old.send("set", "fenced-by", "s2")
	harness.Eventually(t, waitTimeout, "the old holder's SET is held by the pause", func() error {
		if got := r.Info(t, "clients")["blocked_clients"]; got != "1" {
			return fmt.Errorf("blocked_clients = %s, want 1", got)
		}
		return nil
	})
	killed, err := ours.KillOtherSessions(callCtx(t))
	if err != nil || killed != 1 {
		t.Fatalf("KillOtherSessions = %d, %v; want 1", killed, err)
	}
	if err := ours.Unpause(callCtx(t)); err != nil {
		t.Fatalf("%v", err)
	}
	if err := old.closedByServer(); err != nil {
		t.Errorf("old holder's connection: %v", err)
	}
	if n := do(t, r, "exists", "fenced-by"); n != int64(0) {
		t.Errorf("EXISTS fenced-by = %v after the kill and unpause, want 0: the old holder's write landed", n)
	}
}

// TestKillClients disconnects a normal client and a pub/sub subscriber (so
// they reconnect and re-resolve the primary), but not the node's own
// connection nor the replication link.
func TestKillClients(t *testing.T) {
	tp := harness.StartRedisTopology(t, 1, harness.RedisOptions{})
	p, rep := tp.Primary, tp.Replicas[0]
	n := open(t, p, "s1")
	normal := dialRaw(t, p, "app")
	sub := dialRaw(t, p, "")
	if got := sub.call("subscribe", "news"); got != "subscribe news 1" {
		t.Fatalf("subscribe: %q", got)
	}
	links := clientList(t, p, "type", "replica")
	if len(links) != 1 {
		t.Fatalf("replication links on the primary: %v, want 1", links)
	}

	killed, err := n.KillClients(callCtx(t))
	if err != nil || killed < 2 {
		t.Fatalf("KillClients = %d, %v; want at least 2 (the normal client and the subscriber)", killed, err)
	}
	t.Logf("KillClients killed %d", killed)
	if err := normal.closedByServer(); err != nil {
		t.Errorf("normal client: %v", err)
	}
	if err := sub.closedByServer(); err != nil {
		t.Errorf("subscriber: %v", err)
	}
	if _, err := n.Role(callCtx(t)); err != nil {
		t.Errorf("our node after KillClients: %v", err)
	}
	after := clientList(t, p, "type", "replica")
	if len(after) != 1 || after[0]["id"] != links[0]["id"] {
		t.Errorf("replication links on the primary after KillClients: %v, want the same id %s as before", after, links[0]["id"])
	}
	if got := rep.Info(t, "replication")["master_link_status"]; got != "up" {
		t.Errorf("replica's master_link_status = %s after KillClients, want up", got)
	}
}
