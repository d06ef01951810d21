package failover

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A primary restarted with its data inside the detection window is the
// same instance: Redis comes back with a new run_id and a new replid, but
// the old replid as its replid2 and its offset continued, so its lineage
// goes on. No failover, no PrimaryLineageBroken, the route stays, and the
// acknowledged writes are all there.
func TestPrimaryRestartedWithItsDataIsTheSameInstance(t *testing.T) {
	// SIGTERM saves an RDB. The detection window is wider than the
	// restart takes even on a loaded machine: a restart that outlasts it
	// is a failure, and failing over is then right.
	e := start(t, opts{redisConfig: []string{"save 3600 1"},
		detection: "{probe_interval: 200ms, probe_timeout: 150ms, min_down_after: 4s, down_after: 8s, opinion_ttl: 3s}"})
	defer e.dumpLogs()
	p := e.top.Primary
	epoch := e.waitRoute("the steward routes the seed primary", p.Addr, 0)
	w := startWriter(t, e.routing.Addr, e.o.cluster)
	w.waitAcked(t, "writes acknowledged on the primary", p.Addr, 200)
	w.halt()
	runID := p.Info(t, "server")["run_id"]

	p.Stop(t) // SIGTERM: Redis saves and exits
	p.Restart(t)
	if got := p.Info(t, "server")["run_id"]; got == runID {
		t.Fatalf("run_id %s unchanged: the server did not restart", got)
	}

	// Several detection windows: nothing may happen.
	time.Sleep(8 * time.Second)
	e.checkAlive()
	h, err := e.route()
	if err != nil {
		t.Fatal(err)
	}
	if h["primary"] != p.Addr || h["epoch"] != fmt.Sprint(epoch) {
		t.Errorf("route moved after a restart with data: %v (was %s at epoch %d)", h, p.Addr, epoch)
	}
	if n := e.logCount("failover: starting"); n != 0 {
		t.Errorf("%d failovers started for a primary restarted with its data", n)
	}
	for _, m := range e.members {
		if strings.Contains(m.s.Logs(), "PrimaryLineageBroken") {
			t.Errorf("%s raised PrimaryLineageBroken for a primary restarted with its data", m.id)
		}
	}
	if lost := w.lost(t, p.Addr); len(lost) > 0 {
		t.Errorf("%d acknowledged writes missing after the restart, e.g. %v", len(lost), lost[:min(10, len(lost))])
	}
}
