package sentinel

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Journal entry types written by the cluster monitor.
const (
	EventSDOWN        = "sdown"         // an instance became subjectively down
	EventSDOWNCleared = "sdown-cleared" // it answers again
	EventDiscovered   = "discovered"    // a replica was found and is now probed
	EventCondition    = "condition"     // a condition was raised
)

// Condition names raised by the observe-only daemon. Each has a runbook in
// docs/runbooks/.
const (
	// CondForeignInstance: an instance reports a replica or primary whose
	// address belongs to another cluster in the config.
	CondForeignInstance = "InstanceOfAnotherCluster"
)

// journal is the part of the state store the monitor writes to.
type journal interface {
	Append(store.Entry) (uint64, error)
}

// clusterMonitor owns one cluster's state. Only its run goroutine touches
// the fields below the line; the API reads the published view.
type clusterMonitor struct {
	cfg       config.ClusterConfig
	kind      probe.Kind
	sentinel  string
	detector  probe.DetectorConfig
	timeout   time.Duration
	newProber func(probe.Target) probe.Prober
	registry  *registry
	journal   journal
	log       *slog.Logger
	view      atomic.Pointer[ClusterView]

	// owned by run
	results    chan roundResult
	instances  map[string]*instance
	order      []string // addresses in the order they were added
	conditions map[string]Condition
	wg         sync.WaitGroup
}

// instance is one instance's state inside its cluster goroutine.
type instance struct {
	address, dial  string
	source         string
	discoveredFrom string
	detector       *probe.Detector
	assessment     probe.Assessment
	last           *probe.Observation
	sdown          bool
	sdownSince     time.Time
}

func newClusterMonitor(c config.ClusterConfig, d *Daemon) (*clusterMonitor, error) {
	kind, err := probe.ParseKind(c.Kind)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	m := &clusterMonitor{
		cfg:      c,
		kind:     kind,
		sentinel: d.cfg.Sentinel.ID,
		detector: probe.DetectorConfig{
			Interval:     d.cfg.Detection.ProbeInterval,
			MinDownAfter: d.cfg.Detection.MinDownAfter,
			DownAfter:    d.cfg.Detection.DownAfter,
		},
		timeout:    d.cfg.Detection.ProbeTimeout,
		newProber:  d.newProber,
		registry:   d.registry,
		journal:    d.journal,
		log:        d.log.With("cluster", c.Name, "kind", c.Kind),
		results:    make(chan roundResult, 16),
		instances:  map[string]*instance{},
		conditions: map[string]Condition{},
	}
	m.publish(time.Time{})
	return m, nil
}

// run probes the cluster until ctx ends, and returns once every probe loop
// it started has stopped.
func (m *clusterMonitor) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer m.wg.Wait()
	defer cancel()

	now := time.Now()
	m.add(ctx, m.cfg.Primary, SourceConfig, "", now)
	for _, r := range m.cfg.Replicas {
		m.add(ctx, r, SourceConfig, "", now)
	}
	for _, in := range m.cfg.Instances {
		m.add(ctx, in.Address, SourceConfig, "", now)
	}
	m.publish(now)

	tick := time.NewTicker(m.detector.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-m.results:
			now := time.Now()
			m.record(r)
			m.discover(ctx, r.obs, now)
			m.assess(now)
			m.publish(now)
		case now := <-tick.C:
			m.assess(now)
			m.publish(now)
		}
	}
}

// add starts probing an address, unless it is already probed here.
func (m *clusterMonitor) add(ctx context.Context, addr, source, from string, now time.Time) {
	if _, ok := m.instances[addr]; ok {
		return
	}
	in := &instance{
		address:        addr,
		dial:           probe.MapAddress(m.addressMap(), addr),
		source:         source,
		discoveredFrom: from,
		detector:       probe.NewDetector(m.detector, now),
	}
	m.instances[addr] = in
	m.order = append(m.order, addr)
	p := m.newProber(probe.Target{
		Cluster:    m.cfg.Name,
		Kind:       m.kind,
		Address:    addr,
		Dial:       in.dial,
		Username:   m.cfg.Credentials.Username,
		Password:   m.cfg.Credentials.Password.Reveal(),
		Timeout:    m.timeout,
		AddressMap: m.addressMap(),
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		probeLoop(ctx, p, addr, m.detector.Interval, m.results)
	}()
	m.log.Debug("probing instance", "instance", addr, "dial", in.dial, "source", source)
}

func (m *clusterMonitor) addressMap() map[string]string {
	if len(m.cfg.AddressMap) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.cfg.AddressMap))
	for _, e := range m.cfg.AddressMap {
		out[e.Reported] = e.Reach
	}
	return out
}

func (m *clusterMonitor) record(r roundResult) {
	in, ok := m.instances[r.address]
	if !ok {
		return
	}
	in.detector.Record(r.round)
	obs := r.obs
	in.last = &obs
	m.log.Debug("probe", "instance", r.address, "ok", r.round.OK, "rtt", r.round.RTT, "role", obs.Role, "err", obs.Error)
}

