package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/probe/redisprobe"
	"github.com/imsentinel/imsentinel/test/harness"
)

func redisProber(t *testing.T, addr string) probe.Prober {
	p := redisprobe.New(probe.Target{Cluster: "r", Kind: probe.KindRedis, Address: addr, Timeout: probeTimeout})
	closeOnCleanup(t, p)
	return p
}

// redisDo runs one command on a server through the harness's client (the
// test's own writes; the prober never writes).
func redisDo(t *testing.T, r *harness.Redis, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	if err := r.Client(t).Do(ctx, args...).Err(); err != nil {
		t.Fatalf("%v on %s: %v", args, r.Addr, err)
	}
}

// TestRedisRoles probes a primary and its replicas, then kills the primary
// and watches the replicas' view of it (DESIGN.md §5.4: what vantage reads).
func TestRedisRoles(t *testing.T) {
	harness.Require(t, "redis-server")
	tp := harness.StartRedisTopology(t, 2, harness.RedisOptions{})
	r1, r2 := tp.Replicas[0], tp.Replicas[1]
	redisDo(t, r1, "config", "set", "replica-priority", "50")
	for i := range 20 {
		redisDo(t, tp.Primary, "set", fmt.Sprintf("k%d", i), "v")
	}

	pp := redisProber(t, tp.Primary.Addr)
	p1 := redisProber(t, r1.Addr)
	p2 := redisProber(t, r2.Addr)

	var primaryFacts probe.RedisFacts
	t.Run("primary", func(t *testing.T) {
		obs := waitObservation(t, pp, "primary sees both replicas online at its offset", func(o probe.Observation) error {
			switch {
			case !o.Reachable || o.Error != "":
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			case o.Role != probe.RolePrimary:
				return fmt.Errorf("role %v", o.Role)
			case !slices.Contains(o.Replicas, r1.Addr) || !slices.Contains(o.Replicas, r2.Addr):
				return fmt.Errorf("replicas %v, want %s and %s", o.Replicas, r1.Addr, r2.Addr)
			}
			for _, rep := range o.Redis.Replicas {
				if rep.State != "online" || rep.Offset != o.Redis.Offset {
					return fmt.Errorf("replica %+v not online at offset %d", rep, o.Redis.Offset)
				}
			}
			return nil
		})
		f := obs.Redis
		primaryFacts = *f
		if obs.ReadOnly || obs.Primary != "" {
			t.Errorf("primary: read_only=%v primary=%q, want false and empty", obs.ReadOnly, obs.Primary)
		}
		if f.ConnectedReplicas != 2 || len(f.ReplID) != 40 || f.Offset <= 0 || f.SecondOffset != -1 {
			t.Errorf("primary facts: connected=%d replid=%q offset=%d second=%d", f.ConnectedReplicas, f.ReplID, f.Offset, f.SecondOffset)
		}
		if f.Settings == nil || f.Settings.PingReplicaPeriodSeconds != 1 {
			t.Errorf("settings = %+v, want repl-ping-replica-period 1 (harness redis.conf)", f.Settings)
		}
		if obs.RTT <= 0 || f.RunID == "" || f.Version == "" {
			t.Errorf("rtt=%v run_id=%q version=%q", obs.RTT, f.RunID, f.Version)
		}
	})

	t.Run("replica", func(t *testing.T) {
		obs := waitObservation(t, p1, "replica up to date with a fresh link", func(o probe.Observation) error {
			switch {
			case !o.Reachable || o.Error != "":
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			case o.Role != probe.RoleReplica || o.Primary != tp.Primary.Addr:
				return fmt.Errorf("role %v primary %q, want replica of %s", o.Role, o.Primary, tp.Primary.Addr)
			case !o.Redis.LinkUp:
				return errors.New("link down")
			case o.Redis.ReplicaOffset < primaryFacts.Offset:
				return fmt.Errorf("replica offset %d behind %d", o.Redis.ReplicaOffset, primaryFacts.Offset)
			}
			return nil
		})
		f := obs.Redis
		// The primary pings every second (repl-ping-replica-period 1); a few
		// seconds of slack for a loaded machine.
		if f.LastIOSecondsAgo < 0 || f.LastIOSecondsAgo > 5 {
			t.Errorf("master_last_io_seconds_ago = %d, want 0..5", f.LastIOSecondsAgo)
		}
		if f.Priority != 50 || !obs.ReadOnly || !f.ReplicaReadOnly {
			t.Errorf("priority=%d read_only=%v, want 50 and true", f.Priority, obs.ReadOnly)
		}
		if f.ReplID != primaryFacts.ReplID {
			t.Errorf("replica replid %q, want the primary's %q (same lineage)", f.ReplID, primaryFacts.ReplID)
		}
		if f.LinkDownSinceSeconds != 0 {
			t.Errorf("master_link_down_since_seconds = %d while up", f.LinkDownSinceSeconds)
		}
	})

	t.Run("replica of a killed primary", func(t *testing.T) {
		redisDo(t, r2, "config", "set", "replica-serve-stale-data", "no")
		tp.Primary.Kill(t)

		first := waitObservation(t, p1, "replica sees its link down", func(o probe.Observation) error {
			switch {
			case !o.Reachable || o.Error != "":
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			case o.Redis.LinkUp:
				return errors.New("link still up")
			case o.Redis.LinkDownSinceSeconds < 1:
				return fmt.Errorf("link down since %d s", o.Redis.LinkDownSinceSeconds)
			}
			return nil
		})
		if first.Role != probe.RoleReplica || first.Primary != tp.Primary.Addr || first.Redis.LastIOSecondsAgo != -1 {
			t.Errorf("role=%v primary=%q last_io=%d, want replica of %s, -1", first.Role, first.Primary, first.Redis.LastIOSecondsAgo, tp.Primary.Addr)
		}
		waitObservation(t, p1, "link_down_since grows", func(o probe.Observation) error {
			if o.Redis == nil || o.Redis.LinkDownSinceSeconds <= first.Redis.LinkDownSinceSeconds {
				return fmt.Errorf("still at most %d s", first.Redis.LinkDownSinceSeconds)
			}
			return nil
		})

		// replica-serve-stale-data no: PING answers -MASTERDOWN, which is
		// alive; INFO still answers.
		obs := waitObservation(t, p2, "MASTERDOWN replica is reachable", func(o probe.Observation) error {
			if !o.Reachable || o.Redis == nil || !o.Redis.PrimaryDown {
				return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
			}
			return nil
		})
		if obs.Role != probe.RoleReplica || obs.Redis.LinkUp {
			t.Errorf("MASTERDOWN replica: role=%v link_up=%v", obs.Role, obs.Redis.LinkUp)
		}
	})

	t.Run("the killed primary", func(t *testing.T) {
		// The prober that knew it (its pooled connection died with it) and
		// a fresh one both find it unreachable.
		if obs := probeOnce(pp); obs.Reachable || obs.Error == "" {
			t.Errorf("killed primary via its old prober: reachable=%v error=%q", obs.Reachable, obs.Error)
		}
		testRefused(t, redisProber(t, tp.Primary.Addr), tp.Primary.Addr)
	})
}

