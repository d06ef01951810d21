package sentinel

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// fakeFleet is a scripted set of instances: which answer, their roles and
// the replicas they report. Safe for concurrent use by probe loops.
type fakeFleet struct {
	mu       sync.Mutex
	down     map[string]bool
	writable map[string]bool
	primary  map[string]string // a replica's reported primary
	role     map[string]probe.Role
	replicas map[string][]string
	probed   map[string]int
	dialed   map[string]string            // address → the Dial its prober got
	redis    map[string]*probe.RedisFacts // replication facts to report, when set
}

func newFakeFleet() *fakeFleet {
	return &fakeFleet{down: map[string]bool{}, writable: map[string]bool{}, primary: map[string]string{}, role: map[string]probe.Role{},
		replicas: map[string][]string{}, probed: map[string]int{}, dialed: map[string]string{}, redis: map[string]*probe.RedisFacts{}}
}

func (f *fakeFleet) setDown(addr string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[addr] = down
}

func (f *fakeFleet) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func (f *fakeFleet) probes(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probed[addr]
}

func (f *fakeFleet) newProber(t probe.Target) probe.Prober {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dialed[t.Address] = t.Dial
	return &fakeProber{f: f, t: t}
}

type fakeProber struct {
	f *fakeFleet
	t probe.Target
}

func (p *fakeProber) Probe(ctx context.Context) probe.Observation {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.probed[p.t.Address]++
	obs := probe.Observation{Instance: p.t.Address, At: time.Now()}
	if p.f.down[p.t.Address] {
		obs.Error = "connection refused"
		return obs
	}
	obs.Reachable, obs.RTT = true, time.Millisecond
	obs.Role = p.f.role[p.t.Address]
	obs.ReadOnly = obs.Role == probe.RoleReplica || !p.f.writable[p.t.Address]
	obs.Primary = p.f.primary[p.t.Address]
	obs.Replicas = append([]string(nil), p.f.replicas[p.t.Address]...)
	if r := p.f.redis[p.t.Address]; r != nil {
		c := *r
		obs.Redis = &c
	}
	return obs
}

func (p *fakeProber) Close() error { return nil }

// memJournal records journal entries in memory.
type memJournal struct {
	mu      sync.Mutex
	entries []store.Entry
}

func (j *memJournal) Record(e store.Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, e)
}

func (j *memJournal) types() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.entries {
		out = append(out, e.Type+" "+string(e.Detail))
	}
	return out
}

// freeAddr returns a loopback address with a port free for TCP and UDP
// right now.
func freeAddr() string {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		addr := l.Addr().String()
		l.Close()
		if u, err := net.ListenPacket("udp", addr); err == nil {
			u.Close()
			return addr
		}
	}
}

func testConfig(dataDir string) config.Config {
	cfg := config.DefaultConfig()
	gossip := freeAddr()
	cfg.Sentinel = config.Sentinel{ID: "s1", DataDir: dataDir}
	cfg.Fleet = config.Fleet{Name: "test", Members: []config.Member{{ID: "s1", Address: gossip}}}
	cfg.Gossip.Bind, cfg.Gossip.Profile = gossip, "local"
	cfg.Detection = config.Detection{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
		MinDownAfter: time.Second, DownAfter: 5 * time.Second, OpinionTTL: 3 * time.Second}
	a := config.DefaultCluster()
	a.Name, a.Kind, a.Primary, a.Quorum = "sessions", "redis", "10.0.0.1:6379", 1
	b := config.DefaultCluster()
	b.Name, b.Kind, b.Primary, b.Quorum = "other", "redis", "10.0.9.1:6379", 1
	b.Replicas = []string{"10.0.9.2:6379"}
	cfg.Clusters = []config.ClusterConfig{a, b}
	return cfg
}

// testMonitor builds the monitor of cfg's first cluster in a daemon whose
// probers are fleet's fakes and whose journal is in memory; adjust, when
// set, changes the daemon's other dependencies first.
func testMonitor(t *testing.T, cfg config.Config, fleet *fakeFleet, adjust func(*Daemon)) (*clusterMonitor, *memJournal) {
	t.Helper()
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NewProber: fleet.newProber, ObserveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	j := &memJournal{}
	d.journal = j
	if adjust != nil {
		adjust(d)
	}
	m, err := newClusterMonitor(d.cfg.Clusters[0], d)
	if err != nil {
		t.Fatal(err)
	}
	return m, j
}

// runMonitor runs m until the returned stop is called; stop returns once
// run has (so every goroutine it started has ended).
func runMonitor(t *testing.T, m *clusterMonitor) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func instanceView(v *ClusterView, addr string) (InstanceView, bool) {
	for _, in := range v.Instances {
		if in.Address == addr {
			return in, true
		}
	}
	return InstanceView{}, false
}