// discover follows the replicas an instance reports, and the primary a
// replica reports, into this cluster unless they belong to another one.
func (m *clusterMonitor) discover(ctx context.Context, obs probe.Observation, now time.Time) {
	if !obs.Reachable {
		return
	}
	found := append([]string(nil), obs.Replicas...)
	if obs.Primary != "" {
		found = append(found, obs.Primary)
	}
	for _, addr := range found {
		if _, ok := m.instances[addr]; ok {
			continue
		}
		if owner := m.registry.claim(addr, m.cfg.Name); owner != m.cfg.Name {
			m.raise(Condition{
				Name:     CondForeignInstance,
				Severity: SeverityWarning,
				Instance: addr,
				Detail: fmt.Sprintf("%s reports %s, which belongs to cluster %s; it is probed there, not here "+
					"(check the replication topology and the config)", obs.Instance, addr, owner),
				Since: now,
			})
			continue
		}
		m.add(ctx, addr, SourceDiscovered, obs.Instance, now)
		m.log.Info("discovered instance", "instance", addr, "from", obs.Instance)
		m.append(EventDiscovered, now, map[string]any{"instance": addr, "from": obs.Instance})
	}
}

// assess asks every detector and records SDOWN transitions.
func (m *clusterMonitor) assess(now time.Time) {
	for _, addr := range m.order {
		in := m.instances[addr]
		in.assessment = in.detector.Assess(now)
		switch down := in.assessment.Down; {
		case down && !in.sdown:
			in.sdown, in.sdownSince = true, now
			m.log.Info("instance is subjectively down", "instance", addr, "role", m.roleOf(in), "reason", in.assessment.Reason)
			m.append(EventSDOWN, now, map[string]any{"instance": addr, "role": m.roleOf(in), "reason": in.assessment.Reason})
		case !down && in.sdown:
			in.sdown, in.sdownSince = false, time.Time{}
			m.log.Info("instance answers again", "instance", addr, "role", m.roleOf(in), "reason", in.assessment.Reason)
			m.append(EventSDOWNCleared, now, map[string]any{"instance": addr, "role": m.roleOf(in)})
		}
	}
}

// roleOf is the role an instance last reported, or the role the config
// gives it when it never answered.
func (m *clusterMonitor) roleOf(in *instance) probe.Role {
	if in.last != nil && in.last.Role != probe.RoleUnknown {
		return in.last.Role
	}
	if in.address == m.cfg.Primary {
		return probe.RolePrimary
	}
	return probe.RoleReplica
}

func (m *clusterMonitor) raise(c Condition) {
	key := c.Name + "/" + c.Instance
	if _, ok := m.conditions[key]; ok {
		return
	}
	m.conditions[key] = c
	m.log.Warn("condition raised", "condition", c.Name, "instance", c.Instance, "detail", c.Detail)
	m.append(EventCondition, c.Since, map[string]any{"condition": c.Name, "severity": c.Severity,
		"instance": c.Instance, "detail": c.Detail})
}

// append writes a journal entry; a failure is logged, never fatal: the
// journal is a record, not a decision input.
func (m *clusterMonitor) append(typ string, at time.Time, detail map[string]any) {
	if m.journal == nil {
		return
	}
	b, err := json.Marshal(detail)
	if err != nil {
		m.log.Error("encode journal entry", "type", typ, "err", err)
		return
	}
	e := store.Entry{At: at, Cluster: m.cfg.Name, Sentinel: m.sentinel, Type: typ, Detail: b}
	if _, err := m.journal.Append(e); err != nil {
		m.log.Error("append to journal", "type", typ, "err", err)
	}
}

// publish makes the current state visible to readers.
func (m *clusterMonitor) publish(now time.Time) {
	v := &ClusterView{
		Name:       m.cfg.Name,
		Kind:       m.cfg.Kind,
		Mode:       m.cfg.Mode,
		Primary:    m.cfg.Primary,
		State:      StateOK,
		Instances:  make([]InstanceView, 0, len(m.order)),
		Conditions: make([]Condition, 0, len(m.conditions)),
		UpdatedAt:  now,
	}
	for _, addr := range m.order {
		in := m.instances[addr]
		iv := InstanceView{
			Address:        in.address,
			Source:         in.source,
			DiscoveredFrom: in.discoveredFrom,
			SDOWN:          in.sdown,
			Detector:       detectorView(in.assessment),
			Observation:    in.last,
		}
		if in.dial != in.address {
			iv.Dial = in.dial
		}
		if in.sdown {
			t := in.sdownSince
			iv.SDOWNSince = &t
			if addr == v.Primary {
				v.State = StateSDOWN
			}
		}
		v.Instances = append(v.Instances, iv)
	}
	for _, c := range m.conditions {
		v.Conditions = append(v.Conditions, c)
	}
	slices.SortFunc(v.Conditions, func(a, b Condition) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Instance, b.Instance))
	})
	m.view.Store(v)
}
