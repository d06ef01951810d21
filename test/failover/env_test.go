package failover

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// deadline for anything to show: generous for a loaded 2-core machine
// (DESIGN.md §8).
const deadline = 60 * time.Second

// opts shape one test's cluster.
type opts struct {
	cluster   string
	fenceWait string // strict (default) or fast
	replicas  int    // default 2
	extra     string // more YAML lines for the cluster entry
	// second adds a second cluster, "<cluster>-2", with its own primary
	// and replicas (e.tops[1]).
	second bool
	// redisConfig are extra redis.conf lines for every data node.
	redisConfig []string
	// faults starts the fault-injection build (harness.FaultsBinary), with
	// env added to every sentinel's environment.
	faults bool
	env    []string
	// detection replaces the detection section (a YAML flow mapping).
	detection string
	// token is admin.token: mutating admin calls need it.
	token string
	// proxyPrimary puts the first cluster's primary behind one TCP proxy
	// that every sentinel reaches it through (address_map), so a test can
	// cut the whole fleet off from it while its replicas still reach it.
	proxyPrimary bool
}

type member struct {
	id            string
	admin, gossip int
	dataDir       string
	s             *harness.Sentinel
}

// env is one test's world: a Redis cluster, a routing Redis and a fleet of
// three sentinels.
type env struct {
	t       *testing.T
	o       opts
	top     *harness.RedisTopology   // the first cluster's nodes
	tops    []*harness.RedisTopology // every cluster's nodes, in names order
	names   []string
	routing *harness.Redis
	members []*member
	proxy   *harness.Proxy // the primary's proxy (opts.proxyPrimary)
	mayExit map[string]bool
}

func start(t *testing.T, o opts) *env {
	t.Helper()
	harness.Require(t, "redis-server")
	if o.cluster == "" {
		o.cluster = "sessions"
	}
	if o.fenceWait == "" {
		o.fenceWait = "strict"
	}
	if o.replicas == 0 {
		o.replicas = 2
	}
	if o.detection == "" {
		o.detection = "{probe_interval: 200ms, probe_timeout: 150ms, min_down_after: 1s, down_after: 5s, opinion_ttl: 3s}"
	}
	e := &env{t: t, o: o}
	e.routing = harness.StartRedis(t, harness.RedisOptions{})
	e.names = []string{o.cluster}
	if o.second {
		e.names = append(e.names, o.cluster+"-2")
	}
	for range e.names {
		e.tops = append(e.tops, harness.StartRedisTopology(t, o.replicas, harness.RedisOptions{Config: o.redisConfig}))
	}
	e.top = e.tops[0]
	if o.proxyPrimary {
		e.proxy = harness.StartProxy(t, e.top.Primary.Addr)
	}
	for _, id := range []string{"s1", "s2", "s3"} {
		e.members = append(e.members, &member{id: id, admin: harness.FreePort(t), gossip: harness.FreePort(t), dataDir: t.TempDir()})
	}
	for _, m := range e.members {
		so := harness.SentinelOptions{Config: e.config(m), Env: o.env}
		if o.faults {
			so.Binary = harness.FaultsBinary(t)
		}
		m.s = harness.StartSentinel(t, so)
	}
	for _, name := range e.names {
		watchInvariants(t, e.routing.Addr, name)
	}
	return e
}

// config is one member's YAML: the CI detection profile (DESIGN.md §8).
func (e *env) config(m *member) string {
	var list []string
	for _, o := range e.members {
		list = append(list, fmt.Sprintf("{id: %s, address: \"127.0.0.1:%d\"}", o.id, o.gossip))
	}
	var clusters strings.Builder
	for i, name := range e.names {
		var replicas []string
		for _, r := range e.tops[i].Replicas {
			replicas = append(replicas, strconv.Quote(r.Addr))
		}
		primary, extra := e.tops[i].Primary.Addr, e.o.extra
		if i == 0 && e.proxy != nil {
			primary = e.proxy.Addr()
			extra += fmt.Sprintf("    address_map: [{reported: %q, reach: %q}]\n", e.tops[i].Primary.Addr, e.proxy.Addr())
		}
		fmt.Fprintf(&clusters, `
  - name: %s
    kind: redis
    primary: %q
    replicas: [%s]
    quorum: 2
    fence_wait: %s
    self_fence: {enabled: true, min_replicas: 1, max_lag: 2s}
    heartbeat: {manage: true, period: 1s}
%s`, name, primary, strings.Join(replicas, ", "), e.o.fenceWait, extra)
	}
	return fmt.Sprintf(`
sentinel: {id: %s, data_dir: %s}
fleet: {name: e2e, members: [%s]}
gossip: {bind: "127.0.0.1:%d", profile: local}
admin: {listen: "127.0.0.1:%d", token: %q}
routing: {address: %q}
log: {level: debug}
detection: %s
failover: {lease: 5s, lease_drift_margin: 500ms, election_timeout: 1s, cooldown: 30s}
clusters:%s`, m.id, m.dataDir, strings.Join(list, ", "), m.gossip, m.admin, e.o.token, e.routing.Addr, e.o.detection, clusters.String())
}

