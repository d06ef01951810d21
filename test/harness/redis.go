package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions says how to start one redis-server.
type RedisOptions struct {
	// Port to listen on; 0 picks a free one (and retries if it was taken).
	Port int
	// ReplicaOf is "host:port" of the primary to replicate from; "" = primary.
	ReplicaOf string
	// Password, when set, is both requirepass and masterauth.
	Password string
	// Config holds extra redis.conf lines, appended after the harness's own
	// lines, so they override them (e.g. "appendonly yes" to survive Restart
	// with data; by default nothing is persisted and a restart comes up empty).
	Config []string
}

// Redis is a running (or stopped) redis-server child.
type Redis struct {
	Addr       string // 127.0.0.1:port
	Port       int
	Dir        string // working dir: redis.conf, redis.log, data files
	Password   string
	ConfigPath string // redis.conf; CONFIG REWRITE writes here, Restart reads it
	LogPath    string // redis-server's own log file

	lifecycle
}

// StartRedis starts redis-server and waits until PING answers. The process is
// SIGKILLed and its dir removed when the test ends.
func StartRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	Require(t, "redis-server")
	r, err := startRedis(t, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return r
}

// startRedis is StartRedis without t.Fatal, so goroutines may call it.
func startRedis(t testing.TB, o RedisOptions) (*Redis, error) {
	bin, err := lookBin("redis-server")
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	r := &Redis{Dir: dir, Password: o.Password,
		ConfigPath: filepath.Join(dir, "redis.conf"), LogPath: filepath.Join(dir, "redis.log")}
	r.p = &proc{bin: bin, args: []string{r.ConfigPath}, dir: dir, outPath: filepath.Join(dir, "stdout.log")}
	t.Cleanup(func() { r.cleanup(t) })
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		r.Port, r.Addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		r.p.name = "redis " + r.Addr
		if err := os.WriteFile(r.ConfigPath, []byte(redisConf(r, o)), 0o644); err != nil {
			return nil, fmt.Errorf("start redis: write config: %w", err)
		}
		if err := r.p.start(); err != nil {
			return nil, err
		}
		err = r.waitPing(StartTimeout)
		if err == nil {
			return r, nil
		}
		// Another process may have taken the port between FreePort and bind.
		if o.Port != 0 || attempt == 3 || !r.p.exited() || !strings.Contains(tailFile(r.LogPath, 20), "Address already in use") {
			_ = r.p.kill()
			return nil, err
		}
	}
}

// redisConf is the redis.conf the harness writes.
func redisConf(r *Redis, o RedisOptions) string {
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(r.Port),
		"protected-mode no",
		"daemonize no",
		"dir " + r.Dir,
		"logfile " + r.LogPath,
		"pidfile " + filepath.Join(r.Dir, "redis.pid"),
		`save ""`,
		"appendonly no",
		"repl-ping-replica-period 1",
		"repl-diskless-sync yes",
		"repl-diskless-sync-delay 0", // default 5 s delays every full sync
		"enable-debug-command local",
	}
	if o.Password != "" {
		lines = append(lines, "requirepass "+o.Password, "masterauth "+o.Password)
	}
	if o.ReplicaOf != "" {
		host, port, err := net.SplitHostPort(o.ReplicaOf)
		if err != nil {
			host, port = o.ReplicaOf, ""
		}
		lines = append(lines, "replicaof "+host+" "+port)
	}
	lines = append(lines, o.Config...)
	return strings.Join(lines, "\n") + "\n"
}

// cleanup kills the server and, when the test failed, logs its log's tail.
func (r *Redis) cleanup(t testing.TB) {
	if err := r.p.kill(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, e := range r.p.unexpectedExits() {
		t.Logf("harness: %s", e)
	}
	if t.Failed() {
		t.Logf("harness: %s (dir %s) log tail:\n%s", r.p.name, r.Dir, tailFile(r.LogPath, serverLogTailLines))
	}
}

// newClient is a client for harness-internal polls: fast failure, no retries.
func (r *Redis) newClient() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: r.Addr, Password: r.Password, Protocol: 2, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxRetries: -1, PoolSize: 1,
	})
}

