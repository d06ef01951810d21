package sentinel

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Journal entry types written by the cluster monitor.
const (
	EventSDOWN            = "sdown"             // an instance became subjectively down
	EventSDOWNCleared     = "sdown-cleared"     // it answers again
	EventDiscovered       = "discovered"        // a replica was found and is now probed
	EventCondition        = "condition"         // a condition was raised
	EventConditionCleared = "condition-cleared" // its cause is gone
	EventOperator         = "operator"          // an operator's request: failover, pause, resume
)

// Condition names raised by the observe-only daemon. Each has a runbook in
// docs/runbooks/. Conditions are derived from the latest observations on
// every assessment, so they clear by themselves when the cause is gone.
const (
	// CondForeignInstance: an instance reports a replica or primary whose
	// address belongs to another cluster in the config.
	CondForeignInstance = "InstanceOfAnotherCluster"
	// CondPrimaryIsReplica: the primary this sentinel believes in reports
	// itself a replica: the topology changed outside this fleet
	// (DESIGN.md §5.9: observe, don't act).
	CondPrimaryIsReplica = "PrimaryIsReplica"
	// CondWritableNonPrimary: an instance other than the primary accepts
	// writes (DESIGN.md §6.4: nodes start fenced).
	CondWritableNonPrimary = "WritableNonPrimary"
	// CondVantageBlocked: ODOWN, but a replica still hears from the primary,
	// so no automatic failover (DESIGN.md §5.4); a person decides.
	CondVantageBlocked = "UnreachablePrimaryWithHealthyReplicas"
	// CondLineageBroken: the primary answers with another replication
	// history than the one the cluster's data is in: restarted empty, or
	// replaced (DESIGN.md §6.6). It is treated as down.
	CondLineageBroken = "PrimaryLineageBroken"
	// CondSemiSyncDrift: a semi-sync MySQL primary's settings fall short
	// of DESIGN.md §6.2 (wait point, wait_no_slave, timeout, registered
	// replicas): the zero-loss claim does not hold while it lasts.
	CondSemiSyncDrift = "SemiSyncDrift"
	// CondErrantReturningPrimary: a returning MySQL primary has
	// transactions the primary lacks; it is kept read-only for a person
	// (DESIGN.md §6.6).
	CondErrantReturningPrimary = "ErrantReturningPrimary"
	// CondFailoverPending: a MySQL failover recorded its promote (or a
	// later) intent and was not committed, no lease is held, and the old
	// primary answers, so no automatic failover will finish it; the
	// steward leaves its target alone (DESIGN.md §5.7).
	CondFailoverPending = "FailoverPending"
	// CondPrimaryReadOnly: the committed MySQL primary answers read-only
	// and no lease is held (no failover or repair is under way): the
	// cluster takes no writes until someone unfences it.
	CondPrimaryReadOnly = "PrimaryReadOnly"
)

