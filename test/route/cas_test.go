package route

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

const (
	a = "10.0.0.7:6379"
	b = "10.0.0.8:6379"
	c = "10.0.0.9:6379"
)

// TestCAS walks the compare-and-set rules of DESIGN.md §6.7 in order against
// one routing Redis, and checks that a change is published exactly for each
// write and never for a refused or unchanged one.
func TestCAS(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{})
	s := subscribe(t, r, "imsentinel:routes")

	type step struct {
		name    string
		e       route.Entry
		written bool
		refused string // "" = written or unchanged; else a substring
		stored  route.Entry
	}
	stored := func(epoch uint64, primary string, replicas ...string) route.Entry {
		e := entry(epoch, primary, replicas...)
		e.Fleet, e.UpdatedBy, e.UpdatedAt = "im-prod", "s1", at
		return e
	}
	steps := []step{
		{"first write", entry(3, a, b, c), true, "", stored(3, a, b, c)},
		{"higher epoch overwrites", entry(5, b, a, c), true, "", stored(5, b, a, c)},
		{"lower epoch refused", entry(4, c), false, "stored epoch 5 > 4", stored(5, b, a, c)},
		{"equal epoch, same primary: replica update", entry(5, b, c), true, "", stored(5, b, c)},
		{"equal epoch, same everything: unchanged", entry(5, b, c), false, "", stored(5, b, c)},
		{"equal epoch, other primary refused", entry(5, c, b), false, "epoch 5 names primary " + c + ", stored names " + b, stored(5, b, c)},
		{"equal epoch, no replicas", entry(5, b), true, "", stored(5, b)},
		{"much higher epoch", entry(1<<64-1, a), true, "", stored(1<<64-1, a)},
		{"below the top refused", entry(1<<64-2, a), false, "stored epoch 18446744073709551615 > 18446744073709551614", stored(1<<64-1, a)},
	}
	var want []route.Change
	old := ""
	for _, st := range steps {
		res, err := w.Write(ctx(t), st.e, st.name)
		if err != nil {
			t.Fatalf("%s: Write(%v): %v", st.name, st.e, err)
		}
		if res.Written != st.written || (st.refused == "") != (res.Refused == "") || !strings.Contains(res.Refused, st.refused) {
			t.Errorf("%s: Write(%v) = %s; want written=%v refused ...%q...", st.name, st.e, describe(res), st.written, st.refused)
		}
		if res.Unchanged != (!st.written && st.refused == "") {
			t.Errorf("%s: Write(%v) = %s; want unchanged=%v", st.name, st.e, describe(res), !st.written && st.refused == "")
		}
		if diff := cmp.Diff(st.stored, res.Stored, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Write(%v): Result.Stored (-want +got):\n%s", st.name, st.e, diff)
		}
		got, found, err := w.Read(ctx(t), "msg-shard-01")
		if err != nil || !found {
			t.Fatalf("%s: Read = %v, %v, %v", st.name, got, found, err)
		}
		if diff := cmp.Diff(st.stored, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Read (-want +got):\n%s", st.name, diff)
		}
		if st.written {
			want = append(want, route.Change{Cluster: "msg-shard-01", Primary: st.e.Primary, OldPrimary: old,
				Epoch: st.e.Epoch, Reason: st.name, At: at})
			old = st.e.Primary
		}
	}
	got := s.drain()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published changes (-want +got):\n%s\ngot:%s", diff, show(got))
	}

	// The stored hash is the contract of docs/gateway.md, field by field.
	wantHash := map[string]string{"primary": a, "epoch": "18446744073709551615", "kind": "redis",
		"replicas": "", "fleet": "im-prod", "updated_at": "2026-11-26T09:00:00.000Z", "updated_by": "s1"}
	if diff := cmp.Diff(wantHash, hash(t, r.Client(t), "imsentinel:route:msg-shard-01")); diff != "" {
		t.Errorf("stored hash (-want +got):\n%s", diff)
	}
}

func TestReplicasStoredCommaSeparated(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{})
	if _, err := w.Write(ctx(t), entry(1, a, b, c), "test"); err != nil {
		t.Fatal(err)
	}
	if got := hash(t, r.Client(t), w.Key("msg-shard-01"))["replicas"]; got != b+","+c {
		t.Errorf("replicas field = %q, want %q", got, b+","+c)
	}
}

