package sentinel

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
)

// stateStore is the part of the durable state the agreement needs: votes,
// epochs and committed configs, read at start and written before replies.
type stateStore interface {
	HighestEpoch(cluster string) (uint64, error)
	ObserveEpoch(cluster string, epoch uint64) error
	Vote(cluster string) (store.Vote, bool, error)
	SaveVote(store.Vote) error
	Config(cluster string) (store.ClusterConfig, bool, error)
	SaveConfig(store.ClusterConfig) error
	Intent(cluster string) (store.Intent, bool, error)
	SaveIntent(store.Intent) error
}

// restoreAgreement reads a cluster's persisted agreement state. The latest
// vote becomes the binding: after a restart it holds for one more lease,
// which the restarted sentinel abstains for anyway (DESIGN.md §5.6).
func restoreAgreement(st stateStore, cluster string, learned bool) (quorum.Persistent, error) {
	p := quorum.Persistent{Learned: learned}
	var err error
	if p.HighestEpoch, err = st.HighestEpoch(cluster); err != nil {
		return p, fmt.Errorf("restore agreement of %s: %w", cluster, err)
	}
	v, found, err := st.Vote(cluster)
	if err != nil {
		return p, fmt.Errorf("restore agreement of %s: %w", cluster, err)
	}
	if found {
		p.Binding = quorum.Binding{Cluster: cluster, Epoch: v.Epoch, Holder: quorum.MemberID(v.Candidate),
			Reason: quorum.Reason(v.Reason)}
	}
	c, found, err := st.Config(cluster)
	if err != nil {
		return p, fmt.Errorf("restore agreement of %s: %w", cluster, err)
	}
	if found {
		p.ConfigEpoch, p.ConfigVersion, p.Primary, p.Replicas, p.Settings = c.Epoch, c.Version, c.Primary, c.Replicas, c.Settings
	}
	in, found, err := st.Intent(cluster)
	if err != nil {
		return p, fmt.Errorf("restore agreement of %s: %w", cluster, err)
	}
	if found {
		p.Intent = quorum.Intent{Cluster: cluster, Epoch: in.Epoch, Step: in.Step, Target: in.Target,
			OldPrimary: in.OldPrimary, Holder: quorum.MemberID(in.Holder), Seq: in.Seq}
	}
	return p, nil
}

// persistAgreement writes what changed between two persisted states, each
// write fsynced, before the messages of the same Ready go out.
func persistAgreement(st stateStore, cluster string, prev, next quorum.Persistent, lease time.Duration, now time.Time) error {
	if next.HighestEpoch > prev.HighestEpoch {
		if err := st.ObserveEpoch(cluster, next.HighestEpoch); err != nil {
			return err
		}
	}
	if b := next.Binding; b.Holder != "" && (b.Epoch != prev.Binding.Epoch || b.Holder != prev.Binding.Holder) {
		if err := st.SaveVote(store.Vote{Cluster: cluster, Epoch: b.Epoch, Candidate: string(b.Holder),
			Reason: string(b.Reason), GrantedAt: now, LeaseUntil: now.Add(lease)}); err != nil {
			return err
		}
	}
	if next.ConfigEpoch > 0 && (next.ConfigEpoch != prev.ConfigEpoch || next.ConfigVersion != prev.ConfigVersion ||
		next.Primary != prev.Primary || !slices.Equal(next.Replicas, prev.Replicas) || !maps.Equal(next.Settings, prev.Settings)) {
		if err := st.SaveConfig(store.ClusterConfig{Cluster: cluster, Epoch: next.ConfigEpoch, Version: next.ConfigVersion,
			Primary: next.Primary, Replicas: next.Replicas, Settings: next.Settings, CommittedAt: now}); err != nil {
			return err
		}
	}
	if in := next.Intent; in.Step != "" && in != prev.Intent {
		if err := st.SaveIntent(store.Intent{Cluster: cluster, Epoch: in.Epoch, Step: in.Step, Target: in.Target,
			OldPrimary: in.OldPrimary, Holder: string(in.Holder), Seq: in.Seq, At: now}); err != nil {
			return err
		}
	}
	return nil
}

// vantageLink is what a cluster remembers of one MySQL replica's receiver
// to tell when it last heard from the primary: heartbeats and received
// positions only move while the link carries something.
type vantageLink struct {
	sig     string
	changed time.Time
}