// The cluster monitor, in virtual time: discovers replicas, keeps another
// cluster's address out, and turns a dead replica SDOWN and back, writing
// each transition to the journal. synctest also proves every goroutine it
// started has stopped when run returns.
func TestClusterMonitorDetectsAndDiscovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.role["10.0.0.1:6379"] = probe.RolePrimary
		fleet.replicas["10.0.0.1:6379"] = []string{"10.0.0.2:6379", "10.0.9.2:6379"}
		fleet.role["10.0.0.2:6379"] = probe.RoleReplica

		m, j := testMonitor(t, testConfig(t.TempDir()), fleet, nil)
		stop := runMonitor(t, m)

		time.Sleep(3 * time.Second) // virtual: 15 probe rounds
		synctest.Wait()
		v := m.view.Load()
		rep, ok := instanceView(v, "10.0.0.2:6379")
		if !ok || rep.Source != SourceDiscovered || rep.DiscoveredFrom != "10.0.0.1:6379" || rep.SDOWN {
			t.Fatalf("discovered replica = %+v (found %v), want discovered from the primary, not SDOWN", rep, ok)
		}
		if _, probed := instanceView(v, "10.0.9.2:6379"); probed || fleet.probes("10.0.9.2:6379") != 0 {
			t.Errorf("10.0.9.2:6379 belongs to cluster other, but cluster sessions probes it")
		}
		if len(v.Conditions) != 1 || v.Conditions[0].Name != CondForeignInstance || v.Conditions[0].Instance != "10.0.9.2:6379" {
			t.Errorf("conditions = %+v, want one %s for 10.0.9.2:6379", v.Conditions, CondForeignInstance)
		}

		fleet.setDown("10.0.0.2:6379", true)
		deadline := time.Now().Add(10 * time.Second)
		for {
			time.Sleep(100 * time.Millisecond)
			if rep, _ := instanceView(m.view.Load(), "10.0.0.2:6379"); rep.SDOWN {
				if rep.Detector.Misses < 2 {
					t.Errorf("SDOWN after %d misses, want at least 2", rep.Detector.Misses)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica not SDOWN 10s after it went down: %+v", rep)
			}
		}
		if v := m.view.Load(); v.State != StateOK {
			t.Errorf("cluster state = %s with only a replica down, want %s", v.State, StateOK)
		}

		fleet.setDown("10.0.0.2:6379", false)
		time.Sleep(time.Second)
		if rep, _ := instanceView(m.view.Load(), "10.0.0.2:6379"); rep.SDOWN {
			t.Errorf("replica still SDOWN a second after it answers again: %+v", rep.Detector)
		}

		fleet.setDown("10.0.0.1:6379", true)
		time.Sleep(6 * time.Second) // past down_after
		// A fleet of one with quorum 1: ODOWN at once, and it elects itself.
		if v := m.view.Load(); v.State != string(quorum.StateLeading) || v.Epoch != 1 || v.Agreement.Lease == nil ||
			v.Agreement.Lease.Holder != "s1" || v.Agreement.Lease.Reason != string(quorum.ReasonFailover) {
			t.Errorf("with the primary down 6s: state %s epoch %d lease %+v, want leading, epoch 1, s1's failover lease",
				v.State, v.Epoch, v.Agreement.Lease)
		}

		stop()

		got := strings.Join(j.types(), "\n")
		for _, want := range []string{
			`discovered {"from":"10.0.0.1:6379","instance":"10.0.0.2:6379"}`,
			`condition {"condition":"InstanceOfAnotherCluster"`,
			`sdown {"instance":"10.0.0.2:6379"`,
			`sdown-cleared {"instance":"10.0.0.2:6379","role":"replica"}`,
			`sdown {"instance":"10.0.0.1:6379"`,
			`agreement:electing {"detail":"asking for a failover lease at epoch 1 (ODOWN: 1 of quorum 1 report SDOWN; s1 sdown)"`,
			`agreement:odown {"detail":"ODOWN: 1 of quorum 1 report SDOWN; s1 sdown"`,
			`agreement:state:leading {"detail":"ok → leading`,
			`agreement:elected {"detail":"epoch 1 (failover) by s1: 1 of majority 1 granted (s1)","epoch":1}`,
		} {
			if !strings.Contains(got, want) {
				t.Errorf("journal lacks %s\njournal:\n%s", want, got)
			}
		}
	})
}

