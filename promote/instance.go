package promote

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/gtid"
)

// InstanceAction is an operator's repair of one MySQL or MariaDB instance
// (DESIGN.md §6.6, §7: imctl instance rejoin|fence|unfence), carried out by
// the daemon under an operator lease.
type InstanceAction string

// The instance actions.
const (
	// ActionRejoin makes a node with nothing the committed primary lacks a
	// replica of it: fence, then repoint by GTID (MASTER_DEMOTE_TO_SLAVE=1
	// on MariaDB when it answers as a primary), threads checked.
	ActionRejoin InstanceAction = "rejoin"
	// ActionFence sets read_only=ON (MySQL: super_read_only too) and kills
	// the application sessions.
	ActionFence InstanceAction = "fence"
	// ActionUnfence sets read_only=OFF on the committed primary.
	ActionUnfence InstanceAction = "unfence"
)

// InstanceActions lists the actions, in the order the API documents them.
var InstanceActions = []InstanceAction{ActionRejoin, ActionFence, ActionUnfence}

// ParseInstanceAction reads an action's name.
func ParseInstanceAction(s string) (InstanceAction, error) {
	for _, a := range InstanceActions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("instance action %q: want rejoin, fence or unfence", s)
}

// InstanceInput is what DecideInstance decides from: the instance and the
// committed primary as read right before acting (or, for a quick refusal
// before the lease, as last probed).
type InstanceInput struct {
	Action   InstanceAction `json:"action"`
	Instance string         `json:"instance"`
	// Primary is the committed primary (the seed while nothing is
	// committed).
	Primary string `json:"primary"`
	// Force allows fencing the committed primary.
	Force bool `json:"force,omitempty"`
	// Node is the instance's facts; nil when it did not answer, NodeErr
	// then says why.
	Node    *probe.MySQLFacts `json:"node,omitempty"`
	NodeErr string            `json:"node_err,omitempty"`
	// PrimaryFacts are the committed primary's; nil when it did not
	// answer (PrimaryErr says why). Only rejoin needs them.
	PrimaryFacts *probe.MySQLFacts `json:"primary_facts,omitempty"`
	PrimaryErr   string            `json:"primary_err,omitempty"`
	// AddressMap translates a channel's source to an instance name.
	AddressMap map[string]string `json:"address_map,omitempty"`
}

// InstanceDecision says whether an action may go ahead, and why not.
type InstanceDecision struct {
	Action   InstanceAction `json:"action"`
	Instance string         `json:"instance"`
	// Allowed: carry it out. When neither Allowed nor Done, the action is
	// refused and Why says why.
	Allowed bool `json:"allowed"`
	// Done: nothing to do, it is already so (Why says how).
	Done bool   `json:"done"`
	Why  string `json:"why"`
	// Demote (rejoin): the node answers as a primary, so it is repointed
	// with MASTER_DEMOTE_TO_SLAVE=1 on MariaDB (its own transactions move
	// into its replication position).
	Demote bool `json:"demote,omitempty"`
	// Errant (rejoin refused): the transactions the node has that the
	// primary lacks, and Binlog how to read them out of the node's binary
	// log: mariadb-binlog --start-position/--stop-position per range, or
	// mysqlbinlog --include-gtids (DESIGN.md §6.6; runbook
	// ErrantReturningPrimary).
	Errant string   `json:"errant,omitempty"`
	Binlog []string `json:"binlog,omitempty"`
	// Warning is what a person must know about an allowed action.
	Warning string `json:"warning,omitempty"`
}

// Refused says whether the action is refused.
func (d InstanceDecision) Refused() bool { return !d.Allowed && !d.Done }