// testRefused probes a closed port: unreachable at once, not after a timeout.
func testRefused(t *testing.T, p probe.Prober, addr string) {
	t.Helper()
	start := time.Now()
	obs := probeOnce(p)
	took := time.Since(start)
	if obs.Reachable || obs.Role != probe.RoleUnknown {
		t.Fatalf("refused %s: reachable=%v role=%v, want false, unknown\n%s", addr, obs.Reachable, obs.Role, show(obs))
	}
	if !strings.Contains(obs.Error, "probe "+addr+":") || !strings.Contains(obs.Error, "refused") {
		t.Errorf("refused %s: error %q, want it to name the address and the refusal", addr, obs.Error)
	}
	// A refusal needs no timeout; this only checks that none was waited for.
	if took >= probeTimeout {
		t.Errorf("refused %s: probe took %v, at least the %v timeout", addr, took, probeTimeout)
	}
}

func TestRedisRefused(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	testRefused(t, redisProber(t, addr), addr)
}

// TestRedisPaused probes a SIGSTOPped server: the round ends by its
// deadline, unreachable; after SIGCONT the same prober sees it again.
func TestRedisPaused(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{})
	p := redisprobe.New(probe.Target{Address: r.Addr, Timeout: 500 * time.Millisecond})
	closeOnCleanup(t, p)
	if obs := probeOnce(p); !obs.Reachable {
		t.Fatalf("before pause: %s", show(obs))
	}

	r.Pause(t)
	t.Cleanup(func() { r.Resume(t) })
	const deadline = 1500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	obs := p.Probe(ctx)
	took := time.Since(start)
	if obs.Reachable || obs.Error == "" {
		t.Errorf("paused: reachable=%v error=%q, want false and a timeout", obs.Reachable, obs.Error)
	}
	// Returning by the deadline is the contract; allow scheduling slack.
	if took > deadline+time.Second {
		t.Errorf("paused: probe returned after %v, deadline %v", took, deadline)
	}

	r.Resume(t)
	waitObservation(t, p, "reachable after SIGCONT", func(o probe.Observation) error {
		if !o.Reachable || o.Role != probe.RolePrimary {
			return fmt.Errorf("reachable=%v role=%v error=%q", o.Reachable, o.Role, o.Error)
		}
		return nil
	})
}

