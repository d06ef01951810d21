package route

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/test/harness"
)

// TestConcurrentWriters: 8 sentinels each write epochs 1..50 in their own
// random order, then 51..100 in ascending order (so all eight race for each
// epoch). The CAS is atomic (DESIGN.md §6.7), so the highest epoch ends
// stored, the published epochs strictly increase, each change's old_primary
// is the previous change's primary, and there is one change per Written
// result.
func TestConcurrentWriters(t *testing.T) {
	const writers, shuffled, epochs = 8, 50, 100
	r := harness.StartRedis(t, harness.RedisOptions{})
	s := subscribe(t, r, "imsentinel:routes")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	primaryOf := func(epoch uint64) string { return fmt.Sprintf("10.0.%d.1:6379", epoch) }

	ws := make([]*route.Writer, writers)
	for i := range ws {
		ws[i] = newWriter(t, r, route.Options{Sentinel: fmt.Sprintf("s%d", i+1)})
	}
	var mu sync.Mutex
	written := 0
	errs := make(chan error, writers*epochs)
	var wg sync.WaitGroup
	for i, w := range ws {
		order := rand.New(rand.NewPCG(seed, uint64(i))).Perm(shuffled)
		for n := shuffled; n < epochs; n++ {
			order = append(order, n)
		}
		wg.Go(func() {
			for _, n := range order {
				epoch := uint64(n + 1)
				res, err := w.Write(ctx(t), entry(epoch, primaryOf(epoch)), "concurrent")
				if err != nil {
					errs <- err
					continue
				}
				if res.Written {
					mu.Lock()
					written++
					mu.Unlock()
				}
				if res.Stored.Epoch < epoch {
					errs <- fmt.Errorf("%s wrote epoch %d: stored after is %v", w.Key(""), epoch, res.Stored)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got, found, err := ws[0].Read(ctx(t), "msg-shard-01")
	if err != nil || !found || got.Epoch != epochs || got.Primary != primaryOf(epochs) {
		t.Errorf("stored after all writes: %v (found %v, err %v); want epoch %d primary %s", got, found, err, epochs, primaryOf(epochs))
	}
	changes := s.drain()
	if len(changes) != written {
		t.Errorf("%d changes published, %d writes reported Written:%s", len(changes), written, show(changes))
	}
	if len(changes) == 0 || changes[len(changes)-1].Epoch != epochs {
		t.Fatalf("last change is not epoch %d:%s", epochs, show(changes))
	}
	old := ""
	var last uint64
	for i, c := range changes {
		if c.Epoch <= last || c.OldPrimary != old || c.Primary != primaryOf(c.Epoch) {
			t.Fatalf("change %d %+v after epoch %d primary %q: want a higher epoch replacing the previous primary:%s",
				i, c, last, old, show(changes))
		}
		last, old = c.Epoch, c.Primary
	}
	t.Logf("%d writes, %d written and published (epochs %d..%d)", writers*epochs, written, changes[0].Epoch, last)
	if written < epochs-shuffled {
		t.Errorf("%d written, want at least one per ascending epoch (%d)", written, epochs-shuffled)
	}
}
