package route

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

// DESIGN.md §6.7: the steward rewrites the route when it is absent (a wiped
// routing Redis) or older than the committed config, never when newer.
func TestReconcileAfterFlushAll(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{})
	s := subscribe(t, r, "imsentinel:routes")
	committed := entry(5, a, b, c)

	if res, err := w.Write(ctx(t), committed, "failover"); err != nil || !res.Written {
		t.Fatalf("Write = %s, %v", describe(res), err)
	}
	res, why, err := w.Reconcile(ctx(t), committed)
	if err != nil || res.Written || !res.Unchanged || why != "up to date at epoch 5" {
		t.Errorf("Reconcile when up to date = %s, %q, %v; want unchanged, up to date", describe(res), why, err)
	}

	if err := r.Client(t).FlushAll(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, err := w.Read(ctx(t), "msg-shard-01"); found || err != nil {
		t.Fatalf("Read after FLUSHALL: found %v, err %v; want absent", found, err)
	}
	res, why, err = w.Reconcile(ctx(t), committed)
	if err != nil || !res.Written || why != "route absent" {
		t.Fatalf("Reconcile after FLUSHALL = %s, %q, %v; want written: route absent", describe(res), why, err)
	}
	want := committed
	want.Fleet, want.UpdatedBy, want.UpdatedAt = "im-prod", "s1", at
	if diff := cmp.Diff(want, res.Stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored after reconcile (-want +got):\n%s", diff)
	}

	// A newer route written elsewhere is left alone.
	if res, err := w.Write(ctx(t), entry(6, b, c), "failover"); err != nil || !res.Written {
		t.Fatalf("Write epoch 6 = %s, %v", describe(res), err)
	}
	res, why, err = w.Reconcile(ctx(t), committed)
	if err != nil || res.Written || res.Unchanged || !strings.Contains(res.Refused, "stored epoch 6 > committed 5") || res.Stored.Epoch != 6 {
		t.Errorf("Reconcile under a newer route = %s, %q, %v; want refused, stored epoch 6 kept", describe(res), why, err)
	}

	got := s.drain()
	wantChanges := []route.Change{
		{Cluster: "msg-shard-01", Primary: a, Epoch: 5, Reason: "failover", At: at},
		{Cluster: "msg-shard-01", Primary: a, Epoch: 5, Reason: "reconcile: route absent", At: at},
		{Cluster: "msg-shard-01", Primary: b, OldPrimary: a, Epoch: 6, Reason: "failover", At: at},
	}
	if diff := cmp.Diff(wantChanges, got); diff != "" {
		t.Errorf("published changes (-want +got):\n%s", diff)
	}
}