// A replica reported under another name (NAT) is one instance, named by
// the address the map gives, not probed twice (DESIGN.md §2).
func TestClusterMonitorFollowsAddressMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.role["10.0.0.1:6379"] = probe.RolePrimary
		fleet.replicas["10.0.0.1:6379"] = []string{"172.17.0.5:6379", "172.17.0.6:6379"}
		fleet.role["10.0.0.7:16379"] = probe.RoleReplica
		cfg := testConfig(t.TempDir())
		cfg.Clusters[0].Replicas = []string{"10.0.0.7:16379"}
		cfg.Clusters[0].AddressMap = []config.AddressMapping{
			{Reported: "172.17.0.5:6379", Reach: "10.0.0.7:16379"},
			{Reported: "172.17.0.6:6379", Reach: "10.0.0.8:16379"},
		}
		m, _ := testMonitor(t, cfg, fleet, nil)
		stop := runMonitor(t, m)
		time.Sleep(time.Second)
		synctest.Wait()
		v := m.view.Load()
		var names []string
		for _, in := range v.Instances {
			names = append(names, in.Address+"/"+in.ReportedAs)
		}
		want := []string{"10.0.0.1:6379/", "10.0.0.7:16379/", "10.0.0.8:16379/172.17.0.6:6379"}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("instances (address/reported_as) = %v, want %v", names, want)
		}
		fleet.set(func() {
			if fleet.probed["172.17.0.5:6379"]+fleet.probed["172.17.0.6:6379"] != 0 || fleet.dialed["10.0.0.8:16379"] != "10.0.0.8:16379" {
				t.Errorf("probers: probed %v, dialed %v; want reported names never dialed", fleet.probed, fleet.dialed)
			}
		})
		stop()
	})
}

// Conditions follow the observations: raised when the topology disagrees
// with the config, cleared when it agrees again, each change journaled.
func TestClusterMonitorConditionsRaiseAndClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.role["10.0.0.1:6379"] = probe.RolePrimary
		fleet.writable["10.0.0.1:6379"] = true
		fleet.role["10.0.0.2:6379"] = probe.RoleReplica
		cfg := testConfig(t.TempDir())
		cfg.Clusters[0].Replicas = []string{"10.0.0.2:6379"}
		m, j := testMonitor(t, cfg, fleet, nil)
		stop := runMonitor(t, m)
		conditions := func() string {
			time.Sleep(time.Second)
			synctest.Wait()
			var out []string
			for _, c := range m.view.Load().Conditions {
				out = append(out, c.Name+" "+c.Instance)
			}
			return strings.Join(out, ", ")
		}
		if got := conditions(); got != "" {
			t.Errorf("healthy topology: conditions %q, want none", got)
		}
		// Someone promoted the replica by hand: it is writable, and the
		// configured primary now follows it.
		fleet.set(func() {
			fleet.role["10.0.0.2:6379"], fleet.writable["10.0.0.2:6379"] = probe.RolePrimary, true
			fleet.role["10.0.0.1:6379"], fleet.primary["10.0.0.1:6379"] = probe.RoleReplica, "10.0.0.2:6379"
		})
		want := "PrimaryIsReplica 10.0.0.1:6379, WritableNonPrimary 10.0.0.2:6379"
		if got := conditions(); got != want {
			t.Errorf("after a promotion outside the fleet: conditions %q, want %q", got, want)
		}
		fleet.set(func() {
			fleet.role["10.0.0.2:6379"], fleet.writable["10.0.0.2:6379"] = probe.RoleReplica, false
			fleet.role["10.0.0.1:6379"], fleet.primary["10.0.0.1:6379"] = probe.RolePrimary, ""
		})
		if got := conditions(); got != "" {
			t.Errorf("after the topology was put back: conditions %q, want none", got)
		}
		stop()
		journal := strings.Join(j.types(), "\n")
		for _, w := range []string{`condition {"condition":"PrimaryIsReplica"`, `condition {"condition":"WritableNonPrimary"`,
			`condition-cleared {"condition":"PrimaryIsReplica","instance":"10.0.0.1:6379"}`,
			`condition-cleared {"condition":"WritableNonPrimary","instance":"10.0.0.2:6379"}`} {
			if !strings.Contains(journal, w) {
				t.Errorf("journal lacks %s:\n%s", w, journal)
			}
		}
	})
}