// replicaLinks turns the latest observations of the primary's replicas into
// replica-vantage evidence (DESIGN.md §5.4).
func (m *clusterMonitor) replicaLinks(now time.Time) []quorum.ReplicaLink {
	var links []quorum.ReplicaLink
	for _, addr := range m.order {
		in := m.instances[addr]
		if addr == m.primary() || in.lastReachable == nil || in.lastReachable.Role != probe.RoleReplica {
			continue
		}
		if probe.MapAddress(m.addrMap, in.lastReachable.Primary) != m.primary() {
			continue // a replica of something else
		}
		l := quorum.ReplicaLink{Replica: addr, LastIO: -1}
		obs := in.last
		if obs != nil && obs.Reachable {
			l.Reachable = true
			switch {
			case obs.Redis != nil:
				l.LinkUp = obs.Redis.LinkUp
				if obs.Redis.LastIOSecondsAgo >= 0 {
					l.LastIO = time.Duration(obs.Redis.LastIOSecondsAgo) * time.Second
				}
			case obs.MySQL != nil:
				if ch, ok := m.channelTo(obs); ok {
					l.LinkUp = ch.IO == probe.IORunning
					if v, ok := m.links[addr]; ok && !v.changed.IsZero() {
						l.LastIO = now.Sub(v.changed)
					}
				}
			}
		}
		links = append(links, l)
	}
	return links
}

// channelTo finds a MySQL replica's channel from the cluster's primary.
func (m *clusterMonitor) channelTo(obs *probe.Observation) (probe.Channel, bool) {
	for _, ch := range obs.MySQL.Channels {
		if probe.MapAddress(m.addrMap, ch.Source) == m.primary() {
			return ch, true
		}
	}
	return probe.Channel{}, false
}

// trackLink notes when a MySQL replica's receiver last moved.
func (m *clusterMonitor) trackLink(addr string, obs probe.Observation, at time.Time) {
	if obs.MySQL == nil || !obs.Reachable {
		return
	}
	ch, ok := m.channelTo(&obs)
	if !ok {
		return
	}
	sig := fmt.Sprintf("%d/%s/%s/%d", ch.ReceivedHeartbeats, ch.GTIDIOPos, ch.RetrievedGTIDSet, ch.ReadSourceLogPos)
	v, seen := m.links[addr]
	if !seen {
		m.links[addr] = vantageLink{sig: sig} // when it last moved is unknown yet
		return
	}
	if v.sig != sig {
		m.links[addr] = vantageLink{sig: sig, changed: at}
	}
}

// startAgreement restores the cluster's agreement from the state store.
func (m *clusterMonitor) startAgreement(now time.Time) error {
	p := quorum.Persistent{Learned: m.learned}
	if m.state != nil {
		var err error
		if p, err = restoreAgreement(m.state, m.cfg.Name, m.learned); err != nil {
			return err
		}
	}
	m.persisted = p
	seed := uint64(now.UnixNano())
	for _, c := range m.agParams.Self + quorum.MemberID(m.cfg.Name) {
		seed = seed*31 + uint64(c)
	}
	m.ag = quorum.NewAgreement(m.agParams, p, m.restarted, rand.New(rand.NewPCG(seed, seed>>7)), now)
	m.status = m.ag.Status(now)
	return nil
}

// rebuildAgreement replaces the agreement by one restored from disk, as
// after a restart (it abstains for one lease). If even that fails the
// cluster only observes.
func (m *clusterMonitor) rebuildAgreement(now time.Time) {
	restarted := m.restarted
	m.restarted = true
	defer func() { m.restarted = restarted }()
	if err := m.startAgreement(now); err != nil {
		m.ag = nil
		m.log.Error("restart the agreement from disk: this sentinel observes only", "err", err)
	}
}

// tickAgreement gives the agreement this sentinel's view and carries out
// what it asks.
func (m *clusterMonitor) tickAgreement(now time.Time) {
	if m.ag == nil {
		return
	}
	// TILT is checked on every tick, not only the probe ticker's: after a
	// host suspend the monotonic clock has stood still while the wall clock
	// moved, and no step may start on the lease before this is seen.
	m.tilted, m.tiltWhy = m.tilt.Observe(wallNow())
	believed := m.primary()
	primary := m.instances[believed]
	local := quorum.Local{
		ConfigEpoch: 0, // the seed; a committed config (epoch > 0) wins (DESIGN.md §5.9)
		Primary:     m.cfg.Primary,
		// A primary whose replication history broke (restarted without its
		// data) is as good as down: routing to it serves an empty dataset,
		// and its replicas are about to resync from it (DESIGN.md §6.6).
		PrimarySDOWN: primary != nil && (primary.sdown || m.lineageBroken),
		Vantage:      quorum.CheckVantage(m.replicaLinks(now), m.cfg.Heartbeat.Period, m.cfg.Heartbeat.VantageMultiplier),
		Tilt:         m.tilted,
		Alive:        []quorum.MemberID{m.agParams.Self},
	}
	if m.fleet != nil {
		local.Alive = m.fleet.alive()
		// DESIGN.md §5.1: a sentinel whose id collides with another's does
		// not vote or act, and says so loudly.
		if c := m.fleet.collision(); c != "" {
			local.Tilt = true
			m.tiltWhy = "another process uses sentinel id " + string(m.agParams.Self) + " (" + c +
				"): this sentinel does not vote or act until sentinel.id is unique"
			if !m.collided {
				m.log.Error("sentinel id collision: observing only", "detail", m.tiltWhy)
				m.collided = true
			}
		}
	}
	for _, name := range []string{CondPrimaryIsReplica, CondWritableNonPrimary} {
		for _, c := range m.conditions {
			if c.Name == name && !m.inFlight(c.Instance) {
				local.Hold = name + ": " + c.Detail
			}
		}
	}
	if now.Before(m.holdUntil) && local.Hold == "" {
		local.Hold = m.holdWhy
	}
	if until, ok := m.pausedUntil(); ok && wallNow().Before(until) && local.Hold == "" {
		local.Hold = "paused by an operator until " + until.Format(time.RFC3339)
	}
	m.ag.Tick(now, local)
	m.carryOut(now)
	was := m.status.Holder
	m.status = m.ag.Status(now)
	if was != "" && m.status.Holder == "" {
		m.leaseEnded = now
		m.pokeRoute()
	}
	m.settle(now)
	if c := m.ag.Config(); c.Epoch != m.seenEpoch {
		m.seenEpoch, m.configSeen = c.Epoch, now
	}
	m.steer(now)
	m.status = m.ag.Status(now)
}

