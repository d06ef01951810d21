package bench

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// imMember is one imsentinel of a trial's fleet.
type imMember struct {
	id            string
	admin, gossip int
	dir           string
	s             *harness.Sentinel
}

// imsentinelConfig is one member's YAML: the profile's timings, JSON logs
// at info (the lines read here are warn and info), one Redis cluster.
func imsentinelConfig(p profile, m *imMember, members []*imMember, primary string) string {
	var list []string
	for _, o := range members {
		list = append(list, fmt.Sprintf("{id: %s, address: \"127.0.0.1:%d\"}", o.id, o.gossip))
	}
	var tuning string
	if p.IM.Detection != "" {
		tuning += "detection: {" + p.IM.Detection + "}\n"
	}
	if p.IM.Failover != "" {
		tuning += "failover: {" + p.IM.Failover + "}\n"
	}
	return fmt.Sprintf(`
sentinel: {id: %s, data_dir: %s}
fleet: {name: bench, members: [%s]}
gossip: {bind: "127.0.0.1:%d", profile: %s}
admin: {listen: "127.0.0.1:%d"}
log: {level: info}
%sclusters:
  - {name: sessions, kind: redis, primary: %q, quorum: %d}
`, m.id, filepath.Join(m.dir, "data"), strings.Join(list, ", "), m.gossip, p.IM.Gossip, m.admin, tuning, primary, quorum)
}

func imView(m *imMember) (sentinel.ClusterView, error) {
	var v sentinel.ClusterView
	if err := harness.AdminGet(m.admin, "/v1/clusters/sessions", &v); err != nil {
		return v, fmt.Errorf("%s: %w", m.id, err)
	}
	return v, nil
}

// imReady: the fleet has bootstrapped (state ok, not learning), every
// member probes the primary and both replicas, and every member's detector
// has finished its warm-up on the primary (window below down_after; it
// starts at down_after for the first 8 gaps, docs/detector.md), so a trial
// measures detection as configured, not the warm-up.
func imReady(p profile, ms []*imMember, primary string) error {
	for _, m := range ms {
		if m.s.Exited() {
			return fmt.Errorf("%s exited (code %d):\n%s", m.id, m.s.ExitCode(), m.s.Logs())
		}
		v, err := imView(m)
		if err != nil {
			return err
		}
		if v.State != "ok" {
			return fmt.Errorf("%s: state %s (%s)", m.id, v.State, v.Agreement.Tally)
		}
		if len(v.Instances) != 3 {
			return fmt.Errorf("%s: %d instances known, want 3", m.id, len(v.Instances))
		}
		for _, in := range v.Instances {
			if in.Address == primary && (in.Detector.WindowMS <= 0 || in.Detector.WindowMS > p.IM.MinDownAfterMS) {
				return fmt.Errorf("%s: detector window on the primary %.0f ms, waiting for it to settle at %.0f ms", m.id, in.Detector.WindowMS, p.IM.MinDownAfterMS)
			}
		}
	}
	return nil
}

// runImsentinel is one imsentinel trial: a fresh primary with two replicas,
// a fresh fleet of three, kill -9 of the primary once the fleet is ready,
// and the logs read once a leader is elected. Everything is stopped by its
// own PID before it returns.
func runImsentinel(b *testing.B, p profile) trial {
	b.Helper()
	start := time.Now()
	rt := harness.StartRedisTopology(b, 2, harness.RedisOptions{})
	primary := rt.Primary.Addr
	var ms []*imMember
	for _, id := range []string{"s1", "s2", "s3"} {
		ms = append(ms, &imMember{id: id, admin: harness.FreePort(b), gossip: harness.FreePort(b), dir: b.TempDir()})
	}
	var launched time.Time
	for i, m := range ms {
		if i > 0 {
			// Daemons that start together probe in phase; in production
			// they do not. A random offset within one probe interval
			// spreads their probe phases as unrelated starts would.
			time.Sleep(rand.N(p.IM.ProbeInterval))
		}
		m.s = harness.StartSentinel(b, harness.SentinelOptions{
			Config: imsentinelConfig(p, m, ms, primary),
			Args:   []string{"--log-format", "json"},
			Dir:    m.dir,
		})
		launched = time.Now()
	}
	defer func() {
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Go(func() { m.s.Stop(b) })
		}
		wg.Wait()
		for _, r := range rt.All() {
			r.Kill(b)
		}
	}()
	harness.Eventually(b, readyTimeout, "the imsentinel fleet is ready", func() error { return imReady(p, ms, primary) })
	// A fresh data_dir abstains from votes for one lease (DESIGN.md §5.6):
	// an election before then is refused by everyone, which is a start-up
	// cost, not the failover latency measured here.
	time.Sleep(time.Until(launched.Add(p.IM.Lease + abstainMargin)))
	if err := imReady(p, ms, primary); err != nil {
		b.Fatalf("imsentinel fleet no longer ready after the abstention: %v", err)
	}
	ready := time.Now()

	// The abstention wait ends at a fixed phase of the last daemon's probe
	// loop: a random pause makes the kill's phase random, as a real crash's.
	time.Sleep(rand.N(p.IM.ProbeInterval))
	kill := time.Now()
	rt.Primary.Kill(b)

	srcs := make([]logSource, len(ms))
	for i, m := range ms {
		srcs[i] = logSource{id: m.id, s: m.s}
	}
	events := waitElected(b, "imsentinel", srcs, func(id, line string) (event, bool) { return parseImsentinel(id, primary, line) })
	a, err := analyze(kill, events, quorum)
	if err != nil {
		b.Fatalf("imsentinel trial: %v; events: %+v", err, events)
	}
	return trial{System: sysImsentinel, Kill: kill, SetupSeconds: ready.Sub(start).Seconds(), Analysis: a, Events: events}
}