// journal takes the entries the monitor records. Record never blocks: the
// journal is a record, not a decision input, and a slow disk must not stall
// detection.
type journal interface {
	Record(store.Entry)
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
	addrMap   map[string]string // reported → reachable
	log       *slog.Logger
	view      atomic.Pointer[ClusterView]

	// agreement wiring (DESIGN.md §5), set by the daemon
	agParams  quorum.Params
	state     stateStore // nil: nothing persisted (tests)
	fleet     link       // nil: a fleet of one
	learned   bool       // the data_dir has learned (not a learner)
	restarted bool       // the data_dir existed: abstain for one lease
	onLearned func()
	inbox     chan quorum.Message
	shared    atomic.Pointer[[]quorum.Message] // what to repeat in push/pull
	auth      chan *authRequest                // the step API
	leaseReq  chan *leaseRequest               // operator and steward lease requests
	release   chan struct{}
	done      chan struct{} // closed when run returns

	// executors (DESIGN.md §6), set by the daemon
	router        routeWriter                  // nil: no routing Redis (tests)
	newAdmin      func(addr string) redisAdmin // nil: this sentinel never writes to nodes
	newMySQLAdmin func(addr string) mysqlAdmin
	steps         config.Steps
	fleetName     string
	routeReads    chan routeRead
	taskDone      chan taskResult
	runCtx        context.Context
	// taskConds are the conditions the running executor raised
	// (RouteWaitsForFence, SelfFenceRelaxed); cleared when it ends.
	taskConds atomic.Pointer[[]Condition]
	// opBusy is held by the operator action running on this sentinel (a
	// forced failover, a pause, an instance action): one at a time, so
	// one never releases the lease another still works under.
	opBusy    atomic.Bool
	ops       chan *opRequest // operator requests (forced failover, dry run)
	routePoke chan struct{}   // a route read is wanted now

	// owned by run
	results      chan roundResult
	instances    map[string]*instance
	order        []string // addresses in the order they were added
	conditions   map[string]Condition
	links        map[string]vantageLink
	pendingAuth  []*authRequest
	pendingLease []*leaseRequest
	ag           *quorum.Agreement
	persisted    quorum.Persistent
	status       quorum.Status
	tilt         quorum.Tilt
	tilted       bool
	tiltWhy      string
	collided     bool // the id collision was logged
	wg           sync.WaitGroup

	task           *runningTask // the executor of this sentinel's lease, if running
	stewardWanted  bool         // this sentinel asked for a steward lease
	nextSteward    time.Time    // no steward request before then
	stewardBackoff time.Duration
	holdUntil      time.Time // no automatic failover from here before then
	holdWhy        string
	route          routeState
	lineage        promote.Lineage // the primary's replication history
	lineageBroken  bool
	lineageSeen    promote.Lineage // what the primary answered with when it broke
	seenEpoch      uint64          // the committed config epoch seen last
	configSeen     time.Time       // when it was first seen
	opWaiter       chan taskResult // the operator waiting for the running task, if any
	leaseEnded     time.Time       // when a lease (anyone's) was last seen to end
}

// instance is one instance's state inside its cluster goroutine. It is
// named by the address this sentinel reaches it at (DESIGN.md §2), so a
// server reported under another name (NAT) is still one instance.
type instance struct {
	address        string // reachable address: its name
	reported       string // the form a server reported it in, when different
	source         string
	discoveredFrom string
	detector       *probe.Detector
	assessment     probe.Assessment
	last           *probe.Observation // the latest round
	lastReachable  *probe.Observation // the latest round it answered
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
		addrMap:    addressMap(c),
		log:        d.log.With("cluster", c.Name, "kind", c.Kind),
		results:    make(chan roundResult, 16),
		instances:  map[string]*instance{},
		conditions: map[string]Condition{},
		links:      map[string]vantageLink{},
		inbox:      make(chan quorum.Message, 256),
		auth:       make(chan *authRequest),
		leaseReq:   make(chan *leaseRequest),
		release:    make(chan struct{}),
		done:       make(chan struct{}),
		router:     d.router,
		steps:      d.cfg.Failover.Steps,
		fleetName:  d.cfg.Fleet.Name,
		routeReads: make(chan routeRead, 1),
		ops:        make(chan *opRequest),
		routePoke:  make(chan struct{}, 1),
		taskDone:   make(chan taskResult, 1),
		state:      d.state,
		fleet:      d.fleet,
		learned:    d.learned,
		restarted:  d.restarted,
		onLearned:  d.clusterLearned,
		agParams: quorum.Params{
			Self: quorum.MemberID(d.cfg.Sentinel.ID), Voters: d.voters, Cluster: c.Name, Quorum: c.Quorum,
			OpinionTTL: d.cfg.Detection.OpinionTTL, OpinionInterval: d.cfg.Detection.OpinionTTL / 3,
			Lease: d.cfg.Failover.Lease, DriftMargin: d.cfg.Failover.LeaseDriftMargin,
			ElectionTimeout: d.cfg.Failover.ElectionTimeout, BackoffBase: backoffBase, BackoffMax: backoffMax,
			Auto: c.Mode == config.ModeAuto, Cooldown: d.cfg.Failover.Cooldown,
		},
		tilt: quorum.Tilt{Interval: d.cfg.Detection.ProbeInterval, Threshold: tiltThreshold,
			Hold: max(d.cfg.Detection.OpinionTTL, d.cfg.Detection.MinDownAfter) + d.cfg.Detection.ProbeInterval},
	}
	if d.executors {
		m.newAdmin = d.redisAdmin(c)
		m.newMySQLAdmin = d.mysqlAdmin(c)
	}
	m.publish(time.Time{})
	return m, nil
}

