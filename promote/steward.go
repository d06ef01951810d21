package promote

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/gtid"
)

// Repair kinds a steward lease carries out (DESIGN.md §5.8, §6.2, §6.6–6.7).
const (
	// RepairCommitSeed commits the config file's seed primary as the
	// cluster's first config, so it can be routed: only when observation
	// agrees (the seed answers as a writable primary and no other node
	// does).
	RepairCommitSeed = "commit-seed"
	// RepairDemote turns a node of the cluster that answers as a primary
	// but is not the committed one (a returning old primary) into a
	// replica of the committed primary; its extra offset is journaled
	// first.
	RepairDemote = "demote"
	// RepairRepoint points a replica of the cluster that follows another
	// node at the committed primary.
	RepairRepoint = "repoint"
	// RepairSelfFence sets the committed primary's min-replicas-to-write
	// and min-replicas-max-lag to what the committed config says.
	RepairSelfFence = "self-fence"
	// RepairRestoreSelfFence commits the configured self-fence again after
	// a failover relaxed it, once enough replicas are back.
	RepairRestoreSelfFence = "restore-self-fence"
	// RepairHeartbeat sets repl-ping-replica-period on a node.
	RepairHeartbeat = "heartbeat"
	// RepairRoute writes the committed config to the routing Redis: the
	// route is absent or older.
	RepairRoute = "route"
	// RepairRejoin (MySQL) makes a returning old primary that has nothing
	// the primary lacks a replica of it (MASTER_DEMOTE_TO_SLAVE on MariaDB).
	RepairRejoin = "rejoin"
	// RepairFenceErrant (MySQL) keeps a returning old primary with
	// transactions the primary lacks read-only, for a person: rejoining it
	// would fail or diverge (DESIGN.md §6.6).
	RepairFenceErrant = "fence-errant"
	// RepairUndoDetach (MySQL) gives the cluster back to its committed
	// primary after a failover stopped the replicas' IO threads (its
	// stop-io intent is the last one) and neither promoted nor undid it,
	// typically because the primary was hung and came back: the replicas
	// receive again and the primary accepts writes (docs/design.md §9.33).
	// Its intent supersedes the stop-io intent.
	RepairUndoDetach = "undo-detach"
)

// ExtraTransactions says what a returning MySQL/MariaDB node has that the
// primary lacks ("" when nothing): MariaDB from the binlog states, MySQL
// from gtid_executed.
func ExtraTransactions(node, primary *probe.MySQLFacts) (string, error) {
	if node.Flavor == probe.FlavorMySQL {
		a, err := gtid.ParseSet(node.GTIDExecuted)
		if err != nil {
			return "", err
		}
		b, err := gtid.ParseSet(primary.GTIDExecuted)
		if err != nil {
			return "", err
		}
		return a.Subtract(b).String(), nil
	}
	a, err := gtid.ParseState(node.GTIDBinlogState)
	if err != nil {
		return "", err
	}
	b, err := gtid.ParseState(primary.GTIDBinlogState)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, r := range a.Subtract(b) {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", "), nil
}

// ReceivedBeyond says what a replica received (applied or still in its
// relay log) that a primary lacks ("" when nothing): restarting the
// replica's IO thread in GTID mode discards its relay log and asks the
// primary for the rest, so what the primary lacks would be gone.
func ReceivedBeyond(replica, primary *probe.MySQLFacts) (string, error) {
	var ch *probe.Channel
	if len(replica.Channels) > 0 {
		ch = &replica.Channels[0]
	}
	rec, err := receivedOf(replica, ch)
	if err != nil {
		return "", err
	}
	var has received
	if primary.Flavor == probe.FlavorMySQL {
		set, err := gtid.ParseSet(primary.GTIDExecuted)
		if err != nil {
			return "", err
		}
		has = received{mysql: set, isMySQL: true}
	} else {
		pos, err := gtid.ParsePosition(primary.GTIDBinlogPos)
		if err != nil {
			return "", err
		}
		has = received{maria: pos}
	}
	return has.lacks(rec), nil
}