// TestRedisLoading probes a server while DEBUG RELOAD reloads a slowed-down
// RDB: PING answers -LOADING, which counts as alive.
func TestRedisLoading(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{Config: []string{
		"key-load-delay 100", // µs per key while loading
		"loading-process-events-interval-bytes 1024",
	}})
	redisDo(t, r, "debug", "populate", "50000")
	p := redisProber(t, r.Addr)

	c := r.Client(t)
	reload := make(chan error, 1)
	go func() {
		// The reload takes about 50000 × 100 µs = 5 s, during which the
		// server answers -LOADING to most commands.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		reload <- c.Do(ctx, "debug", "reload").Err()
	}()
	t.Cleanup(func() {
		// Do not wait out the reload: kill the server, then collect the
		// goroutine (its error is the killed connection).
		r.Kill(t)
		<-reload
	})
	obs := waitObservation(t, p, "probe during the reload sees loading", func(o probe.Observation) error {
		if !o.Reachable || o.Redis == nil || !o.Redis.Loading {
			return fmt.Errorf("reachable=%v error=%q", o.Reachable, o.Error)
		}
		return nil
	})
	if obs.Role != probe.RolePrimary {
		t.Errorf("loading: role %v, want primary (INFO answers while loading)", obs.Role)
	}
}

// TestRedisConfigDenied probes as an ACL user that may not run CONFIG (as
// testdata/noperm.config in probe/redisprobe shows): the observation stays
// reachable with its role and INFO facts, only Settings are unknown, and
// Error says why.
func TestRedisConfigDenied(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{})
	redisDo(t, r, "acl", "setuser", "prober", "on", ">proberpass", "+@all", "-config", "~*")
	p := redisprobe.New(probe.Target{Address: r.Addr, Timeout: probeTimeout, Username: "prober", Password: "proberpass"})
	closeOnCleanup(t, p)

	obs := probeOnce(p)
	if !obs.Reachable || obs.Role != probe.RolePrimary || obs.Redis == nil {
		t.Fatalf("config denied: want a reachable primary with facts\n%s", show(obs))
	}
	if obs.Redis.Settings != nil || obs.Redis.Priority != -1 {
		t.Errorf("config denied: settings=%+v priority=%d, want nil and -1 (unknown)", obs.Redis.Settings, obs.Redis.Priority)
	}
	if want := "probe " + r.Addr + ": config get: NOPERM"; !strings.HasPrefix(obs.Error, want) {
		t.Errorf("config denied: error %q, want it to start with %q", obs.Error, want)
	}

	bad := redisprobe.New(probe.Target{Address: r.Addr, Timeout: probeTimeout, Username: "prober", Password: "s3cret-pw"})
	closeOnCleanup(t, bad)
	obs = probeOnce(bad)
	// Alive, login refused (TestRedisLoginRefused): never a reason for SDOWN.
	acc, _ := obs.Access.Account(probe.PurposeAdmin)
	if !obs.Reachable || !obs.LoginRefused() || acc.User != "prober" || !strings.Contains(obs.Error, "WRONGPASS") || strings.Contains(obs.Error, "s3cret-pw") {
		t.Errorf("wrong password: reachable=%v refused user %q error=%q, want reachable, login of prober refused, WRONGPASS, the password not shown",
			obs.Reachable, acc.User, obs.Error)
	}
}

// TestRedisLoginRefused probes a server with a wrong password, then with
// none: it answers -WRONGPASS / -NOAUTH, so it is alive (reachable, never
// a reason for SDOWN: a rotated password must not fail over a healthy
// primary), with the refusal in Access and no facts.
func TestRedisLoginRefused(t *testing.T) {
	harness.Require(t, "redis-server")
	r := harness.StartRedis(t, harness.RedisOptions{Password: "right-pw"})
	for _, tc := range []struct{ password, want string }{{"wrong-pw", "WRONGPASS"}, {"", "NOAUTH"}} {
		p := redisprobe.New(probe.Target{Cluster: "r", Kind: probe.KindRedis, Address: r.Addr, Password: tc.password, Timeout: probeTimeout})
		closeOnCleanup(t, p)
		obs := probeOnce(p)
		acc, ok := obs.Access.Account(probe.PurposeAdmin)
		if !obs.Reachable || !obs.LoginRefused() || !ok || acc.User != "default" || !strings.Contains(acc.Refused, tc.want) || obs.Redis != nil {
			t.Errorf("password %q: %s, access %+v; want reachable, login refused with %s, no facts", tc.password, show(obs), obs.Access, tc.want)
		}
		if strings.Contains(obs.Error, "right-pw") || (tc.password != "" && strings.Contains(obs.Error, tc.password)) {
			t.Errorf("the error names a password: %q", obs.Error)
		}
	}
	p := redisprobe.New(probe.Target{Cluster: "r", Kind: probe.KindRedis, Address: r.Addr, Password: "right-pw", Timeout: probeTimeout})
	closeOnCleanup(t, p)
	if obs := probeOnce(p); !obs.Reachable || obs.LoginRefused() || obs.Role != probe.RolePrimary {
		t.Errorf("right password: %s", show(obs))
	}
}