// Election timing the config does not expose: the back-off after a lost
// election is uniform in [backoffBase, backoffBase·2^attempt), capped at
// backoffMax; a first candidacy is staggered by rank in backoffBase/2 steps.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = 2 * time.Second
	// tiltThreshold: a tick this much late, or a wall-clock jump this big,
	// puts the sentinel in TILT (Redis Sentinel uses 2s too).
	tiltThreshold = 2 * time.Second
)

// run probes the cluster until ctx ends, and returns once every probe loop
// it started has stopped.
func (m *clusterMonitor) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer close(m.done)
	defer m.wg.Wait()
	defer cancel()
	m.runCtx = ctx

	now := time.Now()
	if err := m.startAgreement(now); err != nil {
		m.log.Error("agreement not started: this sentinel observes only", "err", err)
	}
	m.add(ctx, m.cfg.Primary, "", SourceConfig, "", now)
	for _, r := range m.cfg.Replicas {
		m.add(ctx, r, "", SourceConfig, "", now)
	}
	if m.ag != nil { // the committed config's instances, when it moved on from the seed
		c := m.ag.Config()
		for _, addr := range append([]string{c.Primary}, c.Replicas...) {
			if addr != "" && m.registry.claim(addr, m.cfg.Name) == m.cfg.Name {
				m.add(ctx, addr, "", SourceCommitted, "", now)
			}
		}
	}
	for _, in := range m.cfg.Instances {
		m.add(ctx, in.Address, "", SourceConfig, "", now)
	}
	m.publish(now)
	if m.router != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.routeLoop(ctx)
		}()
	}

	tick := time.NewTicker(m.detector.Interval)
	defer tick.Stop()
	// wake fires when the agreement next needs a Tick (a stagger or
	// back-off ending, a renewal due), so it acts on time, not at the next
	// probe.
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	for {
		m.setWake(wake)
		select {
		case <-ctx.Done():
			return
		case <-wake.C:
			now := time.Now()
			m.tickAgreement(now)
			m.publish(now)
		case r := <-m.auth:
			m.handleAuth(r, time.Now())
		case r := <-m.leaseReq:
			now := time.Now()
			m.handleLease(r, now)
			m.publish(now)
		case <-m.release:
			now := time.Now()
			if m.ag != nil {
				m.ag.Done(now)
				m.carryOut(now)
				m.status = m.ag.Status(now)
			}
			m.publish(now)
		case r := <-m.routeReads:
			m.noteRoute(r)
		case r := <-m.ops:
			now := time.Now()
			m.handleOp(r, now)
			m.publish(now)
		case r := <-m.taskDone:
			now := time.Now()
			m.finishTask(r, now)
			m.tickAgreement(now)
			m.publish(now)
		case r := <-m.results:
			now := time.Now()
			m.record(r)
			m.discover(ctx, r.obs, now)
			m.assess(now)
			m.evaluateConditions(now)
			m.tickAgreement(now)
			m.publish(now)
		case msg := <-m.inbox:
			now := time.Now()
			if m.ag != nil {
				m.ag.Step(msg, now)
				m.tickAgreement(now) // an opinion may complete ODOWN: act at once
			}
			m.publish(now)
		case <-tick.C:
			// Now, not the tick's own time: never before an event already
			// handled. TILT is observed in tickAgreement.
			now := time.Now()
			m.assess(now)
			m.evaluateConditions(now)
			m.tickAgreement(now)
			m.publish(now)
		}
	}
}

// setWake points the wake timer at the agreement's next deadline.
func (m *clusterMonitor) setWake(t *time.Timer) {
	if m.ag == nil {
		return
	}
	now := time.Now()
	next := m.ag.NextWake(now)
	if next.IsZero() {
		next = now.Add(time.Hour)
	}
	t.Reset(next.Sub(now))
}

