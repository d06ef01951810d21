package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/sentinel"
	"github.com/imsentinel/imsentinel/test/harness"
)

// deadline for anything to show in the API: generous for a loaded 2-core
// CI machine (DESIGN.md §8); tests assert order, never durations.
const deadline = 60 * time.Second

// ciProfile is the CI detection profile of DESIGN.md §8.
const ciProfile = `
detection:
  probe_interval: 200ms
  probe_timeout: 100ms
  min_down_after: 1s
  down_after: 5s
`

// fleetConfig is a one-sentinel fleet with the CI profile, its state in
// dataDir; clusters are appended by the caller.
func fleetConfig(t *testing.T, adminPort int, dataDir string) string {
	t.Helper()
	gossip := harness.FreePort(t)
	return fmt.Sprintf(`
sentinel: {id: s1, data_dir: %s}
fleet:
  name: e2e
  members: [{id: s1, address: "127.0.0.1:%d"}]
gossip: {bind: "127.0.0.1:%d"}
admin: {listen: "127.0.0.1:%d"}
log: {level: debug}
`, dataDir, gossip, gossip, adminPort) + ciProfile
}

func getClusters(adminPort int) (sentinel.ClustersResponse, error) {
	var out sentinel.ClustersResponse
	return out, harness.AdminGet(adminPort, "/v1/clusters", &out)
}

// instanceOf finds an instance in the answer.
func instanceOf(r sentinel.ClustersResponse, cluster, addr string) (sentinel.ClusterView, sentinel.InstanceView, error) {
	for _, c := range r.Clusters {
		if c.Name != cluster {
			continue
		}
		for _, in := range c.Instances {
			if in.Address == addr {
				return c, in, nil
			}
		}
		var have []string
		for _, in := range c.Instances {
			have = append(have, in.Address)
		}
		return c, sentinel.InstanceView{}, fmt.Errorf("cluster %s has no instance %s (has %v)", cluster, addr, have)
	}
	return sentinel.ClusterView{}, sentinel.InstanceView{}, fmt.Errorf("no cluster %s", cluster)
}

// daemon is a running imsentinel and its admin port.
type daemon struct {
	*harness.Sentinel
	admin int
}

// waitInstance polls the API until check passes for one instance; it fails
// at once if the daemon has exited.
func (d daemon) waitInstance(t *testing.T, cluster, addr, what string,
	check func(sentinel.ClusterView, sentinel.InstanceView) error) {
	t.Helper()
	harness.Eventually(t, deadline, what, func() error {
		if d.Exited() {
			t.Fatalf("%s: imsentinel exited (code %d):\n%s", what, d.ExitCode(), d.Logs())
		}
		r, err := getClusters(d.admin)
		if err != nil {
			return err
		}
		c, in, err := instanceOf(r, cluster, addr)
		if err != nil {
			return err
		}
		return check(c, in)
	})
}

func up(role probe.Role) func(sentinel.ClusterView, sentinel.InstanceView) error {
	return func(_ sentinel.ClusterView, in sentinel.InstanceView) error {
		switch {
		case in.SDOWN:
			return fmt.Errorf("SDOWN: %s", in.Detector.Reason)
		case in.Observation == nil:
			return fmt.Errorf("not probed yet")
		case !in.Observation.Reachable:
			return fmt.Errorf("not reachable: %s", in.Observation.Error)
		case in.Observation.Role != role:
			return fmt.Errorf("role %s, want %s", in.Observation.Role, role)
		}
		return nil
	}
}

func sdown(c sentinel.ClusterView, in sentinel.InstanceView) error {
	if !in.SDOWN {
		return fmt.Errorf("not SDOWN yet: %s", in.Detector.Reason)
	}
	if in.SDOWNSince == nil || in.Detector.Misses < 2 {
		return fmt.Errorf("SDOWN without since (%v) or with %d misses", in.SDOWNSince, in.Detector.Misses)
	}
	if c.State != sentinel.StateOK {
		return fmt.Errorf("cluster state %s with only a replica down, want %s", c.State, sentinel.StateOK)
	}
	return nil
}

