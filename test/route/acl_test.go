package route

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

// The ACLs that promote/route's doc.go and docs/gateway.md give are enough:
// the writer's for Write, Read and Reconcile, the gateway's for HGETALL
// and SUBSCRIBE.
func TestACLUsers(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	rc := r.Client(t)
	for _, cmd := range [][]any{
		{"ACL", "SETUSER", "imsentinel", "on", ">wpass", "resetchannels", "~imsentinel:route:*", "&imsentinel:routes",
			"+hgetall", "+hmget", "+hset", "+exists", "+publish", "+evalsha", "+eval"},
		{"ACL", "SETUSER", "gateway", "on", ">gpass", "resetchannels", "~imsentinel:route:*", "&imsentinel:routes",
			"+hgetall", "+subscribe", "+ping"},
	} {
		if err := rc.Do(ctx(t), cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	gw := redis.NewClient(&redis.Options{Addr: r.Addr, Username: "gateway", Password: "gpass", Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = gw.Close() })
	ps := gw.Subscribe(ctx(t), "imsentinel:routes")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx(t)); err != nil {
		t.Fatalf("gateway SUBSCRIBE: %v", err)
	}

	w := newWriter(t, r, route.Options{Username: "imsentinel", Password: "wpass"})
	if res, err := w.Write(ctx(t), entry(1, a, b), "acl"); err != nil || !res.Written {
		t.Fatalf("Write as ACL user imsentinel = %s, %v", describe(res), err)
	}
	if res, _, err := w.Reconcile(ctx(t), entry(2, b, a)); err != nil || !res.Written {
		t.Fatalf("Reconcile as ACL user imsentinel = %s, %v", describe(res), err)
	}
	m, err := ps.ReceiveMessage(ctx(t))
	if err != nil {
		t.Fatalf("gateway receive: %v", err)
	}
	t.Logf("gateway got %s", m.Payload)
	h, err := gw.HGetAll(ctx(t), "imsentinel:route:msg-shard-01").Result()
	if err != nil || h["epoch"] != "2" {
		t.Errorf("gateway HGETALL = %v, %v; want epoch 2", h, err)
	}
	// Outside its keys the writer is denied: the ACL is what restricts it.
	if err := rc.Do(ctx(t), "ACL", "SETUSER", "imsentinel", "resetkeys", "~other:*").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx(t), entry(3, a), "acl"); err == nil {
		t.Errorf("Write with the key pattern removed succeeded; want a NOPERM error")
	} else {
		t.Logf("denied as expected: %v", err)
	}
}
