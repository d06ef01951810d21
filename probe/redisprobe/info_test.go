package redisprobe

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imsentinel/imsentinel/probe"
)

// The fixtures are raw replies of redis-server 7.0.15; testdata/README.md
// says how each was captured.

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readInfo(t *testing.T, name string) map[string]string {
	t.Helper()
	return ParseInfo(readFixture(t, name))
}

// readConfig reads redis-cli's rendering of a CONFIG GET reply: one element
// per line, names and values alternating.
func readConfig(t *testing.T, name string) map[string]string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(readFixture(t, name)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines)%2 != 0 {
		t.Fatalf("%s: odd number of lines %d", name, len(lines))
	}
	m := make(map[string]string)
	for i := 0; i < len(lines); i += 2 {
		m[lines[i]] = lines[i+1]
	}
	return m
}

func TestParseInfo(t *testing.T) {
	m := readInfo(t, "primary.info")
	for k, want := range map[string]string{
		"redis_version":  "7.0.15",
		"role":           "master",
		"slave0":         "ip=127.0.0.1,port=26380,state=online,offset=105,lag=0",
		"master_replid2": "0000000000000000000000000000000000000000",
		"loading":        "0",
	} {
		if got := m[k]; got != want {
			t.Errorf("ParseInfo(primary.info)[%q] = %q, want %q", k, got, want)
		}
	}
	for k, v := range m {
		if strings.ContainsAny(k+v, "\r\n#") {
			t.Errorf("ParseInfo kept a line end or header: %q=%q", k, v)
		}
	}
	if got := ParseInfo("# Server\nrole:slave\n\nbogus\n"); !reflect.DeepEqual(got, map[string]string{"role": "slave"}) {
		t.Errorf("ParseInfo with LF ends and junk = %v", got)
	}
}