// A key another fleet owns is never overwritten, whatever the epoch; a key
// without a fleet field is taken over by a higher epoch.
func TestOtherFleetRefused(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	dr := newWriter(t, r, route.Options{Fleet: "im-dr", Sentinel: "dr1"})
	prod := newWriter(t, r, route.Options{Fleet: "im-prod"})
	s := subscribe(t, r, "imsentinel:routes")

	if res, err := dr.Write(ctx(t), entry(2, a), "dr"); err != nil || !res.Written {
		t.Fatalf("im-dr first write = %s, %v", describe(res), err)
	}
	res, err := prod.Write(ctx(t), entry(9, b), "prod")
	if err != nil {
		t.Fatal(err)
	}
	if res.Written || res.Refused != "owned by fleet im-dr (we are im-prod)" || res.Stored.Fleet != "im-dr" || res.Stored.Primary != a {
		t.Errorf("im-prod write over im-dr's key = %s; want refused: owned by fleet im-dr, stored unchanged", describe(res))
	}

	// A hash without fleet (written by hand or an older tool).
	rc := r.Client(t)
	if err := rc.HSet(ctx(t), prod.Key("other"), "primary", a, "epoch", "4").Err(); err != nil {
		t.Fatal(err)
	}
	e := entry(5, b)
	e.Cluster = "other"
	if res, err := prod.Write(ctx(t), e, "take over"); err != nil || !res.Written || res.Stored.Fleet != "im-prod" {
		t.Errorf("write over a key without fleet = %s, %v; want written with fleet im-prod", describe(res), err)
	}

	got := s.drain()
	if len(got) != 2 || got[0].Primary != a || got[1].Cluster != "other" || got[1].OldPrimary != a {
		t.Errorf("published: %s\nwant im-dr's first write, then cluster other (old primary %s)", show(got), a)
	}
}

func TestMalformedStoredEntryRefused(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{})
	if err := r.Client(t).HSet(ctx(t), w.Key("msg-shard-01"), "primary", a, "epoch", "seven").Err(); err != nil {
		t.Fatal(err)
	}
	res, err := w.Write(ctx(t), entry(9, b), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := `stored entry has no valid epoch ("seven"); inspect and delete imsentinel:route:msg-shard-01 to reset it`
	if res.Written || res.Refused != want {
		t.Errorf("Write over epoch=seven = %s; want refused %q", describe(res), want)
	}
	if _, found, err := w.Read(ctx(t), "msg-shard-01"); !found || err == nil || !strings.Contains(err.Error(), `epoch "seven" is not a number`) {
		t.Errorf("Read = found %v, err %v; want found and an error naming the epoch", found, err)
	}
}

// Prefix starts the key and the channel; nothing goes to the default ones.
func TestPrefix(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{Prefix: "im2:"})
	def := subscribe(t, r, "imsentinel:routes")
	mine := subscribe(t, r, "im2:routes")
	if res, err := w.Write(ctx(t), entry(1, a), "test"); err != nil || !res.Written {
		t.Fatalf("Write = %s, %v", describe(res), err)
	}
	rc := r.Client(t)
	keys, err := rc.Keys(ctx(t), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "im2:route:msg-shard-01" {
		t.Errorf("keys = %q, want [im2:route:msg-shard-01]", keys)
	}
	if got := mine.drain(); len(got) != 1 || got[0].Epoch != 1 {
		t.Errorf("on im2:routes: %s\nwant one change at epoch 1", show(got))
	}
	if got := def.drain(); len(got) != 0 {
		t.Errorf("on imsentinel:routes: %s\nwant nothing", show(got))
	}
}

// EVALSHA falls back to EVAL when the server lost its script cache.
func TestScriptFlushed(t *testing.T) {
	r := harness.StartRedis(t, harness.RedisOptions{})
	w := newWriter(t, r, route.Options{})
	if _, err := w.Write(ctx(t), entry(1, a), "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.Client(t).ScriptFlush(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := w.Write(ctx(t), entry(2, b), "test"); err != nil || !res.Written {
		t.Errorf("Write after SCRIPT FLUSH = %s, %v; want written", describe(res), err)
	}
}