// waitPing polls PING until PONG; it gives up at once if the process exits.
func (r *Redis) waitPing(timeout time.Duration) error {
	c := r.newClient()
	defer c.Close()
	err := poll(timeout, func() error {
		if err := r.p.errIfExited(r.LogPath); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
	if err != nil {
		return fmt.Errorf("wait for %s to answer PING: %w", r.p.name, err)
	}
	return nil
}

// Logs returns redis-server's log file.
func (r *Redis) Logs() string {
	b, _ := os.ReadFile(r.LogPath)
	return string(b)
}

// Client returns a go-redis client with default options plus Password and
// ContextTimeoutEnabled (a context deadline bounds each call),
// closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Restart starts the server again (after Kill/Stop; if still running it is
// killed first) with the same port, dir and config file, and waits for PING.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	if err := r.p.kill(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := r.p.start(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := r.waitPing(StartTimeout); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// Info returns one INFO section's fields (e.g. "replication").
func (r *Redis) Info(t testing.TB, section string) map[string]string {
	t.Helper()
	m, err := r.info(section)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return m
}

func (r *Redis) info(section string) (map[string]string, error) {
	c := r.newClient()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("INFO %s on %s: %w", section, r.Addr, err)
	}
	return parseInfo(s), nil
}

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// WaitReplicating waits until this replica's master_link_status is up (and,
// if primary is not nil, its master_port is primary's).
func (r *Redis) WaitReplicating(t testing.TB, primary *Redis) {
	t.Helper()
	if err := r.waitLinkUp(primary); err != nil {
		t.Fatalf("%v", err)
	}
}

func (r *Redis) waitLinkUp(primary *Redis) error {
	err := poll(ReplicationTimeout, func() error {
		if r.p.exited() {
			return stopPolling{fmt.Errorf("%s is not running (%s)", r.p.name, r.p.exitState())}
		}
		m, err := r.info("replication")
		if err != nil {
			return err
		}
		if m["role"] != "slave" || m["master_link_status"] != "up" {
			return fmt.Errorf("role=%s master_link_status=%s", m["role"], m["master_link_status"])
		}
		if primary != nil && m["master_port"] != strconv.Itoa(primary.Port) {
			return fmt.Errorf("master_port=%s, want %d", m["master_port"], primary.Port)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for replica %s to replicate: %w", r.Addr, err)
	}
	return nil
}

// RedisTopology is one primary and its replicas.
type RedisTopology struct {
	Primary  *Redis
	Replicas []*Redis
}

// All returns the primary followed by the replicas.
func (tp *RedisTopology) All() []*Redis { return append([]*Redis{tp.Primary}, tp.Replicas...) }

// StartRedisTopology starts a primary and n replicas of it (all with o's
// Password and Config; o.Port and o.ReplicaOf must be unset) and waits until
// every replica's master_link_status is up.
func StartRedisTopology(t testing.TB, replicas int, o RedisOptions) *RedisTopology {
	t.Helper()
	Require(t, "redis-server")
	if o.Port != 0 || o.ReplicaOf != "" {
		t.Fatalf("StartRedisTopology: RedisOptions.Port (%d) and ReplicaOf (%q) must be unset", o.Port, o.ReplicaOf)
	}
	primary, err := startRedis(t, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	tp := &RedisTopology{Primary: primary, Replicas: make([]*Redis, replicas)}
	ro := o
	ro.ReplicaOf = primary.Addr
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			r, err := startRedis(t, ro)
			if err == nil {
				err = r.waitLinkUp(primary)
			}
			tp.Replicas[i], errs[i] = r, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start redis topology: %v", err)
	}
	return tp
}
