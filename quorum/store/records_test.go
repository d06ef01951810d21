package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func vote(cluster string, epoch uint64, candidate string) Vote {
	at := t0.Add(time.Duration(epoch) * time.Second)
	return Vote{Cluster: cluster, Epoch: epoch, Candidate: candidate, Reason: "failover", GrantedAt: at, LeaseUntil: at.Add(4 * time.Second)}
}

func TestVoteOnePerEpoch(t *testing.T) {
	// DESIGN.md §5.5: one vote per epoch. A grant at an epoch not above the
	// one already granted is refused, whoever the candidate, and the stored
	// grant is unchanged.
	s := openT(t, t.TempDir(), testOptions())
	first := vote("msg-shard-01", 7, "s2")
	if err := s.SaveVote(first); err != nil {
		t.Fatalf("SaveVote(%+v): %v", first, err)
	}
	for _, v := range []Vote{
		vote("msg-shard-01", 7, "s3"), // same epoch, other candidate
		vote("msg-shard-01", 7, "s2"), // same epoch, same candidate
		vote("msg-shard-01", 6, "s3"), // lower epoch
	} {
		err := s.SaveVote(v)
		if !errors.Is(err, ErrStaleEpoch) {
			t.Errorf("SaveVote(epoch %d, %s) after a grant at 7 = %v, want ErrStaleEpoch", v.Epoch, v.Candidate, err)
			continue
		}
		want := fmt.Sprintf("save vote for msg-shard-01 epoch %d: already voted for s2 at epoch 7", v.Epoch)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	got, ok, err := s.Vote("msg-shard-01")
	if err != nil || !ok || !reflect.DeepEqual(got, first) {
		t.Errorf("Vote after refusals = %+v, %v, %v; want %+v", got, ok, err, first)
	}
	next := vote("msg-shard-01", 8, "s3")
	if err := s.SaveVote(next); err != nil {
		t.Errorf("SaveVote at epoch 8 after 7: %v", err)
	}
	if e, _ := s.HighestEpoch("msg-shard-01"); e != 8 {
		t.Errorf("HighestEpoch after vote at 8 = %d, want 8", e)
	}
	// Other clusters are independent.
	if err := s.SaveVote(vote("sessions", 1, "s1")); err != nil {
		t.Errorf("SaveVote for another cluster: %v", err)
	}
}

func TestVoteBelowHighestEpochRefused(t *testing.T) {
	// DESIGN.md §5.5: a voter grants only if e is higher than every epoch it
	// has seen. The store refuses e below the highest seen; e equal to it is
	// the election's call (it may have observed the request's own epoch).
	s := openT(t, t.TempDir(), testOptions())
	if err := s.ObserveEpoch("c", 10); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveVote(vote("c", 9, "s2")); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("SaveVote at 9 with highest 10 = %v, want ErrStaleEpoch", err)
	}
	if _, ok, _ := s.Vote("c"); ok {
		t.Errorf("a refused vote was stored")
	}
	if err := s.SaveVote(vote("c", 10, "s2")); err != nil {
		t.Errorf("SaveVote at 10 with highest 10 = %v, want nil", err)
	}
	if err := s.SaveVote(vote("c", 0, "s2")); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("SaveVote at epoch 0 = %v, want ErrStaleEpoch", err)
	}
}

func TestVoteValidation(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	for _, v := range []Vote{{Epoch: 1, Candidate: "s2"}, {Cluster: "c", Epoch: 1}} {
		if err := s.SaveVote(v); err == nil {
			t.Errorf("SaveVote(%+v) = nil, want an error", v)
		}
	}
	if _, ok, err := s.Vote("none"); ok || err != nil {
		t.Errorf("Vote(none) = %v, %v; want not found", ok, err)
	}
}

func TestIntent(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	in := func(epoch uint64, step string) Intent {
		return Intent{Cluster: "c", Epoch: epoch, Step: step, Target: "10.0.0.7:6379", OldPrimary: "10.0.0.6:6379", Holder: "s2", At: t0}
	}
	if _, ok, err := s.Intent("c"); ok || err != nil {
		t.Fatalf("Intent before any = %v, %v; want not found", ok, err)
	}
	for _, i := range []Intent{in(5, "fence"), in(5, "promote"), in(6, "fence")} {
		if err := s.SaveIntent(i); err != nil {
			t.Fatalf("SaveIntent(%d %s): %v", i.Epoch, i.Step, err)
		}
	}
	err := s.SaveIntent(in(5, "route"))
	if !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("SaveIntent at 5 after 6 = %v, want ErrStaleEpoch", err)
	}
	if want := `save intent "route" for c epoch 5: stored intent "fence" is from epoch 6 seq 0`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if got, ok, err := s.Intent("c"); err != nil || !ok || !reflect.DeepEqual(got, in(6, "fence")) {
		t.Errorf("Intent = %+v, %v, %v; want %+v", got, ok, err, in(6, "fence"))
	}
	if e, _ := s.HighestEpoch("c"); e != 6 {
		t.Errorf("HighestEpoch after intent at 6 = %d, want 6", e)
	}
	// Within an epoch the holder's later step wins; a late copy of an
	// earlier one is refused.
	later, earlier := in(7, "promote"), in(7, "fence")
	later.Seq, earlier.Seq = 2, 1
	if err := s.SaveIntent(later); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIntent(earlier); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("SaveIntent(seq 1 after seq 2 at epoch 7) = %v, want ErrStaleEpoch", err)
	}
	if got, _, _ := s.Intent("c"); got.Step != "promote" || got.Seq != 2 {
		t.Errorf("Intent = %+v, want the promote at seq 2", got)
	}
}