// add starts probing a reachable address, unless it is already probed
// here. reported is the form a server reported it in ("" when the same).
func (m *clusterMonitor) add(ctx context.Context, addr, reported, source, from string, now time.Time) {
	if _, ok := m.instances[addr]; ok {
		return
	}
	in := &instance{
		address:        addr,
		source:         source,
		discoveredFrom: from,
		detector:       probe.NewDetector(m.detector, now),
	}
	if reported != addr {
		in.reported = reported
	}
	m.instances[addr] = in
	m.order = append(m.order, addr)
	p := m.newProber(probe.Target{
		Cluster:    m.cfg.Name,
		Kind:       m.kind,
		Address:    addr,
		Dial:       addr,
		Username:   m.cfg.Credentials.Username,
		Password:   m.cfg.Credentials.Password.Reveal(),
		Timeout:    m.timeout,
		AddressMap: m.addrMap,

		ReplicationUser:     m.cfg.Credentials.Replication.Username,
		ReplicationPassword: m.cfg.Credentials.Replication.Password.Reveal(),
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		probeLoop(ctx, p, addr, m.detector.Interval, m.results, m.log.With("instance", addr))
	}()
	m.log.Debug("probing instance", "instance", addr, "reported_as", in.reported, "source", source)
}

// addressMap is a cluster's address_map as a lookup table: reported → reachable.
func addressMap(c config.ClusterConfig) map[string]string {
	if len(c.AddressMap) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.AddressMap))
	for _, e := range c.AddressMap {
		out[e.Reported] = e.Reach
	}
	return out
}

// reportedPeers are the addresses an observation names: the replicas a
// primary reports and the primary a replica follows, as reported.
func reportedPeers(obs *probe.Observation) []string {
	if obs == nil || !obs.Reachable {
		return nil
	}
	peers := append([]string(nil), obs.Replicas...)
	if obs.Primary != "" {
		peers = append(peers, obs.Primary)
	}
	return peers
}

func (m *clusterMonitor) record(r roundResult) {
	in, ok := m.instances[r.address]
	if !ok {
		return
	}
	in.detector.Record(r.round)
	obs := r.obs
	in.last = &obs
	m.trackLink(r.address, obs, r.round.End)
	m.trackLineage(r.address, obs)
	if obs.Reachable && !obs.LoginRefused() && obs.Role != probe.RoleUnknown {
		// A refused login is alive but says nothing of its state, and so
		// is a round cut short after its first answer (a primary stopped
		// mid-round: SELECT 1 answered, the variables timed out): keep
		// what it said when it last told this sentinel its state. Seen in
		// test: a SIGSTOP mid-round left the failover without the old
		// primary's semi-sync facts, so strict waited for a fence forever.
		in.lastReachable = &obs
	}
	m.log.Debug("probe", "instance", r.address, "ok", r.round.OK, "rtt", r.round.RTT, "role", obs.Role, "err", obs.Error)
}

