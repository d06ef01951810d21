package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
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

// imsentinelConfig is one member's YAML for the detection benchmark: the
// profile's timings, JSON logs at info (the lines read here are warn and
// info), a routing Redis (so the steward never writes to a stranger's
// 127.0.0.1:6379, the default), one Redis cluster with nothing but its
// seed primary and the defaults (self_fence max_lag 10s).
func imsentinelConfig(p profile, m *imMember, members []*imMember, primary, routing string) string {
	return imConfig(p, m, members, fmt.Sprintf("routing: {address: %q}\n", routing),
		fmt.Sprintf("  - {name: %s, kind: redis, primary: %q, quorum: %d}\n", imCluster, primary, quorum))
}

// imCluster names the one cluster of a trial.
const imCluster = "sessions"

// imConfig is one member's YAML: the fleet, the profile's timings, JSON
// logs at info, top (more top-level YAML, "" for none) and the clusters
// list's entries.
func imConfig(p profile, m *imMember, members []*imMember, top, clusters string) string {
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
%s%sclusters:
%s`, m.id, filepath.Join(m.dir, "data"), strings.Join(list, ", "), m.gossip, p.IM.Gossip, m.admin, top, tuning, clusters)
}

func imView(m *imMember) (sentinel.ClusterView, error) {
	var v sentinel.ClusterView
	if err := harness.AdminGet(m.admin, "/v1/clusters/"+imCluster, &v); err != nil {
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

// quietFor is how long the agreement must have been quiet before a fault.
const quietFor = 2500 * time.Millisecond

// imSettled: the fleet is ready (imReady), the steward has committed and
// routed the seed primary and set its self-fence (min-replicas-max-lag
// maxLag seconds), and no member's agreement has logged anything for
// quietFor. After the abstention the steward carries out the repairs
// queued since start-up under short steward leases, and members whose
// observations lag ask again for repairs already done; a fault in the
// middle of that would race them. Candidates back off up to 2 s between
// attempts, hence 2.5 s.
func imSettled(p profile, ms []*imMember, routing string, primary *harness.Redis, maxLag int) error {
	if err := imReady(p, ms, primary.Addr); err != nil {
		return err
	}
	if err := imSeeded(routing, primary, maxLag); err != nil {
		return err
	}
	return imQuiet(ms, primary.Addr, time.Now())
}

// imQuiet: no agreement line (an election, a vote, a lease, a state
// change) in any member's log within quietFor before now.
func imQuiet(ms []*imMember, primary string, now time.Time) error {
	for _, m := range ms {
		evs, err := readEvents(m.s.LogPath, func(line string) (event, bool) { return parseImsentinel(m.id, primary, line) })
		if err != nil {
			return err
		}
		for _, e := range evs {
			if now.Sub(e.At) < quietFor {
				return fmt.Errorf("%s: agreement not quiet: %s at %s", m.id, e.Text, e.At.Format(time.StampMilli))
			}
		}
	}
	return nil
}

// imSeeded: the steward has committed and routed the seed primary and set
// its self-fence (min-replicas-to-write 1, min-replicas-max-lag maxLag).
func imSeeded(routing string, primary *harness.Redis, maxLag int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rc := benchClient(routing, time.Second)
	defer rc.Close()
	if p, err := rc.HGet(ctx, "imsentinel:route:"+imCluster, "primary").Result(); err != nil || p != primary.Addr {
		return fmt.Errorf("route names %q (%v), want %s", p, err, primary.Addr)
	}
	pc := benchClient(primary.Addr, time.Second)
	defer pc.Close()
	v, err := pc.ConfigGet(ctx, "min-replicas-*").Result()
	if err != nil {
		return fmt.Errorf("CONFIG GET on the primary: %w", err)
	}
	if v["min-replicas-to-write"] != "1" || v["min-replicas-max-lag"] != strconv.Itoa(maxLag) {
		return fmt.Errorf("primary's self-fence is %v, want min-replicas-to-write 1, min-replicas-max-lag %d", v, maxLag)
	}
	return nil
}

// startIMFleet starts three fresh imsentinels, config giving each its
// YAML, and returns them and when the last one was started.
func startIMFleet(b *testing.B, p profile, config func(m *imMember, ms []*imMember) string) ([]*imMember, time.Time) {
	b.Helper()
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
			Config: config(m, ms),
			Args:   []string{"--log-format", "json"},
			Dir:    m.dir,
		})
		launched = time.Now()
	}
	return ms, launched
}

// stopIMFleet stops every member by its own PID (SIGTERM, in parallel).
func stopIMFleet(b *testing.B, ms []*imMember) {
	var wg sync.WaitGroup
	for _, m := range ms {
		if m.s != nil {
			wg.Go(func() { m.s.Stop(b) })
		}
	}
	wg.Wait()
}

// waitAbstention sleeps until a fresh fleet votes: a fresh data_dir
// abstains from votes for one lease (DESIGN.md §5.6), so an election
// before then is refused by everyone, which is a start-up cost, not the
// failover latency measured here.
func waitAbstention(p profile, launched time.Time) {
	time.Sleep(time.Until(launched.Add(p.IM.Lease + abstainMargin)))
}

func imSources(ms []*imMember) []logSource {
	srcs := make([]logSource, len(ms))
	for i, m := range ms {
		srcs[i] = logSource{id: m.id, s: m.s}
	}
	return srcs
}

// runImsentinel is one imsentinel trial: a fresh primary with two replicas,
// a fresh fleet of three, kill -9 of the primary once the fleet is ready,
// and the logs read once a leader is elected. Everything is stopped by its
// own PID before it returns.
func runImsentinel(b *testing.B, p profile) trial {
	b.Helper()
	start := time.Now()
	routing := harness.StartRedis(b, harness.RedisOptions{})
	rt := harness.StartRedisTopology(b, 2, harness.RedisOptions{})
	primary := rt.Primary.Addr
	ms, launched := startIMFleet(b, p, func(m *imMember, ms []*imMember) string {
		return imsentinelConfig(p, m, ms, primary, routing.Addr)
	})
	defer func() {
		stopIMFleet(b, ms)
		for _, r := range append(rt.All(), routing) {
			r.Kill(b)
		}
	}()
	harness.Eventually(b, readyTimeout, "the imsentinel fleet is ready", func() error { return imReady(p, ms, primary) })
	waitAbstention(p, launched)
	harness.Eventually(b, readyTimeout, "the imsentinel fleet has settled (seed routed, self-fenced, agreement quiet)",
		func() error { return imSettled(p, ms, routing.Addr, rt.Primary, 10) })
	ready := time.Now()

	// The abstention wait ends at a fixed phase of the last daemon's probe
	// loop: a random pause makes the kill's phase random, as a real crash's.
	time.Sleep(rand.N(p.IM.ProbeInterval))
	kill := time.Now()
	rt.Primary.Kill(b)

	events := waitElected(b, "imsentinel", imSources(ms), func(id, line string) (event, bool) { return parseImsentinel(id, primary, line) })
	a, err := analyze(kill, events, quorum)
	if err != nil {
		b.Fatalf("imsentinel trial: %v; events: %+v", err, events)
	}
	return trial{System: sysImsentinel, Kill: kill, SetupSeconds: ready.Sub(start).Seconds(), Analysis: a, Events: events}
}