// Settings keys of a committed Redis config.
const (
	// SettingMinReplicas is the min-replicas-to-write the primary runs
	// with, when a failover relaxed it below the configured value.
	SettingMinReplicas = "min_replicas"
	// SettingPreviousPrimary names the primary before the last failover:
	// when it returns it is demoted, not reported as foreign.
	SettingPreviousPrimary = "previous_primary"
	// SettingFailoverEpoch and SettingFailoverAt (RFC 3339) record the
	// last failover: the epoch of its lease and when it committed.
	SettingFailoverEpoch = "failover_epoch"
	SettingFailoverAt    = "failover_at"
)

// Committed is the committed config as the steward reads it.
type Committed struct {
	// Epoch 0: nothing committed yet; Primary is then the config file's
	// seed.
	Epoch    uint64            `json:"epoch"`
	Primary  string            `json:"primary"`
	Replicas []string          `json:"replicas,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
}

// MinReplicas is the self-fence the committed primary should run with:
// the relaxed value when a failover set one, else configured.
func (c Committed) MinReplicas(configured int) int {
	if v, err := strconv.Atoi(c.Settings[SettingMinReplicas]); err == nil && v >= 0 && v < configured {
		return v
	}
	return configured
}

// Member says whether addr belongs to the cluster's committed history: the
// primary, a committed replica or the previous primary.
func (c Committed) Member(addr string) bool {
	return addr == c.Primary || slices.Contains(c.Replicas, addr) || addr == c.Settings[SettingPreviousPrimary]
}

// Node is one node as the steward sees it.
type Node struct {
	Address string `json:"address"`
	// Observation is its latest probe round; nil when never probed.
	Observation *probe.Observation `json:"observation,omitempty"`
	SDOWN       bool               `json:"sdown"`
}

// answering is the node's latest observation when it answered fully.
func (n Node) answering() (*probe.Observation, bool) {
	o := n.Observation
	if n.SDOWN || o == nil || !o.Reachable || (o.Redis == nil && o.MySQL == nil) || (o.Redis != nil && o.Redis.Loading) {
		return nil, false
	}
	return o, true
}

// MySQLRepairs lists what a steward lease should repair in a MySQL or
// MariaDB cluster at this stage: commit the seed when observation agrees,
// set MASTER_HEARTBEAT_PERIOD on a replica whose heartbeat is longer than
// heartbeat.period, and write a route that is absent or older than the
// committed config. Role repairs (rejoining a returning primary, which
// needs an errant check) are not done yet.
func MySQLRepairs(in StewardInput) []Repair {
	c := in.Committed
	byAddr := map[string]Node{}
	for _, n := range in.Nodes {
		byAddr[n.Address] = n
	}
	o, up := byAddr[c.Primary].answering()
	if !up || o.Role != probe.RolePrimary || o.MySQL == nil {
		return nil
	}
	if c.Epoch == 0 {
		return seedRepair(in)
	}
	var out []Repair
	if in.Detached == c.Primary {
		out = append(out, undoDetach(in, o))
	}
	for _, n := range in.Nodes {
		ro, ok := n.answering()
		if !ok || ro.MySQL == nil || n.Address == c.Primary || n.Address == in.PendingTarget || !c.Member(n.Address) || ro.Role != probe.RolePrimary {
			continue
		}
		// A node of the cluster answering as a primary (a returning old
		// primary): rejoin it when it has nothing the new primary lacks;
		// otherwise keep it read-only for a person (DESIGN.md §6.6).
		extra, err := ExtraTransactions(ro.MySQL, o.MySQL)
		switch {
		case (err != nil || extra != "") && ro.ReadOnly:
			// Fenced already: a person decides (the condition says why).
		case err != nil:
			out = append(out, Repair{Kind: RepairFenceErrant, Target: n.Address,
				Why: "answers as a primary; its GTID state cannot be compared with the primary's: " + err.Error()})
		case extra != "":
			out = append(out, Repair{Kind: RepairFenceErrant, Target: n.Address, Errant: extra,
				Why: fmt.Sprintf("answers as a primary with transactions the primary %s lacks: %s", c.Primary, extra)})
		default:
			out = append(out, Repair{Kind: RepairRejoin, Target: n.Address, Primary: c.Primary,
				Why: fmt.Sprintf("answers as a primary; it has nothing %s lacks: it rejoins as a replica", c.Primary)})
		}
	}
	if in.Heartbeat > 0 {
		// MASTER_HEARTBEAT_PERIOD on each replica of the primary: replica
		// vantage reads it (DESIGN.md §5.4). A channel that reads 0 is
		// unknown (MySQL shows it elsewhere), not wrong.
		for _, n := range in.Nodes {
			ro, ok := n.answering()
			if !ok || ro.MySQL == nil || !c.Member(n.Address) || n.Address == c.Primary {
				continue
			}
			for _, ch := range ro.MySQL.Channels {
				if probe.MapAddress(in.AddressMap, ch.Source) != c.Primary || ch.HeartbeatPeriod == 0 ||
					ch.IO != probe.IORunning || ch.HeartbeatPeriod <= in.Heartbeat {
					continue
				}
				out = append(out, Repair{Kind: RepairHeartbeat, Target: n.Address, Period: in.Heartbeat,
					Why: fmt.Sprintf("MASTER_HEARTBEAT_PERIOD %v, want at most %v (replica vantage needs short heartbeats)", ch.HeartbeatPeriod, in.Heartbeat)})
			}
		}
	}
	return routeRepair(in, out)
}

// undoDetach gives the committed primary p, which answers, back its
// replicas after a failover that stopped their IO threads and went no
// further: read_only=OFF when it is set, and Replicas lists the answering
// replicas of p, whose IO thread the steward starts if it finds it stopped
// cleanly (no receiver error) when it acts: a probe may not have seen the
// stop yet. Even with nothing to restart it records the undo, so no later
// failover rolls forward from the stale stop-io intent.
func undoDetach(in StewardInput, p *probe.Observation) Repair {
	c := in.Committed
	r := Repair{Kind: RepairUndoDetach, Target: c.Primary, Unfence: p.ReadOnly}
	for _, n := range in.Nodes {
		o, ok := n.answering()
		if !ok || o.MySQL == nil || n.Address == c.Primary {
			continue
		}
		for _, ch := range o.MySQL.Channels {
			if ch.Name == "" && probe.MapAddress(in.AddressMap, ch.Source) == c.Primary {
				r.Replicas = append(r.Replicas, n.Address)
			}
		}
	}
	slices.Sort(r.Replicas)
	var what []string
	if len(r.Replicas) > 0 {
		what = append(what, fmt.Sprintf("those of %s with the IO thread stopped receive again", strings.Join(r.Replicas, ", ")))
	}
	if r.Unfence {
		what = append(what, c.Primary+" accepts writes again")
	}
	if len(what) == 0 {
		what = append(what, "nothing is detached any more; the stale intent is superseded")
	}
	r.Why = fmt.Sprintf("a failover stopped the replicas' IO threads and neither promoted nor undid it, and the primary %s answers: %s",
		c.Primary, strings.Join(what, "; "))
	return r
}

// seedRepair commits the seed when it answers as the only writable
// primary; nil when observation disagrees.
func seedRepair(in StewardInput) []Repair {
	c := in.Committed
	var replicas []string
	for _, n := range in.Nodes {
		o, ok := n.answering()
		if !ok || n.Address == c.Primary {
			continue
		}
		if o.Role == probe.RolePrimary && !o.ReadOnly {
			return nil // two writable nodes: observe, don't act (§5.9)
		}
		if o.Role == probe.RoleReplica && probe.MapAddress(in.AddressMap, o.Primary) == c.Primary {
			replicas = append(replicas, n.Address)
		}
	}
	slices.Sort(replicas)
	return []Repair{{Kind: RepairCommitSeed, Target: c.Primary, Replicas: replicas,
		Why: fmt.Sprintf("nothing committed yet: the seed %s answers as the primary with %d %s", c.Primary,
			len(replicas), plural(len(replicas), "replica", "replicas"))}}
}

// routeRepair appends the route repair to out when the route needs one.
func routeRepair(in StewardInput, out []Repair) []Repair {
	if in.RouteKnown && in.RouteNeedsWrite {
		r := Repair{Kind: RepairRoute, Target: TargetRouting, Why: in.RouteWhy}
		if in.RoutePrimary != in.Committed.Primary {
			r.OldPrimary = in.RoutePrimary
		}
		out = append(out, r)
	}
	return out
}

// StewardInput is what RedisRepairs decides from.
type StewardInput struct {
	Cluster   string    `json:"cluster"`
	Committed Committed `json:"committed"`
	Nodes     []Node    `json:"nodes"`
	// AddressMap translates reported addresses to node names.
	AddressMap map[string]string `json:"address_map,omitempty"`
	// SelfFence is the configured self-fence; MinReplicas 0 when disabled.
	SelfFence SelfFence `json:"self_fence"`
	// Heartbeat is repl-ping-replica-period to keep; 0 when unmanaged.
	Heartbeat time.Duration `json:"heartbeat_ns"`
	// RouteKnown: the routing Redis answered the last read. RouteNeedsWrite
	// and RouteWhy are then route.NeedsWrite's answer for the committed
	// config, and RoutePrimary the stored entry's primary ("" when absent).
	RouteKnown      bool   `json:"route_known"`
	RouteNeedsWrite bool   `json:"route_needs_write"`
	RouteWhy        string `json:"route_why,omitempty"`
	RoutePrimary    string `json:"route_primary,omitempty"`
	// Detached (MySQL) is the old primary of the fleet's last intent when
	// that is a failover's stop-io, neither promoted nor undone since; ""
	// otherwise.
	Detached string `json:"detached,omitempty"`
	// PendingTarget (MySQL) is the target of the fleet's last intent when
	// that is a failover's promote (or later) step not committed: it may
	// be a writable primary already, which only a failover rolling
	// forward may settle; the steward leaves it alone.
	PendingTarget string `json:"pending_target,omitempty"`
}

// Repair is one thing a steward lease does.
type Repair struct {
	Kind   string `json:"kind"`
	Target string `json:"target"`
	// Primary is the node to replicate (demote, repoint).
	Primary string `json:"primary,omitempty"`
	// MinReplicas and MaxLag: the self-fence to set.
	MinReplicas int           `json:"min_replicas,omitempty"`
	MaxLag      time.Duration `json:"max_lag_ns,omitempty"`
	// Period: the heartbeat to set.
	Period time.Duration `json:"period_ns,omitempty"`
	// Errant: the transactions a returning MySQL primary has that the
	// primary lacks.
	Errant string `json:"errant,omitempty"`
	// Unfence (undo-detach): the primary is read-only and accepts writes
	// again.
	Unfence bool `json:"unfence,omitempty"`
	// OldPrimary: the primary the stored route names, when a route repair
	// moves it (the daemon applies RouteGate first).
	OldPrimary string `json:"old_primary,omitempty"`
	// Replicas: the replicas of a seed config to commit.
	Replicas []string `json:"replicas,omitempty"`
	// ExtraOffset: bytes a returning primary holds beyond the point the
	// new primary left its history, lost when it is demoted; -1 when its
	// history cannot be compared (it restarted empty, or the new primary's
	// replid2 is not its replid).
	ExtraOffset int64  `json:"extra_offset,omitempty"`
	Why         string `json:"why"`
}

func (r Repair) String() string { return r.Kind + " " + r.Target + ": " + r.Why }

// RedisRepairs lists what a steward lease should repair in a Redis
// cluster, in the order to do it: first the roles (demote a returning
// primary, repoint strays: DESIGN.md §5.8), then settings (self-fence,
// heartbeats), then the route. It never changes the primary: only a
// failover or operator lease may. It acts only on what it observes
// answering: a node that does not answer is left alone. With nothing
// committed yet, it commits the seed when observation agrees (the seed is
// a writable primary and no other node is), and otherwise only reports.
func RedisRepairs(in StewardInput) []Repair {
	c := in.Committed
	byAddr := map[string]Node{}
	for _, n := range in.Nodes {
		byAddr[n.Address] = n
	}
	primaryObs, primaryUp := byAddr[c.Primary].answering()
	if !primaryUp || primaryObs.Role != probe.RolePrimary || primaryObs.Redis == nil {
		return nil // nothing to repair against: a failover's business, or a person's
	}
	var out []Repair
	if c.Epoch == 0 {
		return seedRepair(in)
	}

	primaryFacts := primaryObs.Redis
	for _, n := range in.Nodes {
		o, ok := n.answering()
		if !ok || n.Address == c.Primary || !c.Member(n.Address) {
			continue
		}
		switch {
		case o.Role == probe.RolePrimary:
			extra := int64(-1)
			if primaryFacts.ReplID2 == o.Redis.ReplID && primaryFacts.SecondOffset >= 0 {
				extra = max(o.Redis.Offset-primaryFacts.SecondOffset, 0)
			}
			why := fmt.Sprintf("answers as a primary at epoch %d whose primary is %s", c.Epoch, c.Primary)
			if extra >= 0 {
				why += fmt.Sprintf(" (%d bytes beyond the new primary's history are lost)", extra)
			} else {
				why += " (its history cannot be compared with the new primary's)"
			}
			out = append(out, Repair{Kind: RepairDemote, Target: n.Address, Primary: c.Primary, ExtraOffset: extra, Why: why})
		case o.Role == probe.RoleReplica && probe.MapAddress(in.AddressMap, o.Primary) != c.Primary:
			out = append(out, Repair{Kind: RepairRepoint, Target: n.Address, Primary: c.Primary,
				Why: fmt.Sprintf("replicates %s, not the committed primary %s", orNone(o.Primary), c.Primary)})
		}
	}

	if sf := in.SelfFence; sf.MinReplicas > 0 {
		want := c.MinReplicas(sf.MinReplicas)
		lag := int(max((sf.MaxLag+time.Second-1)/time.Second, 1))
		if want < sf.MinReplicas && onlineReplicas(primaryFacts, lag) >= sf.MinReplicas {
			out = append(out, Repair{Kind: RepairRestoreSelfFence, Target: c.Primary, MinReplicas: sf.MinReplicas, MaxLag: sf.MaxLag,
				Why: fmt.Sprintf("relaxed to min-replicas-to-write %d after a failover; %d replicas are back", want, sf.MinReplicas)})
		} else if s := primaryFacts.Settings; s != nil && (s.MinReplicasToWrite != want || s.MinReplicasMaxLagSeconds != lag) {
			out = append(out, Repair{Kind: RepairSelfFence, Target: c.Primary, MinReplicas: want, MaxLag: sf.MaxLag,
				Why: fmt.Sprintf("min-replicas-to-write %d min-replicas-max-lag %d, want %d and %d",
					s.MinReplicasToWrite, s.MinReplicasMaxLagSeconds, want, lag)})
		}
	}
	if in.Heartbeat > 0 {
		period := int(max((in.Heartbeat+time.Second-1)/time.Second, 1))
		for _, n := range in.Nodes {
			o, ok := n.answering()
			if !ok || !c.Member(n.Address) || o.Redis.Settings == nil {
				continue
			}
			if got := o.Redis.Settings.PingReplicaPeriodSeconds; got != period {
				out = append(out, Repair{Kind: RepairHeartbeat, Target: n.Address, Period: time.Duration(period) * time.Second,
					Why: fmt.Sprintf("repl-ping-replica-period %d, want %d (replica vantage needs short heartbeats)", got, period)})
			}
		}
	}
	return routeRepair(in, out)
}

// onlineReplicas counts a primary's replicas that are online and acked
// within lag seconds.
func onlineReplicas(f *probe.RedisFacts, lag int) int {
	n := 0
	for _, r := range f.Replicas {
		if r.State == "online" && r.LagSeconds <= int64(lag) {
			n++
		}
	}
	return n
}