// A stalled daemon (every timer late, as after SIGSTOP) does not declare
// instances down when it wakes (DESIGN.md §5.11).
func TestClusterMonitorStallIsNotFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := newFakeFleet()
		fleet.role["10.0.0.1:6379"] = probe.RolePrimary
		m, _ := testMonitor(t, testConfig(t.TempDir()), fleet, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// Drive the monitor by hand: its state is touched by this goroutine
		// only, as run would.
		now := time.Now()
		m.add(ctx, "10.0.0.1:6379", "", SourceConfig, "", now)
		in := m.instances["10.0.0.1:6379"]
		due := now
		for range 10 { // steady, on time
			in.detector.Record(probe.Round{Due: due, Start: due, End: due.Add(time.Millisecond), OK: true, RTT: time.Millisecond})
			due = due.Add(200 * time.Millisecond)
		}
		// The process stops for 5s; the first round after it is late and
		// fails (the connection was reset meanwhile), the next succeed.
		late := due.Add(5 * time.Second)
		in.detector.Record(probe.Round{Due: due, Start: late, End: late.Add(100 * time.Millisecond)})
		m.assess(late.Add(150 * time.Millisecond))
		if in.sdown {
			t.Fatalf("SDOWN after a stall of this process: %s", in.assessment.Reason)
		}
		cancel()
		m.wg.Wait()
	})
}

// Run serves the API, answers 404 with a reason, refuses a second daemon on
// the same data_dir, and stops every goroutine when its context ends.
func TestDaemonRunServesAPIAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	fleet := newFakeFleet()
	fleet.role["10.0.0.1:6379"] = probe.RolePrimary
	dir := t.TempDir()
	cfg := testConfig(dir)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: logger, NewProber: fleet.newProber, Listener: ln, ObserveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	base := "http://" + ln.Addr().String()

	var health Health
	waitGet(t, base+"/healthz", http.StatusOK, &health)
	if health.Status != "ok" || health.Sentinel != "s1" {
		t.Errorf("healthz = %+v", health)
	}
	var list ClustersResponse
	waitGet(t, base+"/v1/clusters", http.StatusOK, &list)
	if len(list.Clusters) != 2 || list.Clusters[0].Name != "sessions" || list.Clusters[1].Name != "other" {
		t.Errorf("clusters = %+v, want sessions and other in config order", list.Clusters)
	}
	var one ClusterView
	waitGet(t, base+"/v1/clusters/other", http.StatusOK, &one)
	if one.Name != "other" || one.Kind != "redis" {
		t.Errorf("cluster other = %+v", one)
	}
	var apiErr map[string]string
	waitGet(t, base+"/v1/clusters/nope", http.StatusNotFound, &apiErr)
	if !strings.Contains(apiErr["error"], "no cluster named nope") {
		t.Errorf("404 body = %v, want a reason", apiErr)
	}

	resp, err := http.Post(base+"/v1/clusters", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), "use GET") {
		t.Errorf("POST /v1/clusters = %d %s, want 405 with a reason", resp.StatusCode, body)
	}

	// A second daemon on the same data_dir fails fast with a clear message.
	d2, err := New(cfg, Options{Logger: logger, NewProber: fleet.newProber, ObserveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = d2.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "in use by another imsentinel") {
		t.Errorf("second daemon on the same data_dir: %v, want an 'in use' error", err)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after its context ended")
	}
	// Every goroutine the daemon started is gone (the HTTP client's idle
	// connections are closed first).
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left after Run, %d before:\n%s", runtime.NumGoroutine(), before,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitGet(t *testing.T, url string, status int, into any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Fatalf("GET %s = %d %s, want %d", url, resp.StatusCode, body, status)
			}
			if err := json.Unmarshal(body, into); err != nil {
				t.Fatalf("GET %s: decode %s: %v", url, body, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DESIGN.md §5.1: fleet.members changes one member at a time; a data_dir
// that last ran with another list refuses a change of two.
func TestDaemonRefusesTwoMemberChange(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(members ...string) error {
		cfg := testConfig(dir)
		cfg.Fleet.Members = nil
		for _, id := range members {
			addr := freeAddr()
			if id == "s1" {
				addr = cfg.Gossip.Bind
			}
			cfg.Fleet.Members = append(cfg.Fleet.Members, config.Member{ID: id, Address: addr})
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(cfg, Options{Logger: logger, NewProber: newFakeFleet().newProber, Listener: ln, ObserveOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return d.Run(ctx)
	}
	if err := run("s1"); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := run("s1", "s2", "s3"); err == nil || !strings.Contains(err.Error(), "differ by 2") {
		t.Errorf("start with two members added: %v, want a refusal naming the difference", err)
	}
	if err := run("s1", "s2"); err != nil {
		t.Errorf("start with one member added: %v", err)
	}
	if err := run("s1", "s2", "s3"); err != nil {
		t.Errorf("start with one more member added: %v", err)
	}
}
