package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imsentinel/imsentinel/test/harness"
)

const masterName = "mymaster"

// redisSentinelLauncher writes a two-line script that harness.StartSentinel
// can run as its Binary: the harness runs `<binary> --config <path>`, and
// the script execs Redis Sentinel on that file (exec: the PID the harness
// signals and waits on is Redis Sentinel's own). So Redis Sentinel gets
// everything the harness gives imsentinel: Pdeathsig, a Wait() goroutine,
// SIGTERM by its own PID at the end, the log tail on failure.
func redisSentinelLauncher(b *testing.B) string {
	b.Helper()
	harness.Require(b, "redis-server", "redis-sentinel")
	var run string
	if bin, err := exec.LookPath("redis-sentinel"); err == nil {
		run = fmt.Sprintf("exec %q \"$2\"", bin)
	} else {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			b.Fatalf("neither redis-sentinel nor redis-server on PATH (%s)", harness.InstallHint)
		}
		run = fmt.Sprintf("exec %q \"$2\" --sentinel", bin)
	}
	path := filepath.Join(b.TempDir(), "redis-sentinel-launcher")
	script := "#!/bin/sh\n# called as: <this> --config <sentinel.conf>\n" + run + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		b.Fatalf("write %s: %v", path, err)
	}
	return path
}

// redisSentinelConfig is a sentinel.conf with the profile's settings. The
// log goes to stdout (the harness's LogPath); Redis Sentinel rewrites this
// file with its id, the replicas and the other sentinels it learns.
func redisSentinelConfig(p profile, port int, dir string, primary *harness.Redis) string {
	return strings.Join([]string{
		"port " + fmt.Sprint(port),
		"bind 127.0.0.1",
		"daemonize no",
		`logfile ""`,
		"dir " + dir,
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", masterName, primary.Port, quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", masterName, p.RS.DownAfterMS),
		fmt.Sprintf("sentinel failover-timeout %s %d", masterName, p.RS.FailoverTimeoutMS),
		fmt.Sprintf("sentinel parallel-syncs %s 1", masterName),
	}, "\n") + "\n"
}

type rsMember struct {
	id   string
	port int
	s    *harness.Sentinel
}

// sentinelFields runs a SENTINEL subcommand returning one flat field list
// (RESP2) and returns it as a map.
func sentinelFields(ctx context.Context, c *redis.Client, args ...any) (map[string]string, error) {
	v, err := c.Do(ctx, append([]any{"SENTINEL"}, args...)...).Slice()
	if err != nil {
		return nil, err
	}
	return pairs(v), nil
}

func pairs(v []any) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(v); i += 2 {
		m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
	}
	return m
}

// rsReady: every sentinel sees the master up, both replicas, and the two
// other sentinels with a live link (they find each other by hello messages
// every 2 s through the master).
func rsReady(ms []*rsMember) error {
	for _, m := range ms {
		if m.s.Exited() {
			return fmt.Errorf("%s exited (code %d):\n%s", m.id, m.s.ExitCode(), m.s.Logs())
		}
		err := func() error {
			c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", m.port), Protocol: 2,
				DisableIdentity: true, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second,
				ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			f, err := sentinelFields(ctx, c, "MASTER", masterName)
			if err != nil {
				return fmt.Errorf("%s: SENTINEL MASTER: %w", m.id, err)
			}
			if f["flags"] != "master" || f["num-slaves"] != "2" || f["num-other-sentinels"] != "2" {
				return fmt.Errorf("%s: flags=%s num-slaves=%s num-other-sentinels=%s", m.id, f["flags"], f["num-slaves"], f["num-other-sentinels"])
			}
			others, err := c.Do(ctx, "SENTINEL", "SENTINELS", masterName).Slice()
			if err != nil {
				return fmt.Errorf("%s: SENTINEL SENTINELS: %w", m.id, err)
			}
			for _, o := range others {
				l, _ := o.([]any)
				if f := pairs(l); f["flags"] != "sentinel" {
					return fmt.Errorf("%s: sentinel %s:%s has flags %s", m.id, f["ip"], f["port"], f["flags"])
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// startRSFleet starts three fresh Redis Sentinels monitoring primary, at
// random offsets within one PING period (one a second) so their phases
// are unrelated, as for imsentinel.
func startRSFleet(b *testing.B, p profile, launcher string, primary *harness.Redis) []*rsMember {
	b.Helper()
	var ms []*rsMember
	for i, id := range []string{"r1", "r2", "r3"} {
		if i > 0 {
			time.Sleep(rand.N(time.Second))
		}
		m := &rsMember{id: id, port: harness.FreePort(b)}
		dir := b.TempDir()
		m.s = harness.StartSentinel(b, harness.SentinelOptions{
			Config: redisSentinelConfig(p, m.port, dir, primary),
			Binary: launcher,
			Dir:    dir,
		})
		ms = append(ms, m)
	}
	return ms
}

// stopRSFleet stops every Redis Sentinel by its own PID (SIGTERM, in
// parallel).
func stopRSFleet(b *testing.B, ms []*rsMember) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() { m.s.Stop(b) })
	}
	wg.Wait()
}

func rsSources(ms []*rsMember) []logSource {
	srcs := make([]logSource, len(ms))
	for i, m := range ms {
		srcs[i] = logSource{id: m.id, s: m.s}
	}
	return srcs
}

// runRedisSentinel is one Redis Sentinel trial, the same as runImsentinel:
// a fresh topology, three fresh sentinels, kill -9 of the primary once they
// all know each other, the logs read once a leader is elected.
func runRedisSentinel(b *testing.B, p profile, launcher string) trial {
	b.Helper()
	start := time.Now()
	rt := harness.StartRedisTopology(b, 2, harness.RedisOptions{})
	ms := startRSFleet(b, p, launcher, rt.Primary)
	defer func() {
		stopRSFleet(b, ms)
		for _, r := range rt.All() {
			r.Kill(b)
		}
	}()
	harness.Eventually(b, readyTimeout, "the Redis Sentinels know each other", func() error { return rsReady(ms) })
	ready := time.Now()

	// As for imsentinel: a random phase against the sentinels' PINGs.
	time.Sleep(rand.N(time.Second))
	kill := time.Now()
	rt.Primary.Kill(b)

	events := waitElected(b, "Redis Sentinel", rsSources(ms), func(id, line string) (event, bool) { return parseRedisSentinel(id, masterName, line) })
	a, err := analyze(kill, events, quorum)
	if err != nil {
		b.Fatalf("Redis Sentinel trial: %v; events: %+v", err, events)
	}
	return trial{System: sysRedisSentinel, Kill: kill, SetupSeconds: ready.Sub(start).Seconds(), Analysis: a, Events: events}
}
