package memberlist

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
)

// target is one address the joiner tries.
type target struct {
	id   quorum.MemberID
	addr string
}

// join is the background joiner. Each round it joins, all at once, the
// configured address of every voter memberlist does not see alive, then
// waits (backoff from the profile's joinMin doubling to joinMax, ±20 %)
// while any is still missing; when none is, it sleeps until a member is
// lost or SetState asks for a state exchange. It returns when Close
// closes stop, once the round in progress has ended (each attempt is
// bounded by the profile's TCPTimeout).
//
// Besides the other voters it joins, until one join there succeeds, this
// sentinel's own configured address when it differs from the bound and
// advertised ones: if another process answers there with this id, both
// see the collision (memberlist's conflict delegate). If it is this
// process under another name, the join is harmless.
func (t *Transport) join() {
	defer t.wg.Done()
	backoff := t.prof.joinMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-t.wake:
			backoff = t.prof.joinMin
		case <-timer.C:
		}
		targets := t.missing()
		if t.pushState.Swap(false) {
			targets = append(targets, t.live()...)
		}
		if len(targets) > 0 {
			t.joinAll(targets)
		}
		t.joinRounds.Add(1)
		if len(t.missing()) == 0 {
			backoff = t.prof.joinMin
			continue // until woken
		}
		f := 0.8 + 0.4*rand.Float64() // jitter: a shell, not replayed
		timer.Reset(time.Duration(float64(backoff) * f))
		backoff = min(2*backoff, t.prof.joinMax)
	}
}

// missing lists the voters to join: those not seen alive, with an address,
// and this sentinel's own configured address until probed (see join).
func (t *Transport) missing() []target {
	t.nodesMu.Lock()
	defer t.nodesMu.Unlock()
	var out []target
	for _, m := range t.voters.Members() {
		if m.Address == "" {
			continue
		}
		if m.ID == t.self {
			if !t.selfProbed.Load() && m.Address != t.bindAddr && m.Address != t.advAddr {
				out = append(out, target{m.ID, m.Address})
			}
			continue
		}
		if _, ok := t.nodes[m.ID]; !ok {
			out = append(out, target{m.ID, m.Address})
		}
	}
	return out
}

// live lists the other voters seen alive, at their gossip addresses.
func (t *Transport) live() []target {
	t.nodesMu.Lock()
	defer t.nodesMu.Unlock()
	var out []target
	for id, n := range t.nodes {
		if id != t.self {
			out = append(out, target{id, n.Address()})
		}
	}
	return out
}

// joinAll joins every target at once and waits for all. A join is a TCP
// push/pull with that address: it exchanges member lists and states.
func (t *Transport) joinAll(targets []target) {
	var wg sync.WaitGroup
	for _, tg := range targets {
		wg.Go(func() {
			if _, err := t.ml.Join([]string{tg.addr}); err != nil {
				t.log.Debug("could not join a sentinel yet", "sentinel", tg.id, "address", tg.addr, "err", err)
				return
			}
			if tg.id == t.self {
				t.selfProbed.Store(true)
			}
		})
	}
	wg.Wait()
}