func TestConfigNeverGoesBackwards(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	cfg := func(epoch uint64, primary string, replicas ...string) ClusterConfig {
		return ClusterConfig{Cluster: "msg-shard-01", Epoch: epoch, Primary: primary, Replicas: replicas, CommittedAt: t0}
	}
	if err := s.SaveConfig(cfg(3, "a:3306", "b:3306")); err != nil {
		t.Fatal(err)
	}
	// Same epoch, same primary: a replica-list update.
	upd := cfg(3, "a:3306", "b:3306", "c:3306")
	if err := s.SaveConfig(upd); err != nil {
		t.Fatalf("SaveConfig same epoch and primary: %v", err)
	}
	if err := s.SaveConfig(cfg(3, "b:3306")); !errors.Is(err, ErrConflict) {
		t.Errorf("SaveConfig epoch 3 primary b after epoch 3 primary a = %v, want ErrConflict", err)
	} else if want := "save config for msg-shard-01 epoch 3 primary b:3306: committed config at epoch 3 names primary a:3306"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if err := s.SaveConfig(cfg(2, "a:3306")); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("SaveConfig epoch 2 after 3 = %v, want ErrStaleEpoch", err)
	}
	if got, ok, err := s.Config("msg-shard-01"); err != nil || !ok || !reflect.DeepEqual(got, upd) {
		t.Errorf("Config = %+v, %v, %v; want %+v", got, ok, err, upd)
	}
	if err := s.SaveConfig(cfg(4, "b:3306")); err != nil {
		t.Errorf("SaveConfig epoch 4 primary b: %v", err)
	}
	if err := s.SaveConfig(ClusterConfig{Cluster: "c"}); err == nil {
		t.Errorf("SaveConfig without primary = nil, want an error")
	}
}

func TestConfigs(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	if got, err := s.Configs(); err != nil || len(got) != 0 {
		t.Fatalf("Configs on empty store = %v, %v", got, err)
	}
	want := []ClusterConfig{
		{Cluster: "a", Epoch: 1, Primary: "a:1", Settings: map[string]string{"pause": "true"}, CommittedAt: t0},
		{Cluster: "b", Epoch: 9, Primary: "b:1", Replicas: []string{"b:2"}, CommittedAt: t0},
	}
	for _, i := range []int{1, 0} {
		if err := s.SaveConfig(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Configs(); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Configs = %+v, %v; want %+v", got, err, want)
	}
}

func TestHighestEpochNeverDecreases(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	steps := []struct {
		do   func() error
		name string
		want uint64
	}{
		{func() error { return s.ObserveEpoch("c", 4) }, "observe 4", 4},
		{func() error { return s.ObserveEpoch("c", 2) }, "observe 2", 4},
		{func() error { return s.SaveVote(vote("c", 5, "s2")) }, "vote 5", 5},
		{func() error { return s.ObserveEpoch("c", 0) }, "observe 0", 5},
		{func() error {
			return s.SaveIntent(Intent{Cluster: "c", Epoch: 9, Step: "fence"})
		}, "intent 9", 9},
		{func() error { return s.SaveConfig(ClusterConfig{Cluster: "c", Epoch: 8, Primary: "p"}) }, "config 8", 9},
		{func() error { return s.ObserveEpoch("c", 9) }, "observe 9", 9},
		{func() error { return s.SaveConfig(ClusterConfig{Cluster: "c", Epoch: 12, Primary: "p"}) }, "config 12", 12},
		{func() error { return s.SaveIntent(Intent{Cluster: "c", Epoch: 10, Step: "route"}) }, "intent 10", 12},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got, err := s.HighestEpoch("c"); err != nil || got != st.want {
			t.Fatalf("after %s: HighestEpoch = %d, %v; want %d", st.name, got, err, st.want)
		}
	}
	if err := s.ObserveEpoch("", 1); err == nil {
		t.Errorf("ObserveEpoch with empty cluster = nil, want an error")
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := openT(t, t.TempDir(), testOptions())
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				epoch := uint64(i*writers + w + 1)
				if err := s.ObserveEpoch("c", epoch); err != nil {
					errs <- err
				}
				if _, err := s.Append(Entry{Type: "t", Epoch: epoch}); err != nil {
					errs <- err
				}
				if _, err := s.HighestEpoch("c"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := s.HighestEpoch("c"); err != nil || got != writers*each {
		t.Errorf("HighestEpoch after concurrent observes = %d, %v; want %d", got, err, writers*each)
	}
	entries, err := s.Journal(Query{})
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, entries, 1, writers*each)
}