// DecideInstance says whether an operator's action on one instance may go
// ahead:
//
//   - rejoin: refused for the committed primary, a node that does not
//     answer, while the committed primary does not answer, and for a node
//     with transactions the primary lacks (the errant GTIDs are named, as
//     ranges for mariadb-binlog or a set for mysqlbinlog); nothing to do
//     when it already replicates from the primary with both threads
//     running.
//   - fence: any instance that answers; the committed primary only with
//     Force, since that stops every write to the cluster.
//   - unfence: only the committed primary (a writable non-primary is what
//     WritableNonPrimary flags, DESIGN.md §6.4), and not while it
//     replicates from another node; nothing to do when it is writable.
func DecideInstance(in InstanceInput) InstanceDecision {
	d := InstanceDecision{Action: in.Action, Instance: in.Instance}
	refuse := func(why string, args ...any) InstanceDecision {
		d.Allowed, d.Done, d.Why = false, false, fmt.Sprintf(why, args...)
		return d
	}
	if in.Node == nil {
		return refuse("%s does not answer (%s): nothing is done to a node that cannot be checked first", in.Instance, orDash(in.NodeErr))
	}
	ch, hasChannel := defaultChannel(in.Node)
	switch in.Action {
	case ActionRejoin:
		if in.Instance == in.Primary {
			return refuse("%s is the committed primary: there is nothing to rejoin it to", in.Instance)
		}
		if hasChannel && ch.IO == probe.IORunning && ch.SQLRunning && probe.MapAddress(in.AddressMap, ch.Source) == in.Primary {
			d.Done, d.Why = true, fmt.Sprintf("%s already replicates from the primary %s, both threads running: nothing to do", in.Instance, in.Primary)
			return d
		}
		if in.PrimaryFacts == nil {
			return refuse("the committed primary %s does not answer (%s): there is nothing to rejoin %s to now", in.Primary, orDash(in.PrimaryErr), in.Instance)
		}
		errant, binlog, err := Errant(in.Node, in.PrimaryFacts)
		if err != nil {
			return refuse("the GTID state of %s cannot be compared with the primary %s's: %v", in.Instance, in.Primary, err)
		}
		if errant != "" {
			d = refuse("%s has transactions the primary %s lacks (%s): rejoined, its replication would stop with error 1236 or silently diverge; "+
				"discard them (read them with %s) or rebuild it from %s, then rejoin (runbook ErrantReturningPrimary)",
				in.Instance, in.Primary, errant, strings.Join(binlog, "; "), in.Primary)
			d.Errant, d.Binlog = errant, binlog
			return d
		}
		d.Demote = needsDemote(in.Node, hasChannel)
		how := "repointed"
		if d.Demote {
			how = "repointed with MASTER_DEMOTE_TO_SLAVE=1 (it answers as a primary)"
		}
		d.Allowed, d.Why = true, fmt.Sprintf("%s has nothing the primary %s lacks: it is fenced, %s by GTID, and its threads checked", in.Instance, in.Primary, how)
		return d

	case ActionFence:
		if in.Instance == in.Primary && !in.Force {
			return refuse("%s is the committed primary: fencing it stops every write to the cluster until `imctl instance unfence`; "+
				"force it (imctl instance fence --force) if that is what you want", in.Instance)
		}
		d.Allowed, d.Why = true, fmt.Sprintf("%s is set read-only and its application sessions are killed", in.Instance)
		if ro := in.Node.ReadOnly && (in.Node.Flavor != probe.FlavorMySQL || in.Node.SuperReadOnly); ro {
			d.Why = fmt.Sprintf("%s is read-only already: set again and its application sessions killed", in.Instance)
		}
		if in.Instance == in.Primary {
			d.Warning = fmt.Sprintf("%s is the committed primary: the cluster takes no writes until `imctl instance unfence`", in.Instance)
		}
		return d

	case ActionUnfence:
		if in.Instance != in.Primary {
			return refuse("%s is not the committed primary (%s): a writable non-primary is what WritableNonPrimary flags, its writes are lost or diverge; "+
				"only the primary is unfenced (a returning old primary rejoins: imctl instance rejoin)", in.Instance, in.Primary)
		}
		if hasChannel && (ch.IO != probe.IOStopped || ch.SQLRunning) {
			return refuse("the primary %s replicates from %s (PrimaryIsReplica): made writable, its data would diverge from its source's", in.Instance, ch.Source)
		}
		if !in.Node.ReadOnly && !in.Node.SuperReadOnly {
			d.Done, d.Why = true, fmt.Sprintf("the primary %s is writable already: nothing to do", in.Instance)
			return d
		}
		d.Allowed, d.Why = true, fmt.Sprintf("the primary %s is set writable (read_only=OFF)", in.Instance)
		return d
	}
	return refuse("unknown action %q: want rejoin, fence or unfence", in.Action)
}

// defaultChannel is the node's default replication channel (name ""),
// the one the steps act on; false when it has none (it answers as a
// primary).
func defaultChannel(f *probe.MySQLFacts) (probe.Channel, bool) {
	for _, c := range f.Channels {
		if c.Name == "" {
			return c, true
		}
	}
	return probe.Channel{}, false
}

// Errant says what node has that primary lacks, as ExtraTransactions does
// ("" when nothing), and how to read those transactions out of node's
// binary log: on MariaDB one "--start-position=D-S-N --stop-position=D-S-M"
// per range, for mariadb-binlog (10.8+: a start GTID is exclusive, a stop
// GTID inclusive); on MySQL "--include-gtids=SET", for mysqlbinlog.
func Errant(node, primary *probe.MySQLFacts) (string, []string, error) {
	if node.Flavor == probe.FlavorMySQL {
		extra, err := ExtraTransactions(node, primary)
		if err != nil || extra == "" {
			return "", nil, err
		}
		return extra, []string{"--include-gtids=" + strings.ReplaceAll(extra, "\n", "")}, nil
	}
	a, err := gtid.ParseState(node.GTIDBinlogState)
	if err != nil {
		return "", nil, err
	}
	b, err := gtid.ParseState(primary.GTIDBinlogState)
	if err != nil {
		return "", nil, err
	}
	var parts, binlog []string
	for _, r := range a.Subtract(b) {
		parts = append(parts, r.String())
		arg := "--stop-position=" + triple(r.Domain, r.Server, r.Last)
		if r.First > 1 {
			arg = "--start-position=" + triple(r.Domain, r.Server, r.First-1) + " " + arg
		}
		binlog = append(binlog, arg)
	}
	return strings.Join(parts, ", "), binlog, nil
}

func triple(domain, server uint32, seq uint64) string {
	return strconv.FormatUint(uint64(domain), 10) + "-" + strconv.FormatUint(uint64(server), 10) + "-" + strconv.FormatUint(seq, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// needsDemote says whether a MariaDB node rejoins with
// MASTER_DEMOTE_TO_SLAVE=1: when its binary log has transactions its
// replication position lacks (it wrote as a primary), which the flag adds
// to gtid_slave_pos so it asks its new source only for what follows them.
// Whether it still has a channel (a leftover, stopped) does not tell.
// MySQL positions by gtid_executed and needs no flag.
func needsDemote(n *probe.MySQLFacts, hasChannel bool) bool {
	if n.Flavor == probe.FlavorMySQL {
		return false
	}
	binlog, err1 := gtid.ParsePosition(n.GTIDBinlogPos)
	slave, err2 := gtid.ParsePosition(n.GTIDSlavePos)
	if err1 != nil || err2 != nil {
		return !hasChannel
	}
	return !slave.Contains(binlog)
}