// One imsentinel watches a real Redis topology and a real MariaDB topology
// (semi-sync, GTID), configured with their primaries only: it discovers the
// replicas, sees every role, sees a killed replica go SDOWN and come back
// when restarted, and stops cleanly on SIGTERM.
func TestObserveRedisAndMariaDB(t *testing.T) {
	harness.Require(t, "redis-server", "mariadbd", "mariadb-install-db")
	rt := harness.StartRedisTopology(t, 2, harness.RedisOptions{})
	mt := harness.StartMariaDBTopology(t, 2, harness.MariaDBOptions{})

	admin := harness.FreePort(t)
	routing := harness.FreePort(t) // observe-only: the routing Redis is configured, not used yet
	cfg := fleetConfig(t, admin, t.TempDir()) + fmt.Sprintf(`
routing: {address: "127.0.0.1:%d"}
clusters:
  - name: sessions
    kind: redis
    primary: %q
    quorum: 1
  - name: msg-shard-01
    kind: mysql
    primary: %q
    quorum: 1
    credentials: {username: %s, password: %s}
`, routing, rt.Primary.Addr, mt.Primary.Addr, harness.MariaDBAdminUser, harness.MariaDBAdminPassword)
	s := daemon{harness.StartSentinel(t, harness.SentinelOptions{Config: cfg}), admin}

	// Every instance is found and seen in its role.
	s.waitInstance(t, "sessions", rt.Primary.Addr, "redis primary up", up(probe.RolePrimary))
	s.waitInstance(t, "msg-shard-01", mt.Primary.Addr, "mariadb primary up", up(probe.RolePrimary))
	for _, r := range rt.Replicas {
		s.waitInstance(t, "sessions", r.Addr, "redis replica "+r.Addr+" discovered and up", up(probe.RoleReplica))
	}
	for _, r := range mt.Replicas {
		s.waitInstance(t, "msg-shard-01", r.Addr, "mariadb replica "+r.Addr+" discovered and up", up(probe.RoleReplica))
	}
	r, err := getClusters(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Clusters {
		if c.State != sentinel.StateOK || len(c.Instances) != 3 || len(c.Conditions) != 0 {
			t.Errorf("cluster %s: state %s with %d instances and conditions %+v, want ok with 3 and none",
				c.Name, c.State, len(c.Instances), c.Conditions)
		}
	}

	// A killed Redis replica goes SDOWN; restarted, it comes back.
	victim := rt.Replicas[0]
	victim.Kill(t)
	s.waitInstance(t, "sessions", victim.Addr, "killed redis replica SDOWN", sdown)
	victim.Restart(t)
	s.waitInstance(t, "sessions", victim.Addr, "restarted redis replica up", up(probe.RoleReplica))

	// The same for a MariaDB replica.
	mvictim := mt.Replicas[1]
	mvictim.Kill(t)
	s.waitInstance(t, "msg-shard-01", mvictim.Addr, "killed mariadb replica SDOWN", sdown)
	mvictim.Restart(t)
	s.waitInstance(t, "msg-shard-01", mvictim.Addr, "restarted mariadb replica up", up(probe.RoleReplica))

	// The other instances never went down meanwhile.
	r, err = getClusters(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Clusters {
		for _, in := range c.Instances {
			if in.SDOWN {
				t.Errorf("%s %s is SDOWN at the end: %s", c.Name, in.Address, in.Detector.Reason)
			}
		}
	}

	s.Stop(t)
	if code := s.ExitCode(); code != 0 {
		t.Errorf("imsentinel exit code after SIGTERM = %d, want 0\n%s", code, s.Logs())
	}
	logs := s.Logs()
	for _, want := range []string{"instance is subjectively down", "instance answers again", "imsentinel stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