func TestFactsFromInfo(t *testing.T) {
	const replid = "a6274445e2e34757a92329880301ea8898578262"
	cases := []struct {
		name   string
		info   string
		config string // "" when CONFIG GET failed
		check  func(t *testing.T, p parsed)
	}{
		{
			name: "primary with two replicas", info: "primary.info", config: "primary.config",
			check: func(t *testing.T, p parsed) {
				f := p.facts
				want(t, "role", p.role, probe.RolePrimary)
				want(t, "replicas", p.replicas, []string{"127.0.0.1:26380", "127.0.0.1:26381"})
				want(t, "primary", p.primary, "")
				want(t, "read only", p.readOnly, false)
				want(t, "replid", f.ReplID, replid)
				want(t, "offset", f.Offset, int64(105))
				want(t, "second offset", f.SecondOffset, int64(-1))
				want(t, "connected", f.ConnectedReplicas, 2)
				want(t, "good replicas", f.GoodReplicas, 2)
				want(t, "slaves", f.Replicas, []probe.RedisReplica{
					{IP: "127.0.0.1", Port: 26380, State: "online", Offset: 105, LagSeconds: 0},
					{IP: "127.0.0.1", Port: 26381, State: "online", Offset: 105, LagSeconds: 0},
				})
				want(t, "priority (from CONFIG)", f.Priority, 100)
				want(t, "settings", *f.Settings, probe.RedisSettings{
					MinReplicasToWrite: 1, MinReplicasMaxLagSeconds: 5, PingReplicaPeriodSeconds: 1})
				want(t, "backlog", [2]int64{f.BacklogFirstByteOffset, f.BacklogHistlen}, [2]int64{1, 105})
				want(t, "run id", f.RunID, "7b929cb5a24ec41c5cc7dd7e025059ad130b9511")
			},
		},
		{
			name: "replica, link up", info: "replica.info", config: "replica.config",
			check: func(t *testing.T, p parsed) {
				f := p.facts
				want(t, "role", p.role, probe.RoleReplica)
				want(t, "primary", p.primary, "127.0.0.1:26379")
				want(t, "replicas", p.replicas, []string(nil))
				want(t, "read only", p.readOnly, true)
				want(t, "link up", f.LinkUp, true)
				want(t, "last io", f.LastIOSecondsAgo, int64(1))
				want(t, "down since (absent while up)", f.LinkDownSinceSeconds, int64(0))
				want(t, "replica offset", f.ReplicaOffset, int64(105))
				want(t, "priority", f.Priority, 50)
				want(t, "replid (adopted from primary)", f.ReplID, replid)
				want(t, "good replicas (not reported)", f.GoodReplicas, -1)
				want(t, "announced", f.Announced, true)
			},
		},
		{
			name: "replica waiting for a full sync", info: "replica_syncing.info",
			check: func(t *testing.T, p parsed) {
				f := p.facts
				want(t, "link up", f.LinkUp, false)
				want(t, "down since (never up)", f.LinkDownSinceSeconds, int64(-1))
				want(t, "last io", f.LastIOSecondsAgo, int64(-1))
				want(t, "settings", f.Settings, (*probe.RedisSettings)(nil))
				want(t, "priority (INFO only)", f.Priority, 100)
			},
		},
		{
			name: "primary while a replica waits for bgsave", info: "primary_syncing.info",
			check: func(t *testing.T, p parsed) {
				want(t, "replicas", p.replicas, []string{"127.0.0.1:26380", "127.0.0.1:26381", "127.0.0.1:26382"})
				want(t, "third state", p.facts.Replicas[2].State, "wait_bgsave")
				want(t, "priority (unknown)", p.facts.Priority, -1)
			},
		},
		{
			name: "replica of a killed primary", info: "replica_primary_dead.info",
			check: func(t *testing.T, p parsed) {
				f := p.facts
				want(t, "role", p.role, probe.RoleReplica)
				want(t, "primary", p.primary, "127.0.0.1:26379")
				want(t, "link up", f.LinkUp, false)
				want(t, "down since", f.LinkDownSinceSeconds, int64(2))
				want(t, "last io", f.LastIOSecondsAgo, int64(-1))
			},
		},
		{
			name: "same replica two seconds later", info: "replica_primary_dead_later.info",
			check: func(t *testing.T, p parsed) {
				want(t, "down since", p.facts.LinkDownSinceSeconds, int64(4))
			},
		},
		{
			name: "promoted replica", info: "promoted.info",
			check: func(t *testing.T, p parsed) {
				f := p.facts
				want(t, "role", p.role, probe.RolePrimary)
				want(t, "read only", p.readOnly, false)
				want(t, "replid2 (old primary's history)", f.ReplID2, replid)
				want(t, "second offset", f.SecondOffset, int64(232))
				want(t, "replicas", p.replicas, []string{"127.0.0.1:26381", "127.0.0.1:26382"})
				want(t, "replica read only (kept from its replica days)", f.ReplicaReadOnly, false)
			},
		},
		{
			name: "loading", info: "loading.info", config: "loading.config",
			check: func(t *testing.T, p parsed) {
				want(t, "loading", p.facts.Loading, true)
				want(t, "role", p.role, probe.RolePrimary)
				want(t, "ping period", p.facts.Settings.PingReplicaPeriodSeconds, 10)
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var config map[string]string
			if c.config != "" {
				config = readConfig(t, c.config)
			}
			p, err := factsFromInfo(readInfo(t, c.info), config)
			if err != nil {
				t.Fatalf("factsFromInfo(%s, %s): %v", c.info, c.config, err)
			}
			c.check(t, p)
		})
	}
}

func TestFactsFromInfoErrors(t *testing.T) {
	_, err := factsFromInfo(map[string]string{
		"role":               "sentinel",
		"master_repl_offset": "many",
		"slave0":             "ip=1.2.3.4",
	}, map[string]string{"replica-priority": "high"})
	for _, sub := range []string{`unknown role "sentinel"`, "field master_repl_offset", "field slave0", "field replica-priority"} {
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("factsFromInfo(bad fields) error = %v, want it to mention %q", err, sub)
		}
	}
	if _, err := factsFromInfo(map[string]string{}, nil); err == nil || !strings.Contains(err.Error(), "no role") {
		t.Errorf("factsFromInfo(empty) error = %v, want no role", err)
	}
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}