func (e *env) view(m *member) (sentinel.ClusterView, error) {
	var v sentinel.ClusterView
	if err := harness.AdminGet(m.admin, "/v1/clusters/"+e.o.cluster, &v); err != nil {
		return v, fmt.Errorf("%s: %w", m.id, err)
	}
	return v, nil
}

// route reads the first cluster's routing entry straight from the
// routing Redis.
func (e *env) route() (map[string]string, error) { return e.routeOf(e.o.cluster) }

// routeOf reads a cluster's routing entry straight from the routing Redis.
func (e *env) routeOf(cluster string) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: e.routing.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.HGetAll(ctx, "imsentinel:route:"+cluster).Result()
}

// waitRoute waits until the route names primary at an epoch above
// minEpoch, and returns that epoch.
func (e *env) waitRoute(what, primary string, minEpoch uint64) uint64 {
	e.t.Helper()
	return e.waitRouteOf(e.o.cluster, what, primary, minEpoch)
}

// waitRouteOf is waitRoute for any cluster.
func (e *env) waitRouteOf(cluster, what, primary string, minEpoch uint64) uint64 {
	e.t.Helper()
	var epoch uint64
	harness.Eventually(e.t, deadline, what, func() error {
		e.checkAlive()
		h, err := e.routeOf(cluster)
		if err != nil {
			return err
		}
		epoch, _ = strconv.ParseUint(h["epoch"], 10, 64)
		if h["primary"] != primary || epoch <= minEpoch {
			return fmt.Errorf("route is %v, want primary %s above epoch %d", h, primary, minEpoch)
		}
		return nil
	})
	return epoch
}

// checkAlive fails the test when a sentinel has exited.
func (e *env) checkAlive() {
	for _, m := range e.members {
		if m.s.Exited() && !e.mayExit[m.id] {
			e.t.Fatalf("%s exited (code %d):\n%s", m.id, m.s.ExitCode(), m.s.Logs())
		}
	}
}

// role asks a node for its role ("" when it does not answer).
func role(r *harness.Redis) (string, string) {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "", ""
	}
	kv := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = v
		}
	}
	if kv["role"] == "slave" {
		return "slave", kv["master_host"] + ":" + kv["master_port"]
	}
	return kv["role"], ""
}

// logCount counts lines containing s over every sentinel's log.
func (e *env) logCount(s string) int {
	n := 0
	for _, m := range e.members {
		n += strings.Count(m.s.Logs(), s)
	}
	return n
}

// logTimeline logs the executors' lines of every sentinel: the failover's
// steps as they happened, for the record.
func (e *env) logTimeline() {
	for _, m := range e.members {
		for _, line := range strings.Split(m.s.Logs(), "\n") {
			if strings.Contains(line, "failover:") || strings.Contains(line, "step ") || strings.Contains(line, "steward:") {
				e.t.Logf("%s: %s", m.id, line)
			}
		}
	}
}

// dumpLogs logs every sentinel's log when the test failed.
func (e *env) dumpLogs() {
	if !e.t.Failed() {
		return
	}
	for _, m := range e.members {
		b, _ := os.ReadFile(m.s.LogPath)
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, "level=DEBUG") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 150 {
			lines = lines[len(lines)-150:]
		}
		e.t.Logf("=== %s log (tail) ===\n%s", m.id, strings.Join(lines, "\n"))
	}
}

// invariants polls the route continuously: its epoch never goes down, and
// one epoch never names two primaries (DESIGN.md §6.7, §8).
type invariants struct {
	mu         sync.Mutex
	violations []string
	seen       map[uint64]string
	stop       chan struct{}
	done       chan struct{}
}

func watchInvariants(t *testing.T, routing, cluster string) *invariants {
	inv := &invariants{seen: map[uint64]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	c := redis.NewClient(&redis.Options{Addr: routing, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond})
	go func() {
		defer close(inv.done)
		defer c.Close()
		var last uint64
		for {
			select {
			case <-inv.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			h, err := c.HGetAll(context.Background(), "imsentinel:route:"+cluster).Result()
			if err != nil || len(h) == 0 {
				continue // down or flushed: the steward rewrites it
			}
			epoch, _ := strconv.ParseUint(h["epoch"], 10, 64)
			inv.mu.Lock()
			if epoch < last {
				inv.violations = append(inv.violations, fmt.Sprintf("route went back from epoch %d to %d (%v)", last, epoch, h))
			}
			if p, ok := inv.seen[epoch]; ok && p != h["primary"] {
				inv.violations = append(inv.violations, fmt.Sprintf("epoch %d named %s and then %s", epoch, p, h["primary"]))
			}
			inv.seen[epoch] = h["primary"]
			last = max(last, epoch)
			inv.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		close(inv.stop)
		<-inv.done
		inv.mu.Lock()
		defer inv.mu.Unlock()
		for _, v := range inv.violations {
			t.Errorf("invariant: %s", v)
		}
	})
	return inv
}