// inFlight says whether addr's disagreement with the config is a failover
// in flight: the latest intent moves the primary from the one believed in
// to a target, and addr is that target (promoted, not committed yet) or the
// old primary already following it. The next holder rolls it forward
// (DESIGN.md §5.7); holding the failover back would leave it half done.
func (m *clusterMonitor) inFlight(addr string) bool {
	it, ok := m.ag.LastIntent()
	if !ok || it.OldPrimary != m.primary() || it.Target == m.primary() {
		return false
	}
	if addr == it.Target {
		return true
	}
	in := m.instances[addr]
	return addr == m.primary() && in != nil && in.lastReachable != nil &&
		probe.MapAddress(m.addrMap, in.lastReachable.Primary) == it.Target
}

// carryOut does what the agreement's Ready asks, in order: persist (fsync)
// before anything is sent, then send, then record the events. A failed
// write sends nothing: a grant must never leave unpersisted.
func (m *clusterMonitor) carryOut(now time.Time) {
	r := m.ag.Ready()
	if r.Persist != nil {
		if m.state != nil {
			if err := persistAgreement(m.state, m.cfg.Name, m.persisted, *r.Persist, m.agParams.Lease, now); err != nil {
				// Memory is now ahead of the disk: treat it like a crash.
				// Nothing of this Ready is sent, and the agreement restarts
				// from what is stored, abstaining for one lease.
				m.log.Error("persist agreement state: nothing sent, restarting the agreement from disk", "err", err)
				m.rebuildAgreement(now)
				return
			}
		}
		if r.Persist.Learned && !m.persisted.Learned && m.onLearned != nil {
			m.onLearned()
		}
		m.persisted = *r.Persist
	}
	if m.fleet != nil {
		for _, msg := range r.Send {
			m.fleet.send(msg)
			m.remember(msg)
		}
	}
	for _, e := range r.Events {
		level := slog.LevelInfo
		switch e.Type {
		case "state:" + string(quorum.StateVantageBlocked), "lease-lost":
			level = slog.LevelWarn
		case "state:" + string(quorum.StateTilt):
			level = slog.LevelWarn
			e.Detail += " (" + m.tiltWhy + ")"
		}
		m.log.Log(context.Background(), level, "agreement: "+e.Type, "epoch", e.Epoch, "detail", e.Detail)
		m.append("agreement:"+e.Type, e.At, map[string]any{"epoch": e.Epoch, "detail": e.Detail})
	}
}

// primary is the primary this sentinel believes in: the committed config's
// when there is one, else the config file's seed (DESIGN.md §5.9).
func (m *clusterMonitor) primary() string {
	if m.ag != nil {
		if p, epoch := m.ag.Primary(); epoch > 0 && p != "" {
			return p
		}
	}
	return m.cfg.Primary
}

// remember keeps the latest of the messages worth repeating in push/pull
// exchanges: this sentinel's opinion, its leader notice and committed
// configs. Receivers treat a repeat like the original.
// A release drops the leader notice: repeating it would make the others
// follow a leader that is gone.
func (m *clusterMonitor) remember(msg quorum.Message) {
	drop := msg.Kind
	switch msg.Kind {
	case quorum.KindOpinion, quorum.KindLeader, quorum.KindCommitted:
	case quorum.KindRelease:
		drop = quorum.KindLeader
	default:
		return
	}
	var keep []quorum.Message
	if cur := m.shared.Load(); cur != nil {
		for _, old := range *cur {
			if old.Kind != drop {
				keep = append(keep, old)
			}
		}
	}
	if msg.Kind != quorum.KindRelease {
		keep = append(keep, msg)
	}
	m.shared.Store(&keep)
}