// discover follows the replicas an instance reports, and the primary a
// replica reports, into this cluster, by their reachable address, unless
// they belong to another cluster (evaluateConditions reports those).
func (m *clusterMonitor) discover(ctx context.Context, obs probe.Observation, now time.Time) {
	for _, reported := range reportedPeers(&obs) {
		addr := probe.MapAddress(m.addrMap, reported)
		if _, ok := m.instances[addr]; ok {
			continue
		}
		if owner := m.registry.claim(addr, m.cfg.Name); owner != m.cfg.Name {
			continue
		}
		m.add(ctx, addr, reported, SourceDiscovered, obs.Instance, now)
		detail := map[string]any{"instance": addr, "from": obs.Instance}
		if reported != addr {
			detail["reported_as"] = reported
		}
		m.log.Info("discovered instance", "instance", addr, "reported_as", reported, "from", obs.Instance)
		m.append(EventDiscovered, now, detail)
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
			level := slog.LevelInfo
			if addr == m.primary() {
				level = slog.LevelWarn // no failover yet at this stage: a person must act
			}
			m.log.Log(context.Background(), level, "instance is subjectively down",
				"instance", addr, "role", m.roleOf(in), "reason", in.assessment.Reason)
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
	if in.address == m.primary() {
		return probe.RolePrimary
	}
	return probe.RoleReplica
}

// evaluateConditions derives the cluster's conditions from what each
// instance said when it last answered (an instance that stops answering
// does not clear what it showed), and records each one raised or cleared
// since last time.
func (m *clusterMonitor) evaluateConditions(now time.Time) {
	found := map[string]Condition{}
	put := func(c Condition) {
		key := c.Name + "/" + c.Instance
		if old, ok := m.conditions[key]; ok {
			c.Since = old.Since
		}
		found[key] = c
	}
	for _, addr := range m.order {
		if last := m.instances[addr].last; last != nil {
			for _, c := range accessConditions(addr, last.Access, now) {
				put(c)
			}
		}
		obs := m.instances[addr].lastReachable
		if obs == nil {
			continue
		}
		for _, reported := range reportedPeers(obs) {
			peer := probe.MapAddress(m.addrMap, reported)
			if owner := m.registry.owner(peer); owner != "" && owner != m.cfg.Name {
				put(Condition{Name: CondForeignInstance, Severity: SeverityWarning, Instance: peer, Since: now,
					Detail: fmt.Sprintf("%s reports %s, which belongs to cluster %s; it is probed there, not here "+
						"(check the replication topology and the config)", addr, reported, owner)})
			}
		}
		switch {
		case obs.At.Before(m.configSeen):
			// Taken before the committed config changed: a promotion in
			// flight, not a disagreement.
		case addr == m.primary() && obs.Role == probe.RoleReplica:
			put(Condition{Name: CondPrimaryIsReplica, Severity: SeverityCritical, Instance: addr, Since: now,
				Detail: fmt.Sprintf("the primary %s reports itself a replica of %s: the topology changed outside "+
					"this fleet; imsentinel observes and does not act", addr, orNone(obs.Primary))})
		case addr != m.primary() && obs.Role == probe.RolePrimary && !obs.ReadOnly:
			put(Condition{Name: CondWritableNonPrimary, Severity: SeverityCritical, Instance: addr, Since: now,
				Detail: fmt.Sprintf("%s accepts writes but the primary is %s: writes there may be lost or "+
					"diverge (nodes must start fenced: read_only, replicaof)", addr, m.primary())})
		}
	}
	if p := m.instances[m.primary()]; p != nil && p.lastReachable != nil && p.lastReachable.MySQL != nil {
		if drift := promote.SemiSyncDrift(p.lastReachable.MySQL, m.replicating()); len(drift) > 0 {
			put(Condition{Name: CondSemiSyncDrift, Severity: SeverityWarning, Instance: m.primary(), Since: now,
				Detail: "semi-sync falls short of the zero-loss setup: " + strings.Join(drift, "; ")})
		}
		committed := promote.Committed{Primary: m.cfg.Primary}
		if m.ag != nil {
			committed = m.committed()
		}
		for _, addr := range m.order {
			in := m.instances[addr]
			o := in.last
			// A primary that is down compares with stale facts: a replica
			// just promoted by a failover this sentinel has not learned of
			// yet would look errant (seen in make bench, for ~200 ms).
			if p.sdown || addr == m.primary() || o == nil || !o.Reachable || o.MySQL == nil || o.Role != probe.RolePrimary || !committed.Member(addr) {
				continue
			}
			if extra, err := promote.ExtraTransactions(o.MySQL, p.lastReachable.MySQL); err == nil && extra != "" {
				put(Condition{Name: CondErrantReturningPrimary, Severity: SeverityCritical, Instance: addr, Since: now,
					Detail: fmt.Sprintf("%s answers as a primary with transactions the primary %s lacks (%s): it is kept read-only, not rejoined",
						addr, m.primary(), extra)})
			}
		}
	}
	if p := m.instances[m.primary()]; m.kind == probe.KindMySQL && m.status.Holder == "" && p != nil && !p.sdown &&
		p.last != nil && p.last.Reachable && p.last.MySQL != nil && p.last.Role == probe.RolePrimary && p.last.ReadOnly {
		put(Condition{Name: CondPrimaryReadOnly, Severity: SeverityCritical, Instance: m.primary(), Since: now,
			Detail: fmt.Sprintf("the primary %s answers read-only and no failover or repair is under way: %s takes no writes. "+
				"A failover may have fenced it and given up, or a person fenced it; once what the journal says is understood: "+
				"imctl instance unfence %s %s", m.primary(), m.cfg.Name, m.cfg.Name, m.primary())})
	}
	if it, ok := m.pendingPromotion(); ok && m.status.Holder == "" {
		if p := m.instances[it.OldPrimary]; p != nil && !p.sdown && p.last != nil && p.last.Reachable {
			put(Condition{Name: CondFailoverPending, Severity: SeverityCritical, Instance: it.Target, Since: now,
				Detail: fmt.Sprintf("a failover of %s by %s at epoch %d recorded its %s intent (%s → %s) and was not committed; %s",
					m.cfg.Name, it.Holder, it.Epoch, it.Step, it.OldPrimary, it.Target, pendingAdvice(m.cfg.Name, it))})
		}
	}
	if tc := m.taskConds.Load(); tc != nil {
		for _, c := range *tc {
			put(c)
		}
	}
	if m.lineageBroken {
		put(Condition{Name: CondLineageBroken, Severity: SeverityCritical, Instance: m.primary(), Since: now,
			Detail: fmt.Sprintf("the primary %s answers with another replication history (replid %s at offset %d; known %s): "+
				"it restarted without its data or was replaced; it is failed over to a replica that still has the data, if one does",
				m.primary(), m.lineageSeen.ReplID, m.lineageSeen.Offset, m.lineage.ReplID)})
	}
	if m.status.State == quorum.StateVantageBlocked {
		put(Condition{Name: CondVantageBlocked, Severity: SeverityCritical, Instance: m.primary(), Since: now,
			Detail: "the fleet agrees the primary is down but a replica still hears from it, so it is not failed " +
				"over automatically: " + m.status.Vantage})
	}
	for key, c := range found {
		if _, ok := m.conditions[key]; !ok {
			m.logAccess(c)
			m.log.Warn("condition raised", "condition", c.Name, "severity", c.Severity, "instance", c.Instance, "detail", c.Detail)
			m.append(EventCondition, now, map[string]any{"condition": c.Name, "severity": c.Severity,
				"instance": c.Instance, "detail": c.Detail})
		}
	}
	for key, c := range m.conditions {
		if _, ok := found[key]; !ok {
			m.log.Info("condition cleared", "condition", c.Name, "instance", c.Instance)
			m.append(EventConditionCleared, now, map[string]any{"condition": c.Name, "instance": c.Instance})
		}
	}
	m.conditions = found
}

func orNone(s string) string {
	if s == "" {
		return "no known primary"
	}
	return s
}

// append records a journal entry.
func (m *clusterMonitor) append(typ string, at time.Time, detail map[string]any) {
	if m.journal == nil {
		return
	}
	b, err := json.Marshal(detail)
	if err != nil {
		m.log.Error("encode journal entry", "type", typ, "err", err)
		return
	}
	m.journal.Record(store.Entry{At: at, Cluster: m.cfg.Name, Sentinel: m.sentinel, Type: typ, Detail: b})
}

// pendingFailover is the fleet's last intent when it is a failover's
// step (stop-io, promote, demote, repoint) away from the primary this
// sentinel believes in: a failover began and is not committed.
func (m *clusterMonitor) pendingFailover() (quorum.Intent, bool) {
	if m.ag == nil {
		return quorum.Intent{}, false
	}
	it, ok := m.ag.LastIntent()
	if !ok || !slices.Contains(failoverIntentSteps, it.Step) || it.OldPrimary != m.primary() {
		return quorum.Intent{}, false
	}
	return it, true
}

// pendingPromotion is a pending MySQL failover past its stop-io: the
// target may be a writable primary already.
func (m *clusterMonitor) pendingPromotion() (quorum.Intent, bool) {
	it, ok := m.pendingFailover()
	if !ok || m.kind != probe.KindMySQL || it.Step == promote.StepStopIO {
		return quorum.Intent{}, false
	}
	return it, true
}

// maxObservationAge is how old a probe may be and still speak for an
// instance's state (ranking, the zero-loss claim).
func (m *clusterMonitor) maxObservationAge() time.Duration {
	return 2*m.detector.MinDownAfter + m.detector.Interval
}

// replicating counts the instances whose last answer says they replicate
// the primary.
func (m *clusterMonitor) replicating() int {
	n := 0
	for _, addr := range m.order {
		in := m.instances[addr]
		if addr != m.primary() && in.lastReachable != nil && in.lastReachable.Role == probe.RoleReplica &&
			probe.MapAddress(m.addrMap, in.lastReachable.Primary) == m.primary() {
			n++
		}
	}
	return n
}

// zeroLoss is the cluster's zero-loss claim from the primary's last
// answer (DESIGN.md §6.8); facts older than ranking accepts (the primary
// silent, or refusing the login, since) make no claim.
func (m *clusterMonitor) zeroLoss(now time.Time) promote.Claim {
	var f *probe.MySQLFacts
	if p := m.instances[m.primary()]; p != nil && p.lastReachable != nil {
		if age, limit := now.Sub(p.lastReachable.At), m.maxObservationAge(); m.kind == probe.KindMySQL && age > limit {
			return promote.Claim{Why: fmt.Sprintf("the primary's replication settings were last read %v ago (more than %v): unknown now",
				age.Round(time.Millisecond), limit)}
		}
		f = p.lastReachable.MySQL
	}
	return promote.ZeroLossClaim(m.kind, f, m.replicating())
}

// publish makes the current state visible to readers.
func (m *clusterMonitor) publish(now time.Time) {
	v := &ClusterView{
		Name:       m.cfg.Name,
		Kind:       m.cfg.Kind,
		Mode:       m.cfg.Mode,
		Primary:    m.primary(),
		State:      string(m.status.State),
		Epoch:      m.status.Epoch,
		Agreement:  agreementView(m.status),
		Instances:  make([]InstanceView, 0, len(m.order)),
		Conditions: make([]Condition, 0, len(m.conditions)),
		ZeroLoss:   m.zeroLoss(now),
		UpdatedAt:  now,
	}
	for _, addr := range m.order {
		in := m.instances[addr]
		iv := InstanceView{
			Address:        in.address,
			ReportedAs:     in.reported,
			Source:         in.source,
			DiscoveredFrom: in.discoveredFrom,
			SDOWN:          in.sdown,
			Detector:       detectorView(in.assessment),
			Observation:    in.last,
		}
		if in.sdown {
			t := in.sdownSince
			iv.SDOWNSince = &t
		}
		v.Instances = append(v.Instances, iv)
	}
	for _, c := range m.conditions {
		v.Conditions = append(v.Conditions, c)
	}
	if m.ag != nil {
		c := m.ag.Config()
		v.ConfigEpoch, v.Replicas, v.PreviousPrimary = c.Epoch, c.Replicas, c.Settings[promote.SettingPreviousPrimary]
		if at, err := time.Parse(time.RFC3339, c.Settings[promote.SettingFailoverAt]); err == nil {
			epoch, _ := strconv.ParseUint(c.Settings[promote.SettingFailoverEpoch], 10, 64)
			v.LastFailover = &LastFailover{Epoch: epoch, At: at, OldPrimary: v.PreviousPrimary, NewPrimary: c.Primary, Committed: true}
		}
		if until, ok := m.pausedUntil(); ok && wallNow().Before(until) {
			v.PausedUntil = &until
		}
		if it, ok := m.pendingFailover(); ok {
			v.PendingFailover = &it
		}
	}
	slices.SortFunc(v.Conditions, func(a, b Condition) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Instance, b.Instance))
	})
	m.view.Store(v)
}
