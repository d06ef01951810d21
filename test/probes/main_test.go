package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Deadlines, generous for a loaded 2-core CI machine (DESIGN.md §8). Polls
// end as soon as their condition holds; nothing sleeps for these.
const (
	// probeTimeout is the target's per-call timeout.
	probeTimeout = 2 * time.Second
	// roundTimeout bounds one whole probe round.
	roundTimeout = 10 * time.Second
	// waitTimeout bounds waiting for a server state to show in a probe.
	waitTimeout = 60 * time.Second
)

// probeOnce runs one round under roundTimeout.
func probeOnce(p probe.Prober) probe.Observation {
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	return p.Probe(ctx)
}

// waitObservation probes until check accepts an observation and returns
// that observation; it fails the test with the last observation when
// waitTimeout passes first.
func waitObservation(t *testing.T, p probe.Prober, what string, check func(probe.Observation) error) probe.Observation {
	t.Helper()
	var obs probe.Observation
	harness.Eventually(t, waitTimeout, what, func() error {
		obs = probeOnce(p)
		if err := check(obs); err != nil {
			return fmt.Errorf("%w\nlast observation: %s", err, show(obs))
		}
		return nil
	})
	return obs
}

// show renders an observation for a failure message.
func show(obs probe.Observation) string {
	b, err := json.MarshalIndent(obs, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", obs)
	}
	return string(b)
}

func closeOnCleanup(t *testing.T, p probe.Prober) {
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close prober: %v", err)
		}
	})
}
